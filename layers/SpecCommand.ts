/**
 * `containerd-driver spec JOBFILE`: the OCI runtime spec the driver would hand to containerd for a
 * job's task, like `ctr oci spec`, for debugging jobs. The job is read, and the task's StartTask message built, as
 * `containerd-driver run` does it (src/job/SpecTask.ts); the message is decoded as the plugin
 * decodes a StartTask (layers/tasks/start.ts) and the task goes through the same preparation as a task start
 * (layers/tasks/prepare.ts): the spec printed is the spec that would run, or the clear error the task start
 * would fail with is printed.
 */
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeConfig } from "../src/config/Cty.js"
import { TaskConfig } from "../src/config/TaskConfig.js"
import { JobFileError } from "../src/job/JobFile.js"
import { runArgs } from "../src/job/RunArgs.js"
import { pickTask, readSpecJob, specAllocId, startMessage } from "../src/job/SpecTask.js"
import type { NodeInfo } from "../src/job/TaskEnv.js"
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
