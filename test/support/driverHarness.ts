/**
 * The built plugin under test as one Nomad client node holds it: launched from a plugin_dir (PluginProcess.ts),
 * configured (SetConfig with the plugin block encoded as Nomad encodes it, then Init) on its own containerd
 * namespace, with allocations (nomadTask.ts) whose tasks it starts and a probe of that namespace
 * (containerdProbe.ts). `dispose` destroys what the tests left running and removes the namespace, the allocation
 * directories and the plugin_dir, so a run leaves nothing behind.
 */
import type * as grpc from "@grpc/grpc-js"
import * as fs from "node:fs"
import { Any } from "../../src/gen/google/protobuf/any.js"
import { Status } from "../../src/gen/google/rpc/status.js"
import type { TaskConfig, TaskHandle } from "../../src/gen/plugins/drivers/proto/driver.js"
import { RecoverableError } from "../../src/gen/plugins/shared/structs/proto/recoverable_error.js"
import { decodeDriverState } from "../../src/task/DriverState.js"
import { uniqueNamespace } from "./containerdContract.js"
import { type ContainerdProbe, containerdProbe } from "./containerdProbe.js"
import { type DriverCalls, driverCalls } from "./driverCalls.js"
import { type Allocation, makeAllocation, pluginConfigBytes, type TaskDirs, type TaskRequest, taskConfig } from "./nomadTask.js"
import { type Launched, launch, nomadEnv, pluginDir, unary } from "./PluginProcess.js"

export interface DriverPlugin {
  readonly process: Launched
  readonly driver: DriverCalls
  /** SIGKILL, as a crash or the end of a Nomad agent; resolves once the process is gone. */
  readonly crash: () => Promise<void>
}

/**
 * Launches the plugin from `dir` and configures it as the Nomad client does (SetConfig, Init). Its socket is made
 * in `dir` too, so that a plugin the test kills leaves nothing elsewhere.
 */
export const launchDriver = async (dir: string, config: Record<string, unknown>): Promise<DriverPlugin> => {
  const process = await launch(dir, nomadEnv({ CONTAINERD_DRIVER_LOG_LEVEL: "debug", PLUGIN_UNIX_SOCKET_DIR: dir }))
  try {
    await unary(process.base, process.base.setConfig, {
      msgpackConfig: Buffer.from(pluginConfigBytes(config)),
      pluginApiVersion: "v0.1.0",
      nomadConfig: { driver: { ClientMaxPort: 14512, ClientMinPort: 14000 } }
    })
    await unary(process.driver, process.driver.init, {})
  } catch (error) {
    process.close()
    throw new Error(`the plugin refused its configuration: ${String(error)}; stderr: ${process.stderr()}`)
  }
  return {
    process,
    driver: driverCalls(process.driver),
    crash: async () => {
      // The process dies first, under the calls in flight, as in a crash; the test's clients close after.
      if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill("SIGKILL")
      await process.exited
      process.close()
    }
  }
}

/** A failed Driver RPC as the Nomad client reads it. */
export interface DriverFailure {
  readonly code: grpc.status
  readonly message: string
  /**
   * StartTask's RecoverableError (details[0] of the status, by its Go type URL), undefined when there is none —
   * which Nomad takes as not recoverable.
   */
  readonly recoverable: boolean | undefined
}

const recoverableTypeUrl = "type.googleapis.com/hashicorp.nomad.plugins.shared.structs.RecoverableError"

export const driverFailure = (error: unknown): DriverFailure => {
  const e = error as grpc.ServiceError
  if (typeof e?.code !== "number" || e.metadata === undefined) throw error
  const bin = e.metadata.get("grpc-status-details-bin")[0]
  const detail: Any | undefined = bin === undefined ? undefined : Status.decode(bin as Buffer).details[0]
  return {
    code: e.code,
    message: e.details,
    recoverable: detail?.typeUrl === recoverableTypeUrl ? RecoverableError.decode(detail.value).recoverable : undefined
  }
}

/** The failure of a call that must fail. */
export const failureOf = async (call: Promise<unknown>): Promise<DriverFailure> => {
  try {
    await call
  } catch (error) {
    return driverFailure(error)
  }
  throw new Error("the call succeeded where it should have failed")
}

/** The container a handle's driver_state names. */
export const containerOf = (handle: TaskHandle): string => {
  const decoded = decodeDriverState(handle.driverState)
  if (decoded._tag === "Left" || decoded.right._tag !== "Current") throw new Error("the handle carries no driver state of this driver")
  return decoded.right.state.containerId
}

/** ExecTask's answer with the output as text. */
export interface ExecOutput {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
  readonly signal: number
}

export const execText = async (driver: DriverCalls, id: string, command: ReadonlyArray<string>, timeoutMs?: number): Promise<ExecOutput> => {
  const response = await driver.exec(id, command, timeoutMs)
  if (response.result === undefined) throw new Error("ExecTask answered without a result")
  return {
    stdout: Buffer.from(response.stdout).toString("utf8"),
    stderr: Buffer.from(response.stderr).toString("utf8"),
    exitCode: response.result.exitCode,
    signal: response.result.signal
  }
}

/** One start attempt of a task, as the Nomad client keeps it. */
export interface StartedTask {
  readonly id: string
  readonly config: TaskConfig
  readonly handle: TaskHandle
  readonly alloc: Allocation
  readonly dirs: TaskDirs
  readonly containerId: string
}

export type StartRequest = Omit<TaskRequest, "alloc" | "task"> & {
  /** The task's name; "task" unless given. */
  readonly name?: string
  /** The allocation; a new one unless given. */
  readonly alloc?: Allocation
  /** Files the test puts into the task dir before the start (templates), by path relative to it. */
  readonly files?: Record<string, string>
}

export interface Harness {
  readonly namespace: string
  readonly probe: ContainerdProbe
  /** The plugin_dir holding the built plugin. */
  readonly dir: string
  /** The plugin in use; `replacePlugin` swaps it (a plugin restart). */
  readonly plugin: () => DriverPlugin
  readonly driver: () => DriverCalls
  /** The plugin config block every plugin of this harness gets. */
  readonly pluginConfig: Record<string, unknown>
  readonly replacePlugin: (next: DriverPlugin) => void
  readonly allocation: () => Allocation
  /** The TaskConfig of a new attempt, with the task's dirs and FIFOs made. */
  readonly prepare: (request: StartRequest) => { readonly config: TaskConfig; readonly alloc: Allocation; readonly dirs: TaskDirs }
  /** StartTask; the task is destroyed by `dispose` unless the test destroys it. */
  readonly start: (request: StartRequest) => Promise<StartedTask>
  readonly exec: (id: string, command: ReadonlyArray<string>, timeoutMs?: number) => Promise<ExecOutput>
  readonly dispose: () => Promise<void>
}

export interface HarnessOptions {
  /** Prefix of the unique namespace. */
  readonly prefix: string
  readonly containerdAddress: string
  /** More plugin options (beside containerd_address and namespace). */
  readonly pluginConfig?: Record<string, unknown>
}

export const harness = async (options: HarnessOptions): Promise<Harness> => {
  const namespace = uniqueNamespace(options.prefix)
  const pluginConfig = { containerd_address: options.containerdAddress, namespace, ...options.pluginConfig }
  const dir = pluginDir()
  const probe = containerdProbe(options.containerdAddress, namespace)
  const allocations: Array<Allocation> = []
  const started = new Set<string>()
  let current: DriverPlugin
  try {
    current = await launchDriver(dir, pluginConfig)
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true })
    await probe.dispose()
    throw error
  }
  const allocation = () => {
    const alloc = makeAllocation()
    allocations.push(alloc)
    return alloc
  }
  const prepare = (request: StartRequest) => {
    const alloc = request.alloc ?? allocation()
    const dirs = alloc.task(request.name ?? "task")
    for (const [file, content] of Object.entries(request.files ?? {})) fs.writeFileSync(`${dirs.dir}/${file}`, content)
    const { alloc: _a, files: _f, name: _n, ...rest } = request
    return { config: taskConfig({ ...rest, alloc, task: dirs }), alloc, dirs }
  }
  return {
    namespace,
    probe,
    dir,
    plugin: () => current,
    driver: () => current.driver,
    pluginConfig,
    replacePlugin: (next) => {
      current = next
    },
    allocation,
    prepare,
    start: async (request) => {
      const { alloc, config, dirs } = prepare(request)
      started.add(config.id)
      const handle = await current.driver.start(config)
      return { id: config.id, config, handle, alloc, dirs, containerId: containerOf(handle) }
    },
    exec: (id, command, timeoutMs) => execText(current.driver, id, command, timeoutMs),
    dispose: async () => {
      // What a test left running is destroyed through the plugin (Nomad's DestroyTask), then the namespace goes.
      await Promise.all([...started].map((id) => current.driver.destroy(id).catch(() => {})))
      current.process.close()
      for (const alloc of allocations) alloc.remove()
      try {
        await probe.clean()
      } finally {
        await probe.dispose()
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/** Runs `body` with a harness of its own (a namespace and a plugin), disposed of afterwards whatever happens. */
export const withHarness = async (
  options: HarnessOptions,
  body: (h: Harness) => Promise<void>
): Promise<void> => {
  const h = await harness(options)
  try {
    await body(h)
  } finally {
    await h.dispose()
  }
}
