/**
 * A Nomad job as `containerd-driver run` runs it: the parts of Nomad's job specification a client acts on
 * (groups and their count, network, volumes, restart policy; tasks with their driver config, env, resources,
 * kill settings, lifecycle, templates, volume mounts and logs), with Nomad's defaults filled in. Read from HCL by
 * JobSpec.ts and from Nomad's JSON job form by JobJson.ts. Positions point into the job file for messages.
 */
import type { HclBody } from "../config/Hcl.js"
import type { Pos } from "./HclSyntax.js"

export type JobType = "service" | "batch" | "sysbatch" | "system"

export interface RestartPolicy {
  readonly attempts: number
  readonly intervalMs: number
  readonly delayMs: number
  readonly mode: "fail" | "delay"
}

export interface Port {
  readonly label: string
  /** A static host port; a dynamic one is chosen when absent. */
  readonly static: number | undefined
  /** The port inside the group's network namespace (bridge mode); the host port when absent. */
  readonly to: number | undefined
  readonly pos: Pos | undefined
}

export interface Dns {
  readonly servers: ReadonlyArray<string>
  readonly searches: ReadonlyArray<string>
  readonly options: ReadonlyArray<string>
}

export interface GroupNetwork {
  readonly mode: "host" | "bridge" | "none"
  readonly hostname: string | undefined
  readonly ports: ReadonlyArray<Port>
  readonly dns: Dns | undefined
  readonly pos: Pos | undefined
}

export interface HostVolume {
  readonly name: string
  /** The client's host volume name. */
  readonly source: string
  readonly readOnly: boolean
  readonly pos: Pos | undefined
}

export interface VolumeMount {
  readonly volume: string
  readonly destination: string
  readonly readOnly: boolean
  readonly propagationMode: string
  readonly pos: Pos | undefined
}

export interface Template {
  /** Inline template text; `source` (a file on the client) is refused when read. */
  readonly data: string
  readonly destination: string
  readonly changeMode: string
  readonly changeSignal: string | undefined
  readonly perms: string
  /** Whether the rendered file is read into the task's environment. */
  readonly env: boolean
  readonly leftDelimiter: string
  readonly rightDelimiter: string
  readonly errorOnMissingKey: boolean
  readonly pos: Pos | undefined
}

export interface Lifecycle {
  readonly hook: "prestart" | "poststart" | "poststop"
  readonly sidecar: boolean
}

export interface Resources {
  readonly cpu: number
  readonly cores: number
  readonly memoryMB: number
  readonly memoryMaxMB: number
}

export interface Task {
  readonly name: string
  readonly driver: string
  /** The `config` block in the shape jobspec2 stores it. */
  readonly config: HclBody
  /** Where each top-level config option is written, for messages. */
  readonly configPositions: Readonly<Record<string, Pos>>
  readonly env: Readonly<Record<string, string>>
  readonly meta: Readonly<Record<string, string>>
  readonly user: string
  readonly resources: Resources
  readonly killSignal: string
  readonly killTimeoutMs: number
  readonly shutdownDelayMs: number
  readonly lifecycle: Lifecycle | undefined
  readonly restart: RestartPolicy
  readonly templates: ReadonlyArray<Template>
  readonly volumeMounts: ReadonlyArray<VolumeMount>
  readonly logsDisabled: boolean
  readonly leader: boolean
  readonly pos: Pos | undefined
}

export interface Group {
  readonly name: string
  readonly count: number
  readonly meta: Readonly<Record<string, string>>
  readonly network: GroupNetwork | undefined
  readonly volumes: Readonly<Record<string, HostVolume>>
  readonly restart: RestartPolicy
  readonly shutdownDelayMs: number
  readonly tasks: ReadonlyArray<Task>
  readonly pos: Pos | undefined
}

export interface Job {
  readonly id: string
  readonly name: string
  readonly type: JobType
  readonly namespace: string
  readonly region: string
  readonly datacenters: ReadonlyArray<string>
  readonly meta: Readonly<Record<string, string>>
  readonly groups: ReadonlyArray<Group>
  /** Parts of the job that only matter to Nomad's servers or catalogs, ignored here; one line each. */
  readonly ignored: ReadonlyArray<string>
}

/** Nomad's restart defaults by job type (structs.NewRestartPolicy). */
export const defaultRestart = (type: JobType): RestartPolicy =>
  type === "batch" || type === "sysbatch"
    ? { attempts: 3, intervalMs: 24 * 3600_000, delayMs: 15_000, mode: "fail" }
    : { attempts: 2, intervalMs: 30 * 60_000, delayMs: 15_000, mode: "fail" }

/** Nomad's task defaults. */
export const defaultResources: Resources = { cpu: 100, cores: 0, memoryMB: 300, memoryMaxMB: 0 }
export const defaultKillTimeoutMs = 5_000
/** The Nomad client's max_kill_timeout default: a task's kill_timeout is capped at it. */
export const maxKillTimeoutMs = 30_000

/** The driver this command runs. */
export const driverName = "containerd-driver"
