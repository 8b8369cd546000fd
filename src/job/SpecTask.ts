/**
 * The task `containerd-driver spec` shows, and the StartTask message a Nomad client would send for it: the job read
 * as `containerd-driver run` reads it (HCL with variables, locals and functions, or Nomad's JSON job form; a bare
 * task `config` is a job of that one task), the task picked, its environment and config bytes built as run builds
 * them. Pure: the file's text, the node's facts and the files functions may read are given (layers/SpecCommand.ts).
 */
import { Either } from "effect"
import { type HclBody, toHclBlock } from "../config/Hcl.js"
import { hclDecode } from "../config/HclDecode.js"
import { hclSpec } from "../config/HclSpec.js"
import { taskOptions } from "../config/TaskConfig.js"
import type { TaskConfig as TaskConfigPb } from "../gen/plugins/drivers/proto/driver.js"
import { clientConfigBytes, specOptions as taskOptionNames } from "./ClientConfig.js"
import { jobFunctions } from "./HclFunctions.js"
import { defaultKillTimeoutMs, defaultResources, defaultRestart, driverName, type Group, type Job, type Task } from "./Job.js"
import { evaluateJobFile, type VariableInputs } from "./JobFile.js"
import { readJsonJob } from "./JobJson.js"
import { readJob } from "./JobSpec.js"
import { taskConfigMessage } from "./StartRequest.js"
import { type AllocInfo, type NodeInfo, nodeAttributes, taskEnv } from "./TaskEnv.js"
import { parseEnvFile, renderTemplate, TemplateError } from "./Template.js"

const asRecord = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}

/** JSON.parse turns a number beyond float64 into ±Infinity, which would then vanish; Nomad's JSON decoder refuses it. */
const finiteNumbers = (key: string, value: unknown): unknown => {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new Error(`${JSON.stringify(key)} holds a number beyond the largest a Nomad job can hold (about 1.8e308)`)
  }
  return value
}

/** A task's config on its own, as a job of that one task with Nomad's defaults (no job, group or namespace of its own). */
const bareConfigJob = (config: HclBody): Job => {
  const restart = defaultRestart("service")
  const task: Task = {
    name: "task",
    driver: driverName,
    config,
    configPositions: {},
    env: {},
    meta: {},
    user: "",
    resources: defaultResources,
    killSignal: "",
    killTimeoutMs: defaultKillTimeoutMs,
    shutdownDelayMs: 0,
    lifecycle: undefined,
    restart,
    templates: [],
    volumeMounts: [],
    logsDisabled: false,
    leader: false,
    pos: undefined
  }
  const group: Group = { name: "", count: 1, meta: {}, network: undefined, volumes: {}, restart, shutdownDelayMs: 0, tasks: [task], pos: undefined }
  return { id: "", name: "", type: "service", namespace: "default", region: "global", datacenters: ["dc1"], meta: {}, groups: [group], ignored: [] }
}

/** What a job file is read with besides its text: its variables, and the files its functions may read. */
export interface JobInputs extends VariableInputs {
  readonly files?: Parameters<typeof jobFunctions>[0]
}

/**
 * The job of a job file's text, read as `containerd-driver run` reads it (layers/RunCommand.ts loadJob): Nomad's
 * JSON job form, or HCL evaluated with its variables, locals and functions. A file that is only a task's config
 * (an HCL `config { ... }` block or body, or a JSON object of options) is a job of that one task. Throws a
 * JobFileError (with the line) or an Error with what is wrong.
 */
export const readSpecJob = (text: string, inputs: JobInputs = {}): Job => {
  if (text.trimStart().startsWith("{")) {
    let json: unknown
    try {
      json = JSON.parse(text, finiteNumbers)
    } catch (error) {
      throw new Error(`invalid JSON: ${(error as Error).message}`)
    }
    const root = asRecord(json)
    return "Job" in root || "TaskGroups" in root ? readJsonJob(root) : bareConfigJob(root as HclBody)
  }
  const evaluated = evaluateJobFile(text, jobFunctions(inputs.files), inputs)
  if (evaluated.job !== undefined) return readJob(evaluated.job)
  const root = toHclBlock(evaluated.root)
  // Just a config block's body, or a file holding `config { ... }`.
  return bareConfigJob(root.blocks.length === 1 && root.blocks[0]!.type === "config" ? root.blocks[0]!.body : root.body)
}

/** The task `spec` shows: the one named, else the job's one containerd-driver task. */
export const pickTask = (job: Job, wanted: string | undefined): Either.Either<{ readonly group: Group; readonly task: Task }, string> => {
  const tasks = job.groups.flatMap((group) => group.tasks.map((task) => ({ group, task })))
  const candidates = tasks.filter(({ task }) => (wanted === undefined ? task.driver === driverName : task.name === wanted))
  if (candidates.length === 1) return Either.right(candidates[0]!)
  if (candidates.length === 0) {
    return Either.left(
      wanted === undefined
        ? `no task with driver = "${driverName}" in the job`
        : `no task named ${JSON.stringify(wanted)} in the job (tasks: ${tasks.map(({ task }) => task.name).join(", ")})`
    )
  }
  return Either.left(`several ${driverName} tasks (${candidates.map(({ task }) => task.name).join(", ")}): choose one with --task`)
}

/** The allocation `spec` shows the task in: a fixed id, the first index, its ports (a dynamic one from 20000). */
export const specAllocId = "00000000-0000-0000-0000-000000000000"

/** What `spec` changes of the task, from its command line. */
export interface TaskOverrides {
  readonly env: Readonly<Record<string, string>>
  readonly user: string | undefined
  readonly cpu: number | undefined
  readonly memory: number | undefined
  readonly memoryMax: number | undefined
}

export interface StartMessage {
  readonly message: TaskConfigPb
  /** What the spec cannot show as the task would have it, for `#` lines. */
  readonly notes: ReadonlyArray<string>
}

const at = (file: string, pos: { readonly line: number; readonly column: number } | undefined) =>
  pos === undefined ? file : `${file}:${pos.line},${pos.column}`

/**
 * The TaskConfig message of the task's first StartTask, built as `run` builds it (layers/run/TaskRunner.ts): the
 * task environment (src/job/TaskEnv.ts, templates with `env = true` rendered into it) with the overrides' env on
 * top, the config interpolated and encoded as cty msgpack as a Nomad client does (src/job/ClientConfig.ts), in
 * the job's namespace. Or the error the client would stop at, naming the place in `file`.
 */
export const startMessage = (
  file: string,
  job: Job,
  picked: { readonly group: Group; readonly task: Task },
  overrides: TaskOverrides,
  node: NodeInfo,
  host: { readonly nodeCompute: number; readonly cgroupVersion: number }
): Either.Either<StartMessage, string> => {
  const { group } = picked
  const task: Task = {
    ...picked.task,
    user: overrides.user ?? picked.task.user,
    resources: {
      ...picked.task.resources,
      cpu: overrides.cpu ?? picked.task.resources.cpu,
      memoryMB: overrides.memory ?? picked.task.resources.memoryMB,
      memoryMaxMB: overrides.memoryMax ?? picked.task.resources.memoryMaxMB
    }
  }
  const notes: Array<string> = []
  const mode = group.network?.mode ?? "host"
  const ports = (group.network?.ports ?? []).map((p, i) => {
    const value = p.static ?? 20000 + i
    if (p.static === undefined) notes.push(`dynamic port ${p.label} shown as ${value}`)
    return { label: p.label, value, to: mode === "bridge" ? p.to ?? value : value }
  })
  const hostIp = "127.0.0.1"
  const alloc: AllocInfo = {
    id: specAllocId,
    index: 0,
    ports,
    hostIp,
    // Nomad's bridge network gives the first allocation the first address of its 172.26.64.0/20.
    ...(mode === "bridge" ? { bridge: { address: "172.26.64.2", interfaceName: "eth0" } } : {})
  }
  const baseEnv = { ...taskEnv(job, group, task, alloc, node), ...overrides.env }
  let templateEnv: Record<string, string> = {}
  for (const t of task.templates.filter((t) => t.env)) {
    try {
      const rendered = renderTemplate(t.data, { env: baseEnv, leftDelimiter: t.leftDelimiter, rightDelimiter: t.rightDelimiter, errorOnMissingKey: t.errorOnMissingKey })
      templateEnv = { ...templateEnv, ...parseEnvFile(rendered) }
    } catch (error) {
      return Either.left(`${at(file, t.pos)}: task ${JSON.stringify(task.name)}: template ${t.destination}: ${error instanceof TemplateError ? error.message : String(error)}`)
    }
  }
  const env = taskEnv(job, group, task, alloc, node, { ...templateEnv, ...overrides.env })
  const spec = hclSpec(taskOptions)
  const bytes = clientConfigBytes(spec, task.config, env, nodeAttributes(job, node))
  if (Either.isLeft(bytes)) {
    const { detail, option } = bytes.left
    // An option the driver does not have: a Nomad client says so in hcldec's words, which users search for.
    const unknown = option !== undefined && !taskOptionNames(spec).includes(option)
    const message = unknown ? Either.match(hclDecode(spec, task.config), { onLeft: (d) => d, onRight: () => detail }) : detail
    return Either.left(`${at(file, option === undefined ? task.pos : task.configPositions[option] ?? task.pos)}: invalid task config: ${message}`)
  }
  for (const m of task.volumeMounts) {
    notes.push(`volume_mount of ${JSON.stringify(m.volume)} at ${m.destination} not shown: the host volume's path is the client's`)
  }
  const allocDir = `/var/lib/nomad/alloc/${specAllocId}`
  const message = taskConfigMessage({
    id: `${specAllocId}/${task.name}/00000000`,
    job,
    group: group.name,
    task: task.name,
    allocId: specAllocId,
    allocDir,
    env,
    user: task.user,
    resources: task.resources,
    nodeCompute: host.nodeCompute,
    config: bytes.right,
    stdoutPath: `${allocDir}/alloc/logs/.${task.name}.stdout.fifo`,
    stderrPath: `${allocDir}/alloc/logs/.${task.name}.stderr.fifo`,
    mounts: [],
    ports: ports.map((p) => ({ ...p, hostIp })),
    network: mode === "host"
      ? undefined
      : {
        path: `/var/run/netns/${specAllocId}`,
        ...(group.network?.hostname === undefined
          ? {}
          : { hostname: group.network.hostname.replace(/\$\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}/g, (whole, name: string) => env[name] ?? whole), address: alloc.bridge?.address ?? "" })
      },
    dns: group.network?.dns,
    node
  })
  // A Nomad client on cgroup v2 puts each task in its own scope under nomad.slice (its cpuset manager).
  const linux = message.resources?.linuxResources
  return Either.right({
    message: host.cgroupVersion !== 2 || linux === undefined
      ? message
      : {
        ...message,
        resources: {
          ...message.resources!,
          linuxResources: { ...linux, cpusetCgroup: `/sys/fs/cgroup/nomad.slice/share.slice/${specAllocId}.${task.name}.scope` }
        }
      },
    notes
  })
}
