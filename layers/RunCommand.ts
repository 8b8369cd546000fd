/**
 * `containerd-driver run JOBFILE`: runs a real Nomad job on this machine without Nomad. The job file is read as
 * Nomad reads it (src/job: HCL2 with variables, locals and functions, or Nomad's JSON job form); this very
 * executable is launched as the plugin, exactly as a Nomad client launches it; and every allocation of every group
 * is run as the client runs it (layers/run: directories, logmon, templates, bridge networking, lifecycle, restarts,
 * kills). Task output is printed with `group[index].task: ` in front (stderr for the task's stderr), Nomad's task
 * events and the driver's (pull progress) on stderr after `==> `. A batch job ends with its result: 0 when every
 * allocation completed. A service job runs until Ctrl-C (or until all its allocations have ended): the first
 * Ctrl-C stops every task with its kill_signal and kill_timeout and then exits 0 for a service job, 130 for a
 * batch job; a second Ctrl-C destroys the tasks at once. Nothing is left behind.
 */
import { Deferred, Effect, Either, Exit, FiberId } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { HclBody } from "../src/config/Hcl.js"
import { hclSpec } from "../src/config/HclSpec.js"
import { taskOptions } from "../src/config/TaskConfig.js"
import { clientConfigBytes } from "../src/job/ClientConfig.js"
import { jobFunctions } from "../src/job/HclFunctions.js"
import { driverName, type Job } from "../src/job/Job.js"
import { evaluateJobFile, JobFileError } from "../src/job/JobFile.js"
import { readJsonJob } from "../src/job/JobJson.js"
import { readJob } from "../src/job/JobSpec.js"
import { type RunArgs, runArgs, type RunOptions } from "../src/job/RunArgs.js"
import { type NodeInfo, nodeAttributes, taskEnv } from "../src/job/TaskEnv.js"
import { readBoundedFile } from "./boundedFile.js"
import { allocPrefix, type AllocResult, type RunningAlloc, runAlloc } from "./run/AllocRunner.js"
import { launchPlugin } from "./run/Plugin.js"
import { RunError } from "./run/RunError.js"
import type { Output } from "./run/TaskRunner.js"

/** A job file (or var file) of more than this is not one. */
const maxJobBytes = 1024 * 1024

const readText = (file: string) =>
  Effect.map(Effect.mapError(readBoundedFile(file, maxJobBytes), (e) => new RunError({ reason: "Job", message: e.message })), (b) => b.toString("utf8"))

const jobError = (file: string) => (error: unknown) =>
  new RunError({ reason: "Job", message: error instanceof JobFileError ? error.at(file) : `${file}: ${error instanceof Error ? error.message : String(error)}` })

/** Reads the job as `nomad job run` would, with the variables given. */
export const loadJob = (args: RunArgs, env: NodeJS.ProcessEnv): Effect.Effect<Job, RunError> =>
  Effect.gen(function*() {
    const text = yield* readText(args.jobFile)
    if (text.trimStart().startsWith("{")) {
      return yield* Effect.try({ try: () => readJsonJob(JSON.parse(text)), catch: jobError(args.jobFile) })
    }
    const varFiles = yield* Effect.forEach(args.varFiles, (name) => Effect.map(readText(name), (t) => ({ name, text: t })))
    const files = {
      baseDir: path.dirname(path.resolve(args.jobFile)),
      read: (file: string) => (fs.existsSync(file) ? fs.readFileSync(file) : undefined)
    }
    return yield* Effect.try({
      try: () => {
        const evaluated = evaluateJobFile(text, jobFunctions(files), { env, varFiles, vars: args.vars })
        if (evaluated.job === undefined) throw new JobFileError("Missing job block: a job file needs a job block", undefined)
        return readJob(evaluated.job)
      },
      catch: jobError(args.jobFile)
    })
  })

const at = (file: string, pos: { readonly line: number; readonly column: number } | undefined) => (pos === undefined ? file : `${file}:${pos.line},${pos.column}`)

/**
 * What Nomad would refuse before running anything: tasks of other drivers, host volumes the client lacks, and task
 * configs the driver's schema rejects (checked with the task's environment, ports not yet chosen).
 */
export const checkJob = (job: Job, args: RunArgs, node: NodeInfo): Either.Either<void, string> => {
  for (const group of job.groups) {
    for (const volume of Object.values(group.volumes)) {
      if (args.hostVolumes[volume.source] === undefined) {
        return Either.left(
          `${at(args.jobFile, volume.pos)}: volume ${JSON.stringify(volume.name)} of group ${JSON.stringify(group.name)} needs the host volume ${JSON.stringify(volume.source)}: give its path with --host-volume ${volume.source}=PATH`
        )
      }
    }
    for (const task of group.tasks) {
      if (task.driver !== driverName) {
        return Either.left(`${at(args.jobFile, task.pos)}: task ${JSON.stringify(task.name)} uses driver ${JSON.stringify(task.driver)}; containerd-driver run runs only driver = "${driverName}" tasks`)
      }
      const ports = (group.network?.ports ?? []).map((p) => ({ label: p.label, value: p.static ?? 20000, to: p.to ?? p.static ?? 20000 }))
      const env = taskEnv(job, group, task, { id: "00000000-0000-0000-0000-000000000000", index: 0, ports, hostIp: "127.0.0.1", bridge: { address: "172.26.64.2", interfaceName: "eth0" } }, node)
      const checked = clientConfigBytes(hclSpec(taskOptions), task.config as HclBody, env, nodeAttributes(job, node))
      if (Either.isLeft(checked)) {
        const option = checked.left.option
        return Either.left(
          `${at(args.jobFile, option === undefined ? task.pos : task.configPositions[option] ?? task.pos)}: task ${JSON.stringify(task.name)}: invalid config: ${checked.left.detail}`
        )
      }
    }
  }
  return Either.right(undefined)
}

const consoleOutput: Output = {
  stdout: (prefix, line) => process.stdout.write(`${prefix}: ${line}\n`),
  stderr: (prefix, line) => process.stderr.write(`${prefix}: ${line}\n`),
  event: (prefix, message) => process.stderr.write(`==> ${prefix}: ${message}\n`)
}

/** The plugin's hclog lines: warnings and errors always, the rest with --verbose. */
const pluginLog = (verbose: boolean) => (line: string) => {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(line) as Record<string, unknown>
  } catch {
    if (line.trim() !== "") process.stderr.write(`plugin: ${line}\n`)
    return
  }
  const level = String(record["@level"] ?? "info")
  if (!verbose && level !== "warn" && level !== "error") return
  const extra = Object.entries(record).filter(([k]) => !k.startsWith("@")).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
  process.stderr.write(`plugin: [${level.toUpperCase()}] ${String(record["@message"] ?? "")}${extra.length === 0 ? "" : ` ${extra.join(" ")}`}\n`)
}

const nodeInfo = (): NodeInfo => ({
  id: randomUUID(),
  name: os.hostname(),
  datacenter: "dc1",
  arch: os.arch() === "x64" ? "amd64" : os.arch(),
  kernelVersion: os.release()
})

/** How the run ended, for the exit code. */
export const exitCode = (job: Job, results: ReadonlyArray<AllocResult>, interrupted: boolean): number => {
  if (results.some((r) => r === "failed")) return 1
  if (interrupted) return job.type === "batch" || job.type === "sysbatch" ? 130 : 0
  return 0
}

interface Control {
  /** Completed by the first Ctrl-C. */
  readonly stop: Deferred.Deferred<void>
  /** Completed by the second. */
  readonly force: Deferred.Deferred<void>
}

const runJob = (job: Job, args: RunArgs, node: NodeInfo, control: Control) =>
  Effect.gen(function*() {
    const dataDir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "containerd-driver-run-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const config = args.configFile === undefined
      ? {}
      : yield* Effect.flatMap(readText(args.configFile), (text) =>
        Effect.try({
          try: () => JSON.parse(text) as Record<string, unknown>,
          catch: (e) => new RunError({ reason: "Config", message: `cannot read ${args.configFile}: ${(e as Error).message}` })
        }))
    const plugin = yield* launchPlugin({ executable: process.argv[1]!, socketDir: dataDir, config, onLog: pluginLog(args.verbose) })
    const prefixes = new Map<string, string>()
    plugin.onEvent((event) => {
      const prefix = prefixes.get(`${event.allocId}/${event.taskName}`) ?? `${event.allocId.slice(0, 8)}.${event.taskName}`
      consoleOutput.event(prefix, `Driver: ${event.message}`)
    })
    for (const line of job.ignored) process.stderr.write(`==> Ignored (it only matters to Nomad's servers or catalogs): ${args.jobFile}:${line}\n`)
    const nodeCompute = os.availableParallelism() * 1000
    const allocs: Array<RunningAlloc> = []
    for (const group of job.groups) {
      for (let index = 0; index < group.count; index++) {
        const alloc = yield* runAlloc({ job, group, index, plugin, output: consoleOutput, node, nodeCompute, hostVolumes: args.hostVolumes, dataDir })
        for (const task of group.tasks) prefixes.set(`${alloc.id}/${task.name}`, allocPrefix(group, index, task))
        allocs.push(alloc)
        if (yield* Deferred.isDone(control.stop)) break
      }
    }
    // Stop requests reach every allocation; a forced one destroys their tasks.
    yield* Effect.forkScoped(Effect.zipRight(Deferred.await(control.stop), Effect.forEach(allocs, (a) => a.stop, { discard: true })))
    yield* Effect.forkScoped(Effect.zipRight(Deferred.await(control.force), Effect.forEach(allocs, (a) => a.forceStop, { discard: true })))
    const results = yield* Effect.forEach(allocs, (a) => Deferred.await(a.result), { concurrency: "unbounded" })
    return exitCode(job, results, yield* Deferred.isDone(control.stop))
  }).pipe(Effect.scoped)

export const program = (options: RunOptions, control: Control): Effect.Effect<number> =>
  Effect.gen(function*() {
    const parsed = runArgs(options)
    if (Either.isLeft(parsed)) {
      process.stderr.write(`${parsed.left}\n`)
      return 2
    }
    const args = parsed.right
    const node = nodeInfo()
    const outcome = yield* Effect.either(Effect.gen(function*() {
      const job = yield* loadJob(args, process.env)
      const checked = checkJob(job, args, node)
      if (Either.isLeft(checked)) return yield* Effect.fail(new RunError({ reason: "Job", message: checked.left }))
      return yield* runJob(job, args, node, control)
    }))
    if (Either.isLeft(outcome)) {
      process.stderr.write(`Error: ${outcome.left.message}\n`)
      return 1
    }
    return outcome.right
  })

/**
 * The command: Ctrl-C and SIGTERM stop the job (a second time: destroy its tasks at once), and the result is the
 * job's exit code.
 */
export const command = (options: RunOptions): Effect.Effect<number> =>
  Effect.suspend(() => {
    const control: Control = { stop: Deferred.unsafeMake(FiberId.none), force: Deferred.unsafeMake(FiberId.none) }
    let signals = 0
    const onSignal = () => {
      signals++
      if (signals === 1) {
        process.stderr.write("==> Stopping the job (Ctrl-C again to destroy its tasks at once)\n")
        Deferred.unsafeDone(control.stop, Exit.void)
      } else {
        process.stderr.write("==> Destroying the job's tasks\n")
        Deferred.unsafeDone(control.force, Exit.void)
      }
    }
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
      }),
      () => program(options, control),
      () =>
        Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
    )
  })
