/**
 * Nomad's JSON job form (`nomad job run -output`, the HTTP API's `{"Job": {...}}`) read into the same Job as an HCL
 * file. Durations are nanoseconds there, names are Go's field names. Unknown fields are ignored, as Nomad's API
 * ignores them; what this command cannot run is refused as for HCL jobs.
 */
import type { HclBody } from "../config/Hcl.js"
import {
  defaultKillTimeoutMs,
  defaultResources,
  defaultRestart,
  type Group,
  type GroupNetwork,
  type HostVolume,
  type Job,
  type JobType,
  type Lifecycle,
  type RestartPolicy,
  type Task,
  type Template,
  type VolumeMount
} from "./Job.js"
import { JobFileError } from "./JobFile.js"

type Json = Record<string, unknown>

const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {})
const arr = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])
const present = (v: unknown): boolean => v !== undefined && v !== null

class At {
  constructor(readonly path: string) {}

  fail(detail: string): never {
    throw new JobFileError(`${this.path}: ${detail}`, undefined)
  }

  string(o: Json, key: string, fallback: string): string {
    const v = o[key]
    if (!present(v) || v === "") return fallback
    if (typeof v !== "string") this.fail(`${key} must be a string, got ${JSON.stringify(v)}`)
    return v as string
  }

  number(o: Json, key: string, fallback: number): number {
    const v = o[key]
    if (!present(v)) return fallback
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`${key} must be a number, got ${JSON.stringify(v)}`)
    return v as number
  }

  /** A Go duration in nanoseconds, as milliseconds. */
  nanos(o: Json, key: string, fallbackMs: number): number {
    const v = o[key]
    if (!present(v)) return fallbackMs
    if (typeof v !== "number" || v < 0) this.fail(`${key} must be a duration in nanoseconds, got ${JSON.stringify(v)}`)
    return (v as number) / 1e6
  }

  strings(o: Json, key: string): ReadonlyArray<string> {
    return arr(o[key]).map((v) => (typeof v === "string" ? v : this.fail(`${key} must be a list of strings`)))
  }

  stringMap(o: Json, key: string): Record<string, string> {
    return Object.fromEntries(Object.entries(obj(o[key])).map(([k, v]) => [k, typeof v === "string" ? v : this.fail(`${key}.${k} must be a string`)]))
  }

  refuse(o: Json, key: string, why: string) {
    const v = o[key]
    if (present(v) && !(Array.isArray(v) && v.length === 0)) this.fail(`${key}: ${why}`)
  }
}

const restart = (at: At, o: unknown, fallback: RestartPolicy): RestartPolicy => {
  if (!present(o)) return fallback
  const r = obj(o)
  const mode = at.string(r, "Mode", fallback.mode)
  if (mode !== "fail" && mode !== "delay") at.fail(`RestartPolicy.Mode must be "fail" or "delay", got ${JSON.stringify(mode)}`)
  return {
    attempts: at.number(r, "Attempts", fallback.attempts),
    intervalMs: at.nanos(r, "Interval", fallback.intervalMs),
    delayMs: at.nanos(r, "Delay", fallback.delayMs),
    mode: mode as "fail" | "delay"
  }
}

const network = (at: At, n: Json): GroupNetwork => {
  const mode = at.string(n, "Mode", "host")
  if (mode !== "host" && mode !== "bridge" && mode !== "none") at.fail(`Networks[0].Mode ${JSON.stringify(mode)} is not supported here: use "bridge" or "host"`)
  const ports = [...arr(n["ReservedPorts"]).map((p) => ({ p: obj(p), reserved: true })), ...arr(n["DynamicPorts"]).map((p) => ({ p: obj(p), reserved: false }))].map(({ p, reserved }) => ({
    label: at.string(p, "Label", ""),
    static: reserved ? at.number(p, "Value", 0) : undefined,
    to: at.number(p, "To", 0) > 0 ? at.number(p, "To", 0) : undefined,
    pos: undefined
  }))
  const dns = present(n["DNS"]) ? obj(n["DNS"]) : undefined
  return {
    mode,
    hostname: at.string(n, "Hostname", "") || undefined,
    ports,
    dns: dns === undefined ? undefined : { servers: at.strings(dns, "Servers"), searches: at.strings(dns, "Searches"), options: at.strings(dns, "Options") },
    pos: undefined
  }
}

const task = (groupAt: string, t: Json, groupRestart: RestartPolicy): Task => {
  const name = typeof t["Name"] === "string" ? t["Name"] : ""
  const at = new At(`${groupAt}.Tasks[${JSON.stringify(name)}]`)
  if (name === "") at.fail("a task needs a Name")
  at.refuse(t, "Artifacts", "artifacts are not available outside Nomad")
  at.refuse(t, "Vault", "Vault is not available outside Nomad")
  at.refuse(t, "DispatchPayload", "dispatch_payload is not available outside Nomad")
  at.refuse(t, "CSIPluginConfig", "csi_plugin is not available outside Nomad")
  const r = obj(t["Resources"])
  const lifecycle = present(t["Lifecycle"]) ? obj(t["Lifecycle"]) : undefined
  const hook = lifecycle === undefined ? undefined : at.string(lifecycle, "Hook", "")
  if (hook !== undefined && hook !== "prestart" && hook !== "poststart" && hook !== "poststop") at.fail(`Lifecycle.Hook ${JSON.stringify(hook)} is not prestart, poststart or poststop`)
  const templates = arr(t["Templates"]).map((x): Template => {
    const tt = obj(x)
    if (present(tt["SourcePath"]) && tt["SourcePath"] !== "") at.fail("Templates: a template source is a file on a Nomad client; put its text in EmbeddedTmpl")
    return {
      data: at.string(tt, "EmbeddedTmpl", ""),
      destination: at.string(tt, "DestPath", ""),
      changeMode: at.string(tt, "ChangeMode", "restart"),
      changeSignal: at.string(tt, "ChangeSignal", "") || undefined,
      perms: at.string(tt, "Perms", "0644"),
      env: tt["Envvars"] === true,
      leftDelimiter: at.string(tt, "LeftDelim", "{{"),
      rightDelimiter: at.string(tt, "RightDelim", "}}"),
      errorOnMissingKey: tt["ErrMissingKey"] === true,
      pos: undefined
    }
  })
  const volumeMounts = arr(t["VolumeMounts"]).map((x): VolumeMount => {
    const v = obj(x)
    return {
      volume: at.string(v, "Volume", ""),
      destination: at.string(v, "Destination", ""),
      readOnly: v["ReadOnly"] === true,
      propagationMode: at.string(v, "PropagationMode", "private"),
      pos: undefined
    }
  })
  return {
    name,
    driver: at.string(t, "Driver", ""),
    config: obj(t["Config"]) as HclBody,
    configPositions: {},
    env: at.stringMap(t, "Env"),
    meta: at.stringMap(t, "Meta"),
    user: at.string(t, "User", ""),
    resources: {
      cpu: at.number(r, "CPU", defaultResources.cpu),
      cores: at.number(r, "Cores", 0),
      memoryMB: at.number(r, "MemoryMB", defaultResources.memoryMB),
      memoryMaxMB: at.number(r, "MemoryMaxMB", 0)
    },
    killSignal: at.string(t, "KillSignal", ""),
    killTimeoutMs: at.nanos(t, "KillTimeout", defaultKillTimeoutMs),
    shutdownDelayMs: at.nanos(t, "ShutdownDelay", 0),
    lifecycle: hook === undefined ? undefined : ({ hook, sidecar: lifecycle!["Sidecar"] === true } as Lifecycle),
    restart: restart(at, t["RestartPolicy"], groupRestart),
    templates,
    volumeMounts,
    logsDisabled: obj(t["LogConfig"])["Disabled"] === true || obj(t["LogConfig"])["Enabled"] === false,
    leader: t["Leader"] === true,
    pos: undefined
  }
}

/** The job of a JSON job document (`{"Job": {...}}` or the job object itself). */
export const readJsonJob = (json: unknown): Job => {
  const root = obj(json)
  const j = obj(root["Job"] ?? root)
  const id = typeof j["ID"] === "string" && j["ID"] !== "" ? j["ID"] : typeof j["Name"] === "string" ? j["Name"] : ""
  const at = new At("Job")
  if (id === "") at.fail("a job needs an ID or a Name")
  const type = at.string(j, "Type", "service")
  if (!["service", "batch", "sysbatch", "system"].includes(type)) at.fail(`Type ${JSON.stringify(type)} is not service, batch, sysbatch or system`)
  at.refuse(j, "Periodic", "periodic jobs are launched on a schedule by Nomad's servers")
  at.refuse(j, "ParameterizedJob", "parameterized jobs are dispatched by Nomad's servers")
  const groups = arr(j["TaskGroups"]).map((x): Group => {
    const g = obj(x)
    const name = typeof g["Name"] === "string" ? g["Name"] : ""
    const gat = new At(`Job.TaskGroups[${JSON.stringify(name)}]`)
    if (name === "") gat.fail("a group needs a Name")
    const groupRestart = restart(gat, g["RestartPolicy"], defaultRestart(type as JobType))
    const volumes: Record<string, HostVolume> = {}
    for (const [key, v] of Object.entries(obj(g["Volumes"]))) {
      const vol = obj(v)
      if (gat.string(vol, "Type", "host") !== "host") gat.fail(`Volumes.${key}: CSI volumes are not available outside Nomad`)
      volumes[key] = { name: key, source: gat.string(vol, "Source", ""), readOnly: vol["ReadOnly"] === true, pos: undefined }
    }
    const networks = arr(g["Networks"])
    const tasks = arr(g["Tasks"]).map((t) => task(gat.path, obj(t), groupRestart))
    if (tasks.length === 0) gat.fail("a group needs at least one task")
    return {
      name,
      count: gat.number(g, "Count", 1),
      meta: gat.stringMap(g, "Meta"),
      network: networks.length === 0 ? undefined : network(gat, obj(networks[0])),
      volumes,
      restart: groupRestart,
      shutdownDelayMs: gat.nanos(g, "ShutdownDelay", 0),
      tasks,
      pos: undefined
    }
  })
  if (groups.length === 0) at.fail("a job needs at least one task group")
  return {
    id,
    name: at.string(j, "Name", id),
    type: type as JobType,
    namespace: at.string(j, "Namespace", "default"),
    region: at.string(j, "Region", "global"),
    datacenters: at.strings(j, "Datacenters"),
    meta: at.stringMap(j, "Meta"),
    groups,
    ignored: []
  }
}
