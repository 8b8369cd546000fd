/**
 * The plugin process as Nomad launches it: serve the go-plugin protocol until the host calls
 * GRPCController.Shutdown (or sends SIGTERM), then close every resource and remove the socket.
 */
import { Effect } from "effect"
import * as os from "node:os"
import { handshakeLine } from "../src/plugin/GoPlugin.js"
import * as Driver from "./Driver.js"
import * as GrpcServer from "./GrpcServer.js"
import * as NomadRpc from "./NomadRpc.js"

export interface Options extends Driver.Options {
  readonly env: NodeJS.ProcessEnv
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
  }).pipe(Effect.scoped, Effect.provide(Driver.layer(options)))

