/**
 * The node's compute when Nomad did not send its CPU topology in SetConfig (Nomad before 1.7, tests): what the
 * host says — Node's per-core speeds, and /proc/cpuinfo's `cpu MHz` where Node reports 0 (hosts without cpufreq,
 * as most VMs). Nomad's own detection prefers sysfs base/max frequencies, so the two can differ slightly.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { fromCoreSpeeds, type NodeCompute, speedsFromCpuinfo } from "../../src/stats/NodeCompute.js"

export const hostCompute: Effect.Effect<NodeCompute> = Effect.sync(() => {
  const cores = os.cpus()
  const cpuinfo = cores.some((core) => core.speed <= 0)
    ? speedsFromCpuinfo(readOrEmpty("/proc/cpuinfo"))
    : []
  return fromCoreSpeeds(cores.map((core, index) => (core.speed > 0 ? core.speed : cpuinfo[index] ?? 0)))
})

const readOrEmpty = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}
