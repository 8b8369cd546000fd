/**
 * `containerd-driver spec JOBFILE`: the OCI runtime spec the driver would hand to containerd for a
 * job's task, like `ctr oci spec`, for debugging jobs. The job is read as `containerd-driver run` reads it
 * (src/job: HCL with variables, locals and functions, or Nomad's JSON job form; a task's bare `config` is taken as
 * a job of that one task); the task's environment and its StartTask message are built as run builds them
 * (src/job/TaskEnv.ts, src/job/ClientConfig.ts, src/job/StartRequest.ts); the message is decoded as the plugin
 * decodes a StartTask (layers/tasks/start.ts) and the task goes through the same preparation as a task start
 * (layers/tasks/prepare.ts): the spec printed is the spec that would run, or the clear error the task start
 * would fail with is printed.
 */
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeConfig } from "../src/config/Cty.js"
import { type HclBody, toHclBlock } from "../src/config/Hcl.js"
import { hclDecode } from "../src/config/HclDecode.js"
import { hclSpec } from "../src/config/HclSpec.js"
import { TaskConfig, taskOptions } from "../src/config/TaskConfig.js"
import type { TaskConfig as TaskConfigPb } from "../src/gen/plugins/drivers/proto/driver.js"
import { clientConfigBytes, specOptions as taskOptionNames } from "../src/job/ClientConfig.js"
import { jobFunctions } from "../src/job/HclFunctions.js"
import { defaultKillTimeoutMs, defaultResources, defaultRestart, driverName, type Group, type Job, type Task } from "../src/job/Job.js"
import { evaluateJobFile, JobFileError, type VariableInputs } from "../src/job/JobFile.js"
import { readJsonJob } from "../src/job/JobJson.js"
import { readJob } from "../src/job/JobSpec.js"
import { runArgs } from "../src/job/RunArgs.js"
import { taskConfigMessage } from "../src/job/StartRequest.js"
import { type AllocInfo, type NodeInfo, nodeAttributes, taskEnv } from "../src/job/TaskEnv.js"
import { parseEnvFile, renderTemplate, TemplateError } from "../src/job/Template.js"
import { nomadTaskFromProto } from "../src/task/NomadTask.js"
import { containerId, generatedDir } from "../src/task/TaskIdentity.js"
import { readBoundedFile } from "./boundedFile.js"
import { loadActiveConfig } from "./CliConfig.js"
import { makeNode, type Node } from "./NodeConfig.js"
import { prepareTask } from "./tasks/prepare.js"

interface SpecArgs {
  readonly file: string
  readonly configFile: string | undefined
  readonly task: string | undefined
  readonly env: Record<string, string>
  readonly user: string | undefined
  readonly cpu: number | undefined
  readonly memory: number | undefined
  readonly memoryMax: number | undefined
  /** `--var` values in order (later ones win); absent when none. */
  readonly vars?: ReadonlyArray<readonly [string, string]>
  /** `--var-file` files in order; absent when none. */
  readonly varFiles?: ReadonlyArray<string>
}

/** The options as the command line gives them, before the checks the parser cannot make. */
export interface SpecOptions {
  readonly file: string
  readonly configFile: string | undefined
  readonly task: string | undefined
  readonly env: ReadonlyArray<string>
  readonly user: string | undefined
  readonly cpu: string | undefined
  readonly memory: string | undefined
  readonly memoryMax: string | undefined
  readonly vars?: ReadonlyArray<string>
  readonly varFiles?: ReadonlyArray<string>
}

/** Resources in MHz and MiB: from 2^33 MiB on, the bytes no longer fit a number the runtime spec can hold. */
const resource = (option: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const v = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v * 2 ** 20)) throw `--${option} needs a whole number from 0 to ${2 ** 33 - 1}, got ${text}`
  return v
}

/** The spec command's arguments, or why they cannot be used. */
export const specArgs = (options: SpecOptions): Either.Either<SpecArgs, string> => {
  try {
    const env: Record<string, string> = {}
    for (const kv of options.env) {
      const eq = kv.indexOf("=")
      if (eq <= 0) throw `--env needs KEY=VALUE, got ${JSON.stringify(kv)}`
      env[kv.slice(0, eq)] = kv.slice(eq + 1)
    }
    // `run`'s reading of -var pairs (src/job/RunArgs.ts), so both commands take and refuse the same ones.
    const vars = Either.getOrThrowWith(
      runArgs({ jobFile: options.file, configFile: options.configFile, vars: options.vars ?? [], varFiles: [], hostVolumes: [], verbose: false }),
      (message) => message
    ).vars
    const varFiles = options.varFiles ?? []
    return Either.right({
      file: options.file,
      configFile: options.configFile,
      task: options.task,
      env,
      user: options.user,
      cpu: resource("cpu", options.cpu),
      memory: resource("memory", options.memory),
      memoryMax: resource("memory-max", options.memoryMax),
      ...(vars.length === 0 ? {} : { vars }),
      ...(varFiles.length === 0 ? {} : { varFiles })
    })
  } catch (message) {
    return Either.left(String(message))
  }
}

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

/** The task's config as the plugin decodes a StartTask's msgpack config (layers/tasks/start.ts). */
const decodeTaskConfig = decodeConfig(TaskConfig, "task config")

/** JSON with two-space indents, integers beyond 2^53 exact. */
const pretty = (value: unknown): string =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `@@bigint:${v}` : v), 2).replace(/"@@bigint:(-?\d+)"/g, "$1")

/** A job file (or var file) of more than this is not one. */
const maxJobBytes = 1024 * 1024

/** Standard input, up to `maxBytes` (a job piped in). */
const readStdin = (maxBytes: number) =>
  Effect.async<Buffer, { readonly message: string }>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const stop = (result: Effect.Effect<Buffer, { readonly message: string }>) => {
      process.stdin.removeAllListeners("data").removeAllListeners("end").removeAllListeners("error")
      process.stdin.pause()
      resume(result)
    }
    process.stdin.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size > maxBytes) stop(Effect.fail({ message: `standard input is more than the 1 MiB a job file may have` }))
    })
    process.stdin.on("end", () => stop(Effect.succeed(Buffer.concat(chunks))))
    process.stdin.on("error", (error) => stop(Effect.fail({ message: `cannot read standard input: ${error.message}` })))
  })

const fail = (message: string) => Effect.sync(() => process.stderr.write(`${message}\n`)).pipe(Effect.as(1))

export const program = (options: SpecOptions): Effect.Effect<number> => {
  const parsed = specArgs(options)
  if (Either.isLeft(parsed)) return Effect.sync(() => process.stderr.write(`${parsed.left}\n`)).pipe(Effect.as(2))
  return Effect.gen(function*() {
    const active = yield* Effect.either(loadActiveConfig(parsed.right.configFile))
    if (Either.isLeft(active)) return yield* fail(active.left)
    return yield* Effect.scoped(Effect.flatMap(makeNode(active.right), (node) => specFor(parsed.right, node)))
  })
}

/** This machine as the node the task is shown on. */
const nodeInfo = (): NodeInfo => ({
  id: specAllocId,
  name: os.hostname(),
  datacenter: "dc1",
  arch: os.arch() === "x64" ? "amd64" : os.arch(),
  kernelVersion: os.release()
})

const specFor = (a: SpecArgs, node: Node) =>
  Effect.gen(function*() {
    const text = yield* Effect.either(a.file === "-" ? readStdin(maxJobBytes) : readBoundedFile(a.file, maxJobBytes))
    if (Either.isLeft(text)) return yield* fail(text.left.message)
    const varFiles: Array<{ readonly name: string; readonly text: string }> = []
    for (const name of a.varFiles ?? []) {
      const varText = yield* Effect.either(readBoundedFile(name, maxJobBytes))
      if (Either.isLeft(varText)) return yield* fail(varText.left.message)
      varFiles.push({ name, text: varText.right.toString("utf8") })
    }
    const files = {
      baseDir: a.file === "-" ? process.cwd() : path.dirname(path.resolve(a.file)),
      read: (file: string) => (fs.existsSync(file) ? fs.readFileSync(file) : undefined)
    }
    const job = Either.try({
      try: () => readSpecJob(text.right.toString("utf8"), { env: process.env, varFiles, vars: a.vars ?? [], files }),
      catch: (error) => (error instanceof JobFileError ? error.at(a.file) : `${a.file}: ${error instanceof Error ? error.message : String(error)}`)
    })
    if (Either.isLeft(job)) return yield* fail(job.left)
    const picked = pickTask(job.right, a.task)
    if (Either.isLeft(picked)) return yield* fail(`${a.file}: ${picked.left}`)
    const { cgroupVersion } = node.active
    const start = startMessage(a.file, job.right, picked.right, a, nodeInfo(), { nodeCompute: os.availableParallelism() * 1000, cgroupVersion })
    if (Either.isLeft(start)) return yield* fail(start.left)
    const { message, notes } = start.right

    // From here on, what the plugin does with a StartTask (layers/tasks/start.ts).
    const task = decodeTaskConfig(message.msgpackDriverConfig)
    if (Either.isLeft(task)) return yield* fail(task.left.message)
    const id = containerId(cgroupVersion, message.allocId, message.name)
    const prepared = yield* Effect.either(
      prepareTask(node, { task: task.right, nomad: nomadTaskFromProto(message), containerId: id, generatedDir: generatedDir(message.allocDir, message.name) })
    )
    if (Either.isLeft(prepared)) return yield* fail(prepared.left.message)
    const { image, spec } = prepared.right
    process.stderr.write(
      `# image ${image.name} (${image.manifest.digest}), runtime ${spec.runtime.name}` +
        `${spec.runtime.binaryName === undefined ? "" : ` (runc binary ${spec.runtime.binaryName})`}, container ${id}\n` +
        `# task ${JSON.stringify(message.name)} of job ${JSON.stringify(message.jobId)} in namespace ${JSON.stringify(message.namespace)}\n` +
        notes.map((n) => `# ${n}\n`).join("") +
        spec.files.map((f) => `# generated file ${f.name}\n`).join("")
    )
    process.stdout.write(`${pretty(spec.spec)}\n`)
    return 0
  })
