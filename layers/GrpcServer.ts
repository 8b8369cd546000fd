/**
 * The go-plugin side of the plugin process: a grpc-js server on a unix socket serving health,
 * GRPCController, GRPCBroker and GRPCStdio, plus the plugin's own services, whose handlers run as
 * Effects in a FiberSet owned by the server's scope (closing it ends every in-flight call).
 */
import * as grpc from "@grpc/grpc-js"
import { Cause, type Chunk, Context, Data, Deferred, Effect, Exit, Fiber, FiberId, FiberSet, Option, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Any } from "../src/gen/google/protobuf/any.js"
import { Status } from "../src/gen/google/rpc/status.js"
import { HealthCheckResponse_ServingStatus, HealthService } from "../src/gen/grpc/health/v1/health.js"
import { GRPCBrokerService } from "../src/gen/plugin/grpc_broker.js"
import { GRPCControllerService } from "../src/gen/plugin/grpc_controller.js"
import { GRPCStdioService } from "../src/gen/plugin/grpc_stdio.js"
import { RecoverableError } from "../src/gen/plugins/shared/structs/proto/recoverable_error.js"

export class GrpcServerError extends Data.TaggedError("GrpcServerError")<{
  readonly reason: "SocketPath" | "Bind" | "SocketGroup"
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * How a handler fails: a gRPC code and message, and for StartTask whether Nomad may retry.
 * `recoverable` travels as a RecoverableError detail, the only thing Nomad reads from a failure.
 */
export class RpcStatus extends Data.TaggedError("RpcStatus")<{
  readonly code: grpc.status
  readonly message: string
  readonly recoverable?: boolean
}> {}

export class GrpcServer extends Context.Tag("containerd-driver/GrpcServer")<GrpcServer, {
  readonly socketPath: string
  /** Completes when the host calls GRPCController.Shutdown. */
  readonly shutdownRequested: Effect.Effect<void>
}>() {}

export interface ServiceBinding {
  readonly definition: grpc.ServiceDefinition
  readonly implementation: grpc.UntypedServiceImplementation
}

/** Turns Effect handlers into grpc-js handlers running in the server's FiberSet. */
export interface Bridge<R> {
  readonly unary: <Req, Res>(
    handler: (request: Req) => Effect.Effect<Res, RpcStatus, R>
  ) => grpc.handleUnaryCall<Req, Res>
  readonly serverStream: <Req, Res>(
    handler: (request: Req) => Stream.Stream<Res, RpcStatus, R>
  ) => grpc.handleServerStreamingCall<Req, Res>
  /** A bidirectional call: the client's messages as a stream (ending when the client half-closes). */
  readonly duplex: <Req, Res>(
    handler: (requests: Stream.Stream<Req>) => Stream.Stream<Res, RpcStatus, R>
  ) => grpc.handleBidiStreamingCall<Req, Res>
}

export interface Options<R> {
  /** PLUGIN_UNIX_SOCKET_DIR, else the OS temp dir. */
  readonly socketDir: string
  /** PLUGIN_UNIX_SOCKET_GROUP: a group name or gid that gets rw access to the socket. */
  readonly socketGroup?: string | undefined
  readonly services: (bridge: Bridge<R>) => ReadonlyArray<ServiceBinding>
}

const recoverableTypeUrl = "type.googleapis.com/hashicorp.nomad.plugins.shared.structs.RecoverableError"

/**
 * A message that grpc-js can send: it puts the status message through encodeURI, which throws (and the uncaught
 * throw ends the process) on a lone UTF-16 surrogate — one a task config's image name can carry
 * (test/soak/fuzz.test.ts found it). Each lone surrogate becomes U+FFFD.
 */
const wellFormed = (message: string): string =>
  message.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")

/** A grpc-js error; with `recoverable` set, the google.rpc.Status detail Nomad decodes. */
export const toServiceError = (status: RpcStatus): Partial<grpc.StatusObject> => {
  const metadata = new grpc.Metadata()
  if (status.recoverable !== undefined) {
    const detail = Any.fromPartial({
      typeUrl: recoverableTypeUrl,
      value: Buffer.from(RecoverableError.encode({ recoverable: status.recoverable }).finish())
    })
    const encoded = Status.encode({ code: status.code, message: wellFormed(status.message), details: [detail] }).finish()
    metadata.set("grpc-status-details-bin", Buffer.from(encoded))
  }
  return { code: status.code, details: wellFormed(status.message), metadata }
}

const causeToStatus = (cause: Cause.Cause<RpcStatus>): Partial<grpc.StatusObject> => {
  if (Cause.isInterruptedOnly(cause)) return { code: grpc.status.CANCELLED, details: "interrupted" }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return toServiceError(failure.value)
  return { code: grpc.status.INTERNAL, details: wellFormed(Cause.pretty(cause)) }
}

const onCancel = (call: { on(event: "cancelled", listener: () => void): unknown }, fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  call.on("cancelled", () => fiber.unsafeInterruptAsFork(FiberId.none))

const socketName = () => `plugin${Math.floor(Math.random() * 1e9)}`

const groupId = (group: string): number | undefined => {
  if (/^\d+$/.test(group)) return Number(group)
  const line = fs.readFileSync("/etc/group", "utf8").split("\n").find((l) => l.split(":")[0] === group)
  return line === undefined ? undefined : Number(line.split(":")[2])
}

export const make = <R>(options: Options<R>) =>
  Effect.gen(function*() {
    const socketPath = path.resolve(options.socketDir, socketName())
    if (Buffer.byteLength(socketPath) > 107) {
      return yield* new GrpcServerError({
        reason: "SocketPath",
        message: `socket path ${socketPath} is longer than the 107 bytes a unix socket allows; set PLUGIN_UNIX_SOCKET_DIR to a shorter directory`
      })
    }
    const shutdown = yield* Deferred.make<void>()
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<R>()
    // Streams that are not Effects (health watch, broker, stdio) are ended by hand on close.
    const rawStreams = new Set<grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>>()
    const holdOpen = (call: grpc.ServerWritableStream<any, any> | grpc.ServerDuplexStream<any, any>) => {
      rawStreams.add(call)
      call.on("error", () => {})
      const forget = () => rawStreams.delete(call)
      call.on("cancelled", forget)
      call.on("close", forget)
    }

    /** Writes a stream's elements to a call (waiting for the call to drain), then ends it or fails it. */
    const streamTo = <Res>(
      call: grpc.ServerWritableStream<any, Res> | grpc.ServerDuplexStream<any, Res>,
      stream: Stream.Stream<Res, RpcStatus, R>
    ) => {
      call.on("error", () => {})
      // A chunk is written at once; only a call whose buffer is full is waited for (most writes return true, and
      // an async step per message was a large part of what a TaskStats sample cost).
      const drained = Effect.async<void>((resume) => {
        call.once("drain", () => resume(Effect.void))
      })
      const write = (messages: Chunk.Chunk<Res>) =>
        Effect.suspend(() => {
          let room = true
          for (const message of messages) room = call.write(message)
          return room ? Effect.void : drained
        })
      const fiber = run(Stream.runForEachChunk(stream, write))
      onCancel(call, fiber)
      fiber.addObserver(
        Exit.match({
          onSuccess: () => call.end(),
          onFailure: (cause) => (Cause.isInterruptedOnly(cause) ? call.end() : call.emit("error", causeToStatus(cause)))
        })
      )
    }

    const bridge: Bridge<R> = {
      unary: (handler) => (call, callback) => {
        const fiber = run(handler(call.request))
        onCancel(call, fiber)
        fiber.addObserver(
          Exit.match({
            onSuccess: (response) => callback(null, response),
            onFailure: (cause) => callback(causeToStatus(cause), null)
          })
        )
      },
      serverStream: <Req, Res>(handler: (request: Req) => Stream.Stream<Res, RpcStatus, R>) =>
      (call: grpc.ServerWritableStream<Req, Res>) => streamTo(call, handler(call.request)),
      duplex: <Req, Res>(handler: (requests: Stream.Stream<Req>) => Stream.Stream<Res, RpcStatus, R>) =>
      (call: grpc.ServerDuplexStream<Req, Res>) => {
        const requests = Stream.async<Req>((emit) => {
          call.on("data", (message: Req) => emit.single(message))
          call.on("end", () => emit.end())
        })
        streamTo(call, handler(requests))
      }
    }

    const server = new grpc.Server({ "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 })
    const serving = { status: HealthCheckResponse_ServingStatus.SERVING }
    server.addService(HealthService, {
      check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        call.request.service === "" || call.request.service === "plugin"
          ? callback(null, serving)
          : callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` }, null),
      watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        holdOpen(call)
        call.write(serving)
      }
    })
    server.addService(GRPCControllerService, {
      shutdown: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        callback(null, {})
        Deferred.unsafeDone(shutdown, Exit.void)
      }
    })
    server.addService(GRPCBrokerService, {
      // Nomad drivers never use the broker: accept the stream, never send, end when the host does.
      startStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        holdOpen(call)
        call.on("data", () => {})
        call.on("end", () => call.end())
      }
    })
    server.addService(GRPCStdioService, {
      // Nothing is redirected: logs are hclog lines on stderr. Keep the stream open and silent.
      streamStdio: (call: grpc.ServerWritableStream<unknown, unknown>) => holdOpen(call)
    })
    for (const binding of options.services(bridge)) server.addService(binding.definition, binding.implementation)

    yield* Effect.acquireRelease(
      Effect.async<void, GrpcServerError>((resume) => {
        fs.rmSync(socketPath, { force: true })
        server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) =>
          resume(
            error === null
              ? Effect.void
              : Effect.fail(
                new GrpcServerError({ reason: "Bind", message: `cannot listen on ${socketPath}: ${error.message}`, cause: error })
              )
          )
        )
      }),
      () =>
        Effect.gen(function*() {
          for (const call of rawStreams) call.end()
          yield* FiberSet.clear(fibers)
          yield* Effect.async<void>((resume) => server.tryShutdown(() => resume(Effect.void)))
        }).pipe(
          // The host SIGKILLs a plugin that has not exited 2 s after Shutdown: handlers still cleaning
          // up after that get cut off, and the server closes anyway.
          Effect.interruptible,
          Effect.timeoutTo({ duration: "1500 millis", onSuccess: () => true, onTimeout: () => false }),
          Effect.flatMap((graceful) => (graceful ? Effect.void : Effect.sync(() => server.forceShutdown()))),
          Effect.ensuring(Effect.sync(() => fs.rmSync(socketPath, { force: true })))
        )
    )

    const group = options.socketGroup
    if (group !== undefined) {
      yield* Effect.try({
        try: () => {
          const gid = groupId(group)
          if (gid === undefined) throw new Error(`no group ${group} in /etc/group`)
          fs.chownSync(socketPath, -1, gid)
          fs.chmodSync(socketPath, 0o660)
        },
        catch: (cause) =>
          new GrpcServerError({
            reason: "SocketGroup",
            message: `cannot give group ${group} (PLUGIN_UNIX_SOCKET_GROUP) access to ${socketPath}: ${(cause as Error).message}`,
            cause
          })
      })
    }
    return GrpcServer.of({ socketPath, shutdownRequested: Deferred.await(shutdown) })
  })
