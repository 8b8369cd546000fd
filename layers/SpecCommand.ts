/**
 * `containerd-driver spec JOBFILE`: the OCI runtime spec the driver would hand to containerd for a
 * job's task, like `ctr oci spec`, for debugging jobs. The task's config is read as a Nomad client
 * reads it (hcldec against the driver's schema), then the task goes through the same preparation as a
 * task start (layers/tasks/prepare.ts): the spec printed is the spec that would run, or the clear error
 * the task start would fail with is printed.
 */
import { Effect, Either, Schema } from "effect"
import * as os from "node:os"
import { dropNulls, formatIssues } from "../src/config/Cty.js"
import { hclDecode } from "../src/config/HclDecode.js"
import { hclSpec } from "../src/config/HclSpec.js"
import { type JobTask, readJobTask } from "../src/config/JobTask.js"
import { TaskConfig, taskOptions } from "../src/config/TaskConfig.js"
import type { NomadTask } from "../src/oci/SpecInput.js"
import { interpolate, nomadTaskEnv } from "../src/config/NomadClient.js"
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
    return Either.right({
      file: options.file,
      configFile: options.configFile,
      task: options.task,
      env,
      user: options.user,
      cpu: resource("cpu", options.cpu),
      memory: resource("memory", options.memory),
      memoryMax: resource("memory-max", options.memoryMax)
    })
  } catch (message) {
    return Either.left(String(message))
  }
}

/** The task's config decoded as the driver would decode what Nomad sends. */
const decodeTaskConfig = (task: JobTask, env: Readonly<Record<string, string>>): Either.Either<TaskConfig, string> =>
  hclDecode(hclSpec(taskOptions), task.config).pipe(
    Either.mapLeft((message) => `invalid task config: ${message}`),
    Either.flatMap((value) =>
      Schema.decodeUnknownEither(TaskConfig, { errors: "all" })(dropNulls(interpolate(value, env))).pipe(
        Either.mapLeft((error) => `invalid task config: ${formatIssues(error)}`)
      )
    )
  )

/** JSON with two-space indents, integers beyond 2^53 exact. */
const pretty = (value: unknown): string =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `@@bigint:${v}` : v), 2).replace(/"@@bigint:(-?\d+)"/g, "$1")

const allocId = "00000000-0000-0000-0000-000000000000"

/** A job file of more than this is not a job file. */
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

const specFor = (a: SpecArgs, node: Node) =>
  Effect.gen(function*() {
    const text = yield* Effect.either(a.file === "-" ? readStdin(maxJobBytes) : readBoundedFile(a.file, maxJobBytes))
    if (Either.isLeft(text)) return yield* fail(text.left.message)
    const job = readJobTask(text.right.toString("utf8"), a.task)
    if (Either.isLeft(job)) return yield* fail(`${a.file}: ${job.left}`)
    const jobTask = job.right
    const taskName = jobTask.task || "task"
    const cpu = a.cpu ?? jobTask.cpu
    const memoryMB = a.memory ?? jobTask.memoryMB
    const memoryMaxMB = a.memoryMax ?? jobTask.memoryMaxMB
    const allocDir = `/var/lib/nomad/alloc/${allocId}`
    const env = nomadTaskEnv({ job: jobTask.job, group: jobTask.group, task: taskName, allocId, cpu, memoryMB, memoryMaxMB, env: { ...jobTask.env, ...a.env } })
    const task = decodeTaskConfig(jobTask, env)
    if (Either.isLeft(task)) return yield* fail(task.left)

    const { cgroupVersion } = node.active
    const id = containerId(cgroupVersion, allocId, taskName)
    const nomad: NomadTask = {
      id: `${allocId}/${taskName}/00000000`,
      name: taskName,
      alloc_id: allocId,
      env,
      user: a.user ?? jobTask.user ?? "",
      alloc_dir: allocDir,
      resources: {
        cpu_shares: cpu,
        memory_mb: memoryMB,
        memory_max_mb: memoryMaxMB,
        linux: {
          cpu_shares: cpu,
          memory_limit_bytes: Math.max(memoryMB, memoryMaxMB) * 2 ** 20,
          cpuset_cpus: "",
          cpuset_cgroup: cgroupVersion === 2 ? `/sys/fs/cgroup/nomad.slice/share.slice/${allocId}.${taskName}.scope` : "",
          cpu_period: 0,
          cpu_quota: 0,
          PercentTicks: cpu / (os.availableParallelism() * 1000)
        }
      },
      mounts: [],
      devices: [],
      ...(jobTask.networkMode !== undefined && jobTask.networkMode !== "host"
        ? { network_isolation_spec: { mode: "group", path: `/var/run/netns/${allocId}` } }
        : {}),
      ...(jobTask.dns === undefined ? {} : { dns: jobTask.dns })
    }

    const prepared = yield* Effect.either(
      prepareTask(node, { task: task.right, nomad, containerId: id, generatedDir: generatedDir(allocDir, taskName) })
    )
    if (Either.isLeft(prepared)) return yield* fail(prepared.left.message)
    const { image, spec } = prepared.right
    process.stderr.write(
      `# image ${image.name} (${image.manifest.digest}), runtime ${spec.runtime.name}` +
        `${spec.runtime.binaryName === undefined ? "" : ` (runc binary ${spec.runtime.binaryName})`}, container ${id}\n` +
        spec.files.map((f) => `# generated file ${f.name}\n`).join("")
    )
    process.stdout.write(`${pretty(spec.spec)}\n`)
    return 0
  })
