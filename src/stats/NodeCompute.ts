/**
 * The node's CPU compute as Nomad counts it, for `total_ticks`: the total MHz of every core and the number of
 * cores. Nomad's rules (hashicorp/nomad client/lib/numalib/topology.go, `Topology.TotalCompute`, `NumCores`,
 * `Core.MHz`): the client's `cpu_total_compute` override wins when set; otherwise the sum over all cores (disabled
 * ones included) of each core's base speed, else its max speed, else its guessed speed; every core counts.
 */
import { Option } from "effect"
import type { ClientTopology, ClientTopologyCore } from "../gen/plugins/base/proto/base.js"

export interface NodeCompute {
  readonly totalMHz: number
  readonly cores: number
}

const coreMHz = (core: ClientTopologyCore): bigint =>
  core.baseSpeed > 0n ? core.baseSpeed : core.maxSpeed > 0n ? core.maxSpeed : core.guessSpeed

/** What Nomad sent in SetConfig; none when it sent no cores (Nomad before 1.7, tests). */
export const fromTopology = (topology: ClientTopology | undefined): Option.Option<NodeCompute> => {
  if (topology === undefined || topology.cores.length === 0) return Option.none()
  const total = topology.overrideTotalCompute > 0n
    ? topology.overrideTotalCompute
    : topology.cores.reduce((sum, core) => sum + coreMHz(core), 0n)
  return Option.some({ totalMHz: Number(total), cores: topology.cores.length })
}

/** The host's own view: one speed in MHz per logical core (0 when unknown). */
export const fromCoreSpeeds = (speedsMHz: ReadonlyArray<number>): NodeCompute => ({
  totalMHz: speedsMHz.reduce((sum, speed) => sum + Math.max(0, Math.floor(speed)), 0),
  cores: speedsMHz.length
})

/** Whether ticks can be computed at all (a host that reports no core speed cannot). */
export const isKnown = (compute: NodeCompute): boolean => compute.cores > 0 && compute.totalMHz > 0

/**
 * The `cpu MHz` of each processor in /proc/cpuinfo, in order (the speed Nomad's generic scanner guesses from, via
 * gopsutil, when sysfs has no cpufreq files — as in most VMs).
 */
export const speedsFromCpuinfo = (cpuinfo: string): ReadonlyArray<number> =>
  cpuinfo.split("\n")
    .map((line) => /^cpu MHz\s*:\s*([0-9.]+)\s*$/.exec(line)?.[1])
    .filter((value): value is string => value !== undefined)
    .map(Number)
