/**
 * Reads an evaluated job block (JobFile.ts) as Nomad's job specification: every argument and block Nomad knows is
 * accepted, misspelled ones are refused as Nomad's parser refuses them ("Unsupported argument"), values are checked
 * for their type, and Nomad's defaults fill the rest. What a client cannot do without Nomad's servers or Consul and
 * Vault (artifacts, vault, CSI volumes, Connect, dispatch) is refused with a clear message; what only concerns
 * the scheduler or a service catalog (constraints, update, services, ...) is listed in `ignored`.
 */
import { jobspecBody } from "../config/Hcl.js"
import { parseGoDuration } from "../config/Duration.js"
import { describe, isObject, toBoolValue, toNumberValue, toStringValue, type Value } from "./HclEval.js"
import type { Pos } from "./HclSyntax.js"
import {
  defaultKillTimeoutMs,
  defaultResources,
  defaultRestart,
  type Dns,
  type Group,
  type GroupNetwork,
  type HostVolume,
  type Job,
  type JobType,
  type Lifecycle,
  type Port,
  type RestartPolicy,
  type Task,
  type Template,
  type VolumeMount
} from "./Job.js"
import { type EvalAttribute, type EvalBlock, JobFileError } from "./JobFile.js"

interface Shape {
  readonly attributes: ReadonlyArray<string>
  readonly blocks: ReadonlyArray<string>
  /** Known to Nomad but refused here, with why. */
  readonly refused?: Readonly<Record<string, string>>
  /** Known to Nomad, of no effect here (scheduler, catalogs). */
  readonly ignored?: ReadonlyArray<string>
}

const outsideNomad = (what: string) => `${what} is not available outside Nomad`

class Reader {
  private readonly attrs = new Map<string, EvalAttribute>()

  constructor(readonly block: EvalBlock, readonly where: string, shape: Shape, readonly ignored: Array<string>) {
    const known = new Set([...shape.attributes, ...shape.blocks, ...Object.keys(shape.refused ?? {}), ...(shape.ignored ?? [])])
    for (const a of block.attributes) {
      if (!known.has(a.name)) {
        throw new JobFileError(`Unsupported argument: an argument named ${JSON.stringify(a.name)} is not expected in ${where}${suggest(a.name, known)}`, a.pos)
      }
      this.attrs.set(a.name, a)
    }
    for (const b of block.blocks) {
      if (!known.has(b.type)) {
        throw new JobFileError(`Unsupported block type: blocks of type ${JSON.stringify(b.type)} are not expected in ${where}${suggest(b.type, known)}`, b.pos)
      }
    }
    for (const [name, why] of Object.entries(shape.refused ?? {})) {
      const at = this.attrs.get(name)?.pos ?? block.blocks.find((b) => b.type === name)?.pos
      if (at !== undefined) throw new JobFileError(`${name} in ${where}: ${why}`, at)
    }
    for (const name of shape.ignored ?? []) {
      const at = this.attrs.get(name)?.pos ?? block.blocks.find((b) => b.type === name)?.pos
      if (at !== undefined) ignored.push(`line ${at.line}: ${name} in ${where}`)
    }
  }

  fail(detail: string, pos: Pos = this.block.pos): never {
    throw new JobFileError(`${detail} (in ${this.where})`, pos)
  }

  value(name: string): EvalAttribute | undefined {
    const a = this.attrs.get(name)
    return a === undefined || a.value === null ? undefined : a
  }

  string(name: string): string | undefined
  string(name: string, fallback: string): string
  string(name: string, fallback?: string): string | undefined {
    const a = this.value(name)
    if (a === undefined) return fallback
    const s = toStringValue(a.value)
    if (s === undefined) this.fail(`Incorrect attribute value type: ${name} must be a string, got ${describe(a.value)}`, a.pos)
    return s
  }

  number(name: string, fallback: number, whole = true): number {
    const a = this.value(name)
    if (a === undefined) return fallback
    const n = toNumberValue(a.value)
    if (n === undefined || (whole && !Number.isInteger(n))) this.fail(`Incorrect attribute value type: ${name} must be ${whole ? "a whole number" : "a number"}, got ${describe(a.value)}`, a.pos)
    return n!
  }

  bool(name: string, fallback: boolean): boolean {
    const a = this.value(name)
    if (a === undefined) return fallback
    const b = toBoolValue(a.value)
    if (b === undefined) this.fail(`Incorrect attribute value type: ${name} must be a bool, got ${describe(a.value)}`, a.pos)
    return b!
  }

  duration(name: string, fallbackMs: number): number {
    const a = this.value(name)
    if (a === undefined) return fallbackMs
    const text = toStringValue(a.value)
    const ms = typeof a.value === "string" ? parseGoDuration(a.value) : undefined
    if (ms === undefined || ms < 0) this.fail(`Invalid duration: ${name} = ${JSON.stringify(text ?? a.value)} is not a duration like "30s", "5m" or "1h30m"`, a.pos)
    return ms!
  }

  strings(name: string): ReadonlyArray<string> {
    const a = this.value(name)
    if (a === undefined) return []
    if (!Array.isArray(a.value)) this.fail(`Incorrect attribute value type: ${name} must be a list of strings, got ${describe(a.value)}`, a.pos)
    return (a.value as ReadonlyArray<Value>).map((v) => {
      const s = toStringValue(v)
      if (s === undefined) this.fail(`Incorrect attribute value type: ${name} must be a list of strings, got an element that is ${describe(v)}`, a.pos)
      return s!
    })
  }

  /** A string map written as an attribute (`env = {...}`) or as a block of attributes (`env {...}`). */
  stringMap(name: string): Readonly<Record<string, string>> {
    const out: Record<string, string> = {}
    const put = (key: string, v: Value, pos: Pos) => {
      const s = toStringValue(v)
      if (s === undefined) this.fail(`Incorrect attribute value type: ${name}.${key} must be a string, got ${describe(v)}`, pos)
      out[key] = s!
    }
    const a = this.value(name)
    if (a !== undefined) {
      if (!isObject(a.value)) this.fail(`Incorrect attribute value type: ${name} must be a map of strings, got ${describe(a.value)}`, a.pos)
      for (const [k, v] of Object.entries(a.value as Record<string, Value>)) put(k, v, a.pos)
    }
    for (const b of this.blocks(name)) {
      if (b.blocks.length > 0) this.fail(`Unexpected block in ${name}: ${name} holds only key = value pairs`, b.blocks[0]!.pos)
      for (const attr of b.attributes) put(attr.name, attr.value, attr.pos)
    }
    return out
  }

  blocks(type: string): ReadonlyArray<EvalBlock> {
    return this.block.blocks.filter((b) => b.type === type)
  }

  one(type: string): EvalBlock | undefined {
    const found = this.blocks(type)
    if (found.length > 1) this.fail(`Duplicate ${type} block: only one ${type} block is allowed, the first is at line ${found[0]!.pos.line}`, found[1]!.pos)
    return found[0]
  }

  oneOf(values: ReadonlyArray<string>, name: string, fallback: string): string {
    const v = this.string(name, fallback)
    if (!values.includes(v)) this.fail(`Invalid ${name} ${JSON.stringify(v)}: expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}`, this.value(name)?.pos)
    return v
  }
}

/** " (did you mean "x"?)" for a near miss. */
const suggest = (name: string, known: ReadonlySet<string>): string => {
  let best: string | undefined
  let bestDistance = 3
  for (const k of known) {
    const d = distance(name, k)
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best === undefined ? "" : `; did you mean ${JSON.stringify(best)}?`
}

export const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

const jobShape: Shape = {
  attributes: ["region", "namespace", "id", "name", "type", "priority", "all_at_once", "datacenters", "node_pool", "meta", "consul_token", "consul_namespace", "vault_token", "vault_namespace", "nomad_token_id"],
  blocks: ["group", "meta"],
  refused: {
    periodic: "periodic jobs are launched on a schedule by Nomad's servers; run the job without its periodic block",
    parameterized: "parameterized jobs are dispatched by Nomad's servers; run the job without its parameterized block",
    vault: outsideNomad("Vault"),
    multiregion: outsideNomad("multiregion deployment"),
    task: "a task block belongs inside a group"
  },
  ignored: ["constraint", "affinity", "spread", "update", "reschedule", "migrate", "ui", "priority", "all_at_once", "node_pool", "consul_token", "consul_namespace", "vault_token", "vault_namespace", "nomad_token_id"]
}

const groupShape: Shape = {
  attributes: ["count", "shutdown_delay", "meta"],
  blocks: ["task", "network", "restart", "volume", "meta", "ephemeral_disk"],
  refused: {
    consul: outsideNomad("Consul"),
    vault: outsideNomad("Vault")
  },
  ignored: [
    "constraint", "affinity", "spread", "update", "migrate", "reschedule", "scaling", "service", "disconnect", "ephemeral_disk",
    "stop_after_client_disconnect", "max_client_disconnect", "prevent_reschedule_on_lost"
  ]
}

const taskShape: Shape = {
  attributes: ["driver", "user", "kill_timeout", "kill_signal", "leader", "shutdown_delay", "meta", "env", "kind"],
  blocks: ["config", "env", "meta", "resources", "lifecycle", "restart", "template", "volume_mount", "logs"],
  refused: {
    artifact: outsideNomad("artifact (Nomad's go-getter downloads)"),
    vault: outsideNomad("Vault"),
    consul: outsideNomad("Consul"),
    dispatch_payload: outsideNomad("dispatch_payload (dispatched jobs)"),
    csi_plugin: outsideNomad("csi_plugin"),
    identity: outsideNomad("workload identity"),
    action: outsideNomad("actions")
  },
  ignored: ["service", "constraint", "affinity", "scaling", "kind"]
}

const restartPolicy = (r: Reader, fallback: RestartPolicy): RestartPolicy => {
  const b = r.one("restart")
  if (b === undefined) return fallback
  const rr = new Reader(b, `the restart block of ${r.where}`, { attributes: ["attempts", "interval", "delay", "mode", "render_templates"], blocks: [] }, r.ignored)
  const policy = {
    attempts: rr.number("attempts", fallback.attempts),
    intervalMs: rr.duration("interval", fallback.intervalMs),
    delayMs: rr.duration("delay", fallback.delayMs),
    mode: rr.oneOf(["fail", "delay"], "mode", fallback.mode) as "fail" | "delay"
  }
  if (policy.attempts < 0) rr.fail("Invalid restart attempts: attempts must not be negative", rr.value("attempts")?.pos)
  return policy
}

const network = (r: Reader, b: EvalBlock): GroupNetwork => {
  const where = `the network block of ${r.where}`
  const n = new Reader(b, where, {
    attributes: ["mode", "hostname"],
    blocks: ["port", "dns"],
    refused: { cni: outsideNomad("CNI plugin arguments") },
    ignored: ["mbits"]
  }, r.ignored)
  const mode = n.string("mode", "host")
  if (mode.startsWith("cni/")) n.fail(`Unsupported network mode ${JSON.stringify(mode)}: run creates Nomad's "bridge" network; use mode = "bridge" or "host"`, n.value("mode")?.pos)
  if (mode !== "host" && mode !== "bridge" && mode !== "none") n.fail(`Invalid network mode ${JSON.stringify(mode)}: expected "host", "bridge", "none" or "cni/<name>"`, n.value("mode")?.pos)
  const labels = new Set<string>()
  const ports = n.blocks("port").map((p): Port => {
    const label = p.labels[0]
    if (p.labels.length !== 1 || label === undefined) n.fail("Missing port label: a port block needs one label, its name", p.pos)
    if (labels.has(label!)) n.fail(`Duplicate port label ${JSON.stringify(label)}`, p.pos)
    labels.add(label!)
    const pr = new Reader(p, `port ${JSON.stringify(label)} of ${r.where}`, { attributes: ["static", "to", "host_network"], blocks: [] }, r.ignored)
    const staticPort = pr.value("static") === undefined ? undefined : pr.number("static", 0)
    const to = pr.value("to") === undefined ? undefined : pr.number("to", 0)
    for (const [name, v] of [["static", staticPort], ["to", to]] as const) {
      if (v !== undefined && (v < (name === "to" ? -1 : 1) || v > 65535)) pr.fail(`Invalid port ${name} = ${v}: a port is from 1 to 65535`, pr.value(name)?.pos)
    }
    if (pr.value("host_network") !== undefined) r.ignored.push(`line ${p.pos.line}: host_network of port ${JSON.stringify(label)} (ports are mapped on every host address)`)
    return { label: label!, static: staticPort, to: to === undefined || to <= 0 ? undefined : to, pos: p.pos }
  })
  const dnsBlock = n.one("dns")
  let dns: Dns | undefined
  if (dnsBlock !== undefined) {
    const d = new Reader(dnsBlock, `the dns block of ${r.where}`, { attributes: ["servers", "searches", "options"], blocks: [] }, r.ignored)
    dns = { servers: d.strings("servers"), searches: d.strings("searches"), options: d.strings("options") }
  }
  const hostname = n.string("hostname")
  if (hostname !== undefined && mode !== "bridge") n.fail("Invalid hostname: a group network hostname needs mode = \"bridge\"", n.value("hostname")?.pos)
  return { mode: mode as GroupNetwork["mode"], hostname, ports, dns, pos: b.pos }
}

const template = (r: Reader, b: EvalBlock): Template => {
  const t = new Reader(b, `a template of ${r.where}`, {
    attributes: ["data", "destination", "change_mode", "change_signal", "perms", "env", "left_delimiter", "right_delimiter", "error_on_missing_key", "splay", "uid", "gid", "once", "vault_grace"],
    blocks: ["wait"],
    refused: { source: "a template source is a file on a Nomad client; put its text in data", change_script: outsideNomad("change_script") }
  }, r.ignored)
  const destination = t.string("destination")
  if (destination === undefined || destination === "") t.fail("Missing required argument: a template needs a destination", b.pos)
  const data = t.string("data")
  if (data === undefined) t.fail("Missing template data: a template needs data (source is not available outside Nomad)", b.pos)
  const changeMode = t.oneOf(["restart", "noop", "signal", "script"], "change_mode", "restart")
  const changeSignal = t.string("change_signal")
  if (changeMode === "signal" && changeSignal === undefined) t.fail("Missing change_signal: change_mode = \"signal\" needs a change_signal", b.pos)
  const perms = t.string("perms", "0644")
  if (!/^0?[0-7]{3,4}$/.test(perms)) t.fail(`Invalid perms ${JSON.stringify(perms)}: an octal file mode like "0644"`, t.value("perms")?.pos)
  return {
    data: data!,
    destination: destination!,
    changeMode,
    changeSignal,
    perms,
    env: t.bool("env", false),
    leftDelimiter: t.string("left_delimiter", "{{"),
    rightDelimiter: t.string("right_delimiter", "}}"),
    errorOnMissingKey: t.bool("error_on_missing_key", false),
    pos: b.pos
  }
}

const task = (g: Reader, b: EvalBlock, groupRestart: RestartPolicy): Task => {
  const name = b.labels[0]
  if (b.labels.length !== 1 || name === undefined) g.fail("Missing name for task: a task block needs exactly one label, its name", b.pos)
  const where = `task ${JSON.stringify(name)}`
  const t = new Reader(b, where, taskShape, g.ignored)
  const driver = t.string("driver")
  if (driver === undefined || driver === "") t.fail("Missing driver: a task needs a driver", b.pos)
  const configs = t.blocks("config")
  if (configs.length > 1) t.fail(`Duplicate config block: only one config block is allowed, the first is at line ${configs[0]!.pos.line}`, configs[1]!.pos)
  const config = configs[0]
  const configPositions: Record<string, Pos> = {}
  for (const a of config?.attributes ?? []) configPositions[a.name] = a.pos
  for (const c of config?.blocks ?? []) configPositions[c.type] ??= c.pos
  const resourcesBlock = t.one("resources")
  let resources = defaultResources
  if (resourcesBlock !== undefined) {
    const rr = new Reader(resourcesBlock, `the resources of ${where}`, {
      attributes: ["cpu", "cores", "memory", "memory_max"],
      blocks: [],
      refused: { device: outsideNomad("device plugins"), network: "task networks were removed from Nomad; use a group network block" },
      ignored: ["numa", "secrets", "disk", "iops"]
    }, g.ignored)
    resources = {
      cpu: rr.number("cpu", defaultResources.cpu),
      cores: rr.number("cores", 0),
      memoryMB: rr.number("memory", defaultResources.memoryMB),
      memoryMaxMB: rr.number("memory_max", 0)
    }
    if (resources.memoryMB < 10) rr.fail(`Invalid memory: the minimum is 10 MB, got ${resources.memoryMB}`, rr.value("memory")?.pos)
    if (resources.memoryMaxMB !== 0 && resources.memoryMaxMB < resources.memoryMB) {
      rr.fail(`Invalid memory_max: it must be at least memory (${resources.memoryMB}), got ${resources.memoryMaxMB}`, rr.value("memory_max")?.pos)
    }
  }
  const lifecycleBlock = t.one("lifecycle")
  let lifecycle: Lifecycle | undefined
  if (lifecycleBlock !== undefined) {
    const l = new Reader(lifecycleBlock, `the lifecycle of ${where}`, { attributes: ["hook", "sidecar"], blocks: [] }, g.ignored)
    const hook = l.value("hook") === undefined ? l.fail("Missing required argument: a lifecycle block needs a hook") : l.oneOf(["prestart", "poststart", "poststop"], "hook", "prestart")
    lifecycle = { hook: hook as Lifecycle["hook"], sidecar: l.bool("sidecar", false) }
  }
  const logs = t.one("logs")
  let logsDisabled = false
  if (logs !== undefined) {
    const l = new Reader(logs, `the logs of ${where}`, { attributes: ["disabled", "enabled", "max_files", "max_file_size"], blocks: [] }, g.ignored)
    logsDisabled = l.bool("disabled", false) || !l.bool("enabled", true)
  }
  const volumeMounts = t.blocks("volume_mount").map((v): VolumeMount => {
    const vm = new Reader(v, `a volume_mount of ${where}`, { attributes: ["volume", "destination", "read_only", "propagation_mode", "selinux_label"], blocks: [] }, g.ignored)
    const volume = vm.string("volume")
    const destination = vm.string("destination")
    if (volume === undefined || destination === undefined) vm.fail("Missing required argument: a volume_mount needs volume and destination", v.pos)
    return {
      volume: volume!,
      destination: destination!,
      readOnly: vm.bool("read_only", false),
      propagationMode: vm.oneOf(["private", "host-to-task", "bidirectional"], "propagation_mode", "private"),
      pos: v.pos
    }
  })
  const killSignal = t.string("kill_signal", "")
  return {
    name: name!,
    driver: driver!,
    config: config === undefined ? {} : jobspecBody(config),
    configPositions,
    env: t.stringMap("env"),
    meta: t.stringMap("meta"),
    user: t.string("user", ""),
    resources,
    killSignal,
    killTimeoutMs: t.duration("kill_timeout", defaultKillTimeoutMs),
    shutdownDelayMs: t.duration("shutdown_delay", 0),
    lifecycle,
    restart: restartPolicy(t, groupRestart),
    templates: t.blocks("template").map((x) => template(t, x)),
    volumeMounts,
    logsDisabled,
    leader: t.bool("leader", false),
    pos: b.pos
  }
}

const group = (j: Reader, b: EvalBlock, type: JobType): Group => {
  const name = b.labels[0]
  if (b.labels.length !== 1 || name === undefined) j.fail("Missing name for group: a group block needs exactly one label, its name", b.pos)
  const g = new Reader(b, `group ${JSON.stringify(name)}`, groupShape, j.ignored)
  const count = g.number("count", 1)
  if (count < 0) g.fail(`Invalid count ${count}: a group count must not be negative`, g.value("count")?.pos)
  const restart = restartPolicy(g, defaultRestart(type))
  const networks = g.blocks("network")
  if (networks.length > 1) g.fail("Only one network block is allowed in a group", networks[1]!.pos)
  const volumes: Record<string, HostVolume> = {}
  for (const v of g.blocks("volume")) {
    const label = v.labels[0]
    if (v.labels.length !== 1 || label === undefined) g.fail("Missing name for volume: a volume block needs one label, its name", v.pos)
    const vr = new Reader(v, `volume ${JSON.stringify(label)}`, {
      attributes: ["type", "source", "read_only"],
      blocks: [],
      refused: { mount_options: outsideNomad("CSI volumes"), access_mode: outsideNomad("CSI volumes"), attachment_mode: outsideNomad("CSI volumes"), per_alloc: outsideNomad("per_alloc volumes") }
    }, j.ignored)
    const volumeType = vr.string("type", "host")
    if (volumeType !== "host") vr.fail(`Unsupported volume type ${JSON.stringify(volumeType)}: ${outsideNomad("CSI volumes")}; use a host volume`, vr.value("type")?.pos)
    const source = vr.string("source")
    if (source === undefined) vr.fail("Missing required argument: a host volume needs a source (the client's host_volume name)", v.pos)
    volumes[label!] = { name: label!, source: source!, readOnly: vr.bool("read_only", false), pos: v.pos }
  }
  const taskNames = new Set<string>()
  const tasks = g.blocks("task").map((t) => {
    const decoded = task(g, t, restart)
    if (taskNames.has(decoded.name)) g.fail(`Duplicate task ${JSON.stringify(decoded.name)}: task names must be unique in a group`, t.pos)
    taskNames.add(decoded.name)
    for (const m of decoded.volumeMounts) {
      if (volumes[m.volume] === undefined) g.fail(`volume_mount of task ${JSON.stringify(decoded.name)}: the group has no volume ${JSON.stringify(m.volume)}`, m.pos)
    }
    return decoded
  })
  if (tasks.length === 0) g.fail("Missing tasks: a group needs at least one task", b.pos)
  if (tasks.every((t) => t.lifecycle !== undefined && !t.lifecycle.sidecar)) {
    g.fail("Missing main task: a group needs a task without a lifecycle block (or a sidecar) to run", b.pos)
  }
  return {
    name: name!,
    count,
    meta: g.stringMap("meta"),
    network: networks[0] === undefined ? undefined : network(g, networks[0]),
    volumes,
    restart,
    shutdownDelayMs: g.duration("shutdown_delay", 0),
    tasks,
    pos: b.pos
  }
}

/** The job of an evaluated job block. */
export const readJob = (block: EvalBlock): Job => {
  const ignored: Array<string> = []
  const id = block.labels[0]!
  const j = new Reader(block, `job ${JSON.stringify(id)}`, jobShape, ignored)
  const type = j.oneOf(["service", "batch", "sysbatch", "system"], "type", "service") as JobType
  const groupNames = new Set<string>()
  const groups = j.blocks("group").map((b) => {
    const g = group(j, b, type)
    if (groupNames.has(g.name)) j.fail(`Duplicate group ${JSON.stringify(g.name)}: group names must be unique in a job`, b.pos)
    groupNames.add(g.name)
    return g
  })
  if (groups.length === 0) j.fail("Missing groups: a job needs at least one group", block.pos)
  const datacenters = j.strings("datacenters")
  return {
    id: j.string("id", id),
    name: j.string("name", id),
    type,
    namespace: j.string("namespace", "default"),
    region: j.string("region", "global"),
    datacenters: datacenters.length === 0 ? ["*"] : datacenters,
    meta: j.stringMap("meta"),
    groups,
    ignored
  }
}
