/**
 * CPU usage between two readings of cumulative CPU time, by Nomad's `cpustats.Tracker`
 * (hashicorp/nomad client/lib/cpustats/stats.go):
 *
 *   percent = Δcpu-time / Δwall-time × 100        (percent of one core: a task busy on two cores reports 200)
 *   ticks   = percent / 100 × TotalCompute / NumCores   (`TicksConsumed`: MHz consumed, what Nomad shows)
 *
 * and, like the tracker, 0 when either delta is not positive — a counter that went backwards (the cgroup was
 * re-created) or a reading that is not newer. The next reading is measured from the later one.
 */
import type { NodeCompute } from "./NodeCompute.js"

/** Percent of one core spent between two readings of a cumulative CPU time, `wallNs` apart. Never negative. */
export const percent = (previousNs: bigint, currentNs: bigint, wallNs: number): number => {
  const cpuNs = currentNs - previousNs
  if (!(wallNs > 0) || cpuNs <= 0n) return 0
  // The delta is exact as a bigint; only the (small) delta is converted to a float.
  return (Number(cpuNs) / wallNs) * 100
}

/** MHz consumed at `percentOfCore`, as `TicksConsumed` computes it; 0 when the node's compute is unknown. */
export const ticks = (percentOfCore: number, compute: NodeCompute): number =>
  compute.cores > 0 ? (percentOfCore / 100) * compute.totalMHz / compute.cores : 0
