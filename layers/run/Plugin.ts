/**
 * The driver plugin as a Nomad client holds it (hashicorp/go-plugin client.go; hashicorp/nomad
 * helper/pluginutils/loader, client/pluginmanager/drivermanager): the executable launched with
 * go-plugin's environment and its socket in our own directory, the handshake read, SetConfig with the plugin block
 * encoded as the agent encodes it, Init, the TaskEvents stream, and the Driver RPCs as Effects (an interrupted call
 * is cancelled). Released with GRPCController.Shutdown, then SIGKILL if the process is still there after 2 s.
 */
import * as grpc from "@grpc/grpc-js"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { Effect, type Scope } from "effect"
import { encodeConfig } from "../../src/config/CtyEncode.js"
import { driverOptions } from "../../src/config/DriverConfig.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { Any } from "../../src/gen/google/protobuf/any.js"
import type { Duration } from "../../src/gen/google/protobuf/duration.js"
import { Status } from "../../src/gen/google/rpc/status.js"
import { BasePluginClient } from "../../src/gen/plugins/base/proto/base.js"
import {
  DriverClient,
  type DriverTaskEvent,
  type ExitResult,
  type TaskConfig
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { RecoverableError } from "../../src/gen/plugins/shared/structs/proto/recoverable_error.js"
import { GRPCControllerClient } from "../../src/gen/plugin/grpc_controller.js"
import { RunError } from "./RunError.js"

const magicCookie = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255"
const recoverableTypeUrl = "type.googleapis.com/hashicorp.nomad.plugins.shared.structs.RecoverableError"

/** A failed StartTask as the client reads it: its message, and whether the driver called it recoverable. */
export interface StartFailure {
  readonly message: string
  readonly recoverable: boolean
}

export interface Plugin {
  /** StartTask; a failure is a StartFailure (recoverable per the RecoverableError detail, else not). */
  readonly start: (task: TaskConfig) => Effect.Effect<void, StartFailure>
  readonly wait: (id: string) => Effect.Effect<{ readonly result: ExitResult; readonly err: string }, RunError>
  readonly stop: (id: string, timeoutMs: number, signal: string) => Effect.Effect<void, RunError>
  readonly destroy: (id: string) => Effect.Effect<void, RunError>
  readonly signal: (id: string, signal: string) => Effect.Effect<void, RunError>
  /** Sets where TaskEvents go (one listener). */
  readonly onEvent: (listener: (event: DriverTaskEvent) => void) => void
}

export interface PluginOptions {
  /** The plugin executable: this very file, as Nomad would exec it from its plugin_dir. */
  readonly executable: string
  /** Where its socket goes (PLUGIN_UNIX_SOCKET_DIR). */
  readonly socketDir: string
  /** The plugin config block (the agent's `plugin "containerd-driver" { config {...} }`). */
  readonly config: Record<string, unknown>
  /** Each line the plugin logs on stderr (hclog JSON). */
  readonly onLog: (line: string) => void
}

const duration = (ms: number): Duration => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: Math.round(ms % 1000) * 1e6 })

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void
type UnaryMethod<Req, Res> = (request: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: Callback<Res>) => grpc.ClientUnaryCall

/** A unary call as an Effect; interrupting it cancels the call. */
const unary = <Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, request: Req): Effect.Effect<Res, grpc.ServiceError> =>
  Effect.async<Res, grpc.ServiceError>((resume) => {
    const call = method.call(client, request, new grpc.Metadata(), {}, (error, response) =>
      resume(error === null ? Effect.succeed(response) : Effect.fail(error)))
    return Effect.sync(() => call.cancel())
  })

const rpcError = (what: string) => (error: grpc.ServiceError) =>
  new RunError({ reason: "Plugin", message: `${what} failed: ${error.details || error.message}` })

/** The RecoverableError detail of a failed StartTask (details[0] of the status, by its Go type URL). */
const startFailure = (error: grpc.ServiceError): StartFailure => {
  const bin = error.metadata?.get("grpc-status-details-bin")[0]
  let detail: Any | undefined
  try {
    detail = bin === undefined ? undefined : Status.decode(bin as Buffer).details[0]
  } catch {
    detail = undefined
  }
  return {
    message: error.details || error.message,
    recoverable: detail?.typeUrl === recoverableTypeUrl ? RecoverableError.decode(detail.value).recoverable : false
  }
}

/** Spawns the plugin and resolves with the socket address of its handshake line. */
const handshake = (child: ChildProcess, stderr: () => string): Effect.Effect<string, RunError> =>
  Effect.async<string, RunError>((resume) => {
    let stdout = ""
    const timer = setTimeout(() => resume(Effect.fail(new RunError({ reason: "Plugin", message: `the plugin printed no handshake within 60 s; its log:\n${stderr()}` }))), 60_000)
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      resume(Effect.fail(new RunError({ reason: "Plugin", message: `the plugin exited (${code}) before its handshake; its log:\n${stderr()}` })))
    }
    child.once("exit", onExit)
    child.once("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(new RunError({ reason: "Plugin", message: `cannot start the plugin: ${error.message}` })))
    })
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      const newline = stdout.indexOf("\n")
      if (newline === -1) return
      clearTimeout(timer)
      child.off("exit", onExit)
      child.stdout!.removeAllListeners("data")
      const [core, app, network, address, protocol] = stdout.slice(0, newline).split("|")
      if (core !== "1" || app !== "2" || network !== "unix" || protocol !== "grpc" || address === undefined) {
        resume(Effect.fail(new RunError({ reason: "Plugin", message: `unexpected plugin handshake ${JSON.stringify(stdout.slice(0, newline))}` })))
      } else resume(Effect.succeed(address))
    })
  })

export const launchPlugin = (options: PluginOptions): Effect.Effect<Plugin, RunError, Scope.Scope> =>
  Effect.gen(function*() {
    const configBytes = yield* Effect.mapError(
      encodeConfig(hclSpec(driverOptions), options.config),
      (message) => new RunError({ reason: "Config", message: `invalid plugin config: ${message}` })
    )
    // Nomad execs the plugin file itself; a copy without its execute bit still runs through node.
    const direct = (() => {
      try {
        fs.accessSync(options.executable, fs.constants.X_OK)
        return true
      } catch {
        return false
      }
    })()
    let log = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = spawn(direct ? options.executable : process.execPath, direct ? [] : [options.executable], {
          env: {
            ...process.env,
            NOMAD_PLUGIN_MAGIC_COOKIE: magicCookie,
            PLUGIN_PROTOCOL_VERSIONS: "2",
            PLUGIN_MIN_PORT: "10000",
            PLUGIN_MAX_PORT: "25000",
            PLUGIN_UNIX_SOCKET_DIR: options.socketDir
          },
          stdio: ["pipe", "pipe", "pipe"]
        })
        let pending = ""
        c.stderr!.on("data", (chunk: Buffer) => {
          pending += chunk.toString("utf8")
          const lines = pending.split("\n")
          pending = lines.pop()!
          for (const line of lines) {
            if (log.length < 64 * 1024) log += `${line}\n`
            options.onLog(line)
          }
        })
        c.stdout!.on("error", () => {})
        c.stdin!.on("error", () => {})
        return c
      }),
      (c) =>
        Effect.async<void>((resume) => {
          if (c.exitCode !== null || c.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => c.kill("SIGKILL"), 2_000)
          c.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
        })
    )
    const address = yield* handshake(child, () => log)
    const target = `unix://${address}`
    const credentials = grpc.credentials.createInsecure()
    const base = new BasePluginClient(target, credentials)
    const driver = new DriverClient(target, credentials)
    const controller = new GRPCControllerClient(target, credentials)
    // Released before the process wait above: Shutdown asks the plugin to exit, then the clients close.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Effect.timeout(Effect.ignore(unary(controller, controller.shutdown, {})), "2 seconds").pipe(Effect.ignore)
        for (const c of [base, driver, controller]) c.close()
      })
    )
    yield* unary(base, base.setConfig, {
      msgpackConfig: Buffer.from(configBytes),
      pluginApiVersion: "v0.1.0",
      nomadConfig: { driver: { ClientMaxPort: 14512, ClientMinPort: 14000 } }
    }).pipe(Effect.mapError((e) => new RunError({ reason: "Config", message: `the plugin refused its configuration: ${e.details || e.message}` })))
    yield* unary(driver, driver.init, {}).pipe(Effect.mapError(rpcError("Init")))
    let listener: (event: DriverTaskEvent) => void = () => {}
    const events = driver.taskEvents({})
    events.on("data", (event: DriverTaskEvent) => listener(event))
    events.on("error", () => {})
    yield* Effect.addFinalizer(() => Effect.sync(() => events.cancel()))
    return {
      start: (task) => Effect.asVoid(unary(driver, driver.startTask, { task })).pipe(Effect.mapError(startFailure)),
      wait: (id) =>
        unary(driver, driver.waitTask, { taskId: id }).pipe(
          Effect.mapError(rpcError("WaitTask")),
          Effect.map((r) => ({ result: r.result ?? { exitCode: 0, signal: 0, oomKilled: false }, err: r.err }))
        ),
      stop: (id, timeoutMs, signal) => Effect.asVoid(unary(driver, driver.stopTask, { taskId: id, timeout: duration(timeoutMs), signal })).pipe(Effect.mapError(rpcError("StopTask"))),
      destroy: (id) => Effect.asVoid(unary(driver, driver.destroyTask, { taskId: id, force: true })).pipe(Effect.mapError(rpcError("DestroyTask"))),
      signal: (id, signal) => Effect.asVoid(unary(driver, driver.signalTask, { taskId: id, signal })).pipe(Effect.mapError(rpcError("SignalTask"))),
      onEvent: (l) => {
        listener = l
      }
    } satisfies Plugin
  })
