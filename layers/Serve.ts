/**
 * The plugin process as Nomad launches it: serve the go-plugin protocol until the host calls
 * GRPCController.Shutdown (or sends SIGTERM), then close every resource and remove the socket.
 * Running tasks are not stopped: containerd's shims own them, and the next plugin process recovers them.
 */
import { Effect, Layer } from "effect"
import * as os from "node:os"
import { handshakeLine } from "../src/plugin/GoPlugin.js"
import * as Exec from "./Exec.js"
import * as Fingerprinter from "./Fingerprinter.js"
import * as GrpcServer from "./GrpcServer.js"
import * as ImageGc from "./ImageGc.js"
import * as Network from "./Network.js"
import * as NodeConfig from "./NodeConfig.js"
import * as NomadRpc from "./NomadRpc.js"
import * as Reaper from "./Reaper.js"
import * as TaskEvents from "./TaskEvents.js"
import * as Stats from "./Stats.js"
import * as Tasks from "./Tasks.js"

export interface Options {
  readonly env: NodeJS.ProcessEnv
  readonly node?: NodeConfig.Options
  readonly fingerprint?: Fingerprinter.Options
}

/** The driver's services, wired together. */
export const driverLayer = (options: Omit<Options, "env"> = {}): Layer.Layer<NomadRpc.Services | ImageGc.ImageGc | Reaper.Reaper> => {
  const base = Layer.mergeAll(NodeConfig.layer(options.node), TaskEvents.layer, Network.layer)
  const gc = ImageGc.layer.pipe(Layer.provideMerge(base))
  const tasks = Tasks.layer.pipe(Layer.provideMerge(gc))
  return Layer.mergeAll(Fingerprinter.layer(options.fingerprint), Exec.layer, Stats.layer(), Reaper.layer).pipe(
    Layer.provideMerge(tasks)
  )
}

export const program = (options: Options) =>
  Effect.gen(function*() {
    const server = yield* GrpcServer.make({
      socketDir: options.env["PLUGIN_UNIX_SOCKET_DIR"] || os.tmpdir(),
      socketGroup: options.env["PLUGIN_UNIX_SOCKET_GROUP"] || undefined,
      services: NomadRpc.services
    })
    process.stdout.write(handshakeLine(server.socketPath))
    yield* Effect.logDebug(`serving on ${server.socketPath}`)
    yield* server.shutdownRequested
    yield* Effect.logDebug("shutdown requested by the host")
  }).pipe(Effect.scoped, Effect.provide(driverLayer(options)))
