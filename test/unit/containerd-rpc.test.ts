// The grpc-js ↔ Effect bridge of the Containerd layer, against a small in-process gRPC server on a temporary unix
// socket that plays containerd: metadata headers, interruption cancelling calls and streams, deadlines, the 16 MiB
// message limit and status → ContainerdError mapping.
import { it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Deferred, Effect, Fiber, Runtime, type Scope, Stream } from "effect"
import { describe, expect } from "vitest"
import { EventsService } from "../../src/gen/github.com/containerd/containerd/api/services/events/v1/events.js"
import { LeasesService } from "../../src/gen/github.com/containerd/containerd/api/services/leases/v1/leases.js"
import { VersionService } from "../../src/gen/github.com/containerd/containerd/api/services/version/v1/version.js"
import { Containerd, inLease, inNamespace, layer } from "../../layers/Containerd.js"

interface FakeServerHandlers {
  readonly version?: grpc.handleUnaryCall<unknown, unknown>
  readonly leasesList?: grpc.handleUnaryCall<unknown, unknown>
  readonly subscribe?: grpc.handleServerStreamingCall<unknown, unknown>
}

/** A gRPC server on a temporary unix socket, shut down with the scope. */
const fakeServer = (handlers: FakeServerHandlers): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: grpc.Server; dir: string; socket: string }>((resume) => {
      const dir = mkdtempSync(join(tmpdir(), "cd-rpc-"))
      const socket = join(dir, "fake.sock")
      const server = new grpc.Server()
      const unimplemented = (_: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: "not in this fake" })
      server.addService(VersionService, { version: handlers.version ?? unimplemented })
      server.addService(LeasesService, {
        create: unimplemented,
        delete: unimplemented,
        list: handlers.leasesList ?? unimplemented,
        addResource: unimplemented,
        deleteResource: unimplemented,
        listResources: unimplemented
      })
      server.addService(EventsService, {
        publish: unimplemented,
        forward: unimplemented,
        subscribe: handlers.subscribe ?? ((call: grpc.ServerWritableStream<unknown, unknown>) => call.end())
      })
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), () => resume(Effect.succeed({ server, dir, socket })))
    }),
    ({ dir, server }) =>
      Effect.sync(() => {
        server.forceShutdown()
        rmSync(dir, { recursive: true, force: true })
      })
  ).pipe(Effect.map(({ socket }) => socket))

const versionResponse = (version: string) => ({ version, revision: "test" })

describe("Containerd rpc bridge", () => {
  it.scopedLive("sends containerd-namespace on namespaced calls, honours inNamespace/inLease, none on global calls", () =>
    Effect.gen(function*() {
      const seen: Array<Record<string, unknown>> = []
      const socket = yield* fakeServer({
        version: (call, callback) => {
          seen.push({ call: "version", ...call.metadata.getMap() })
          callback(null, versionResponse("1.7.0"))
        },
        leasesList: (call, callback) => {
          seen.push({ call: "leases", ...call.metadata.getMap() })
          callback(null, { leases: [] })
        }
      })
      yield* Effect.gen(function*() {
        const cd = yield* Containerd
        yield* cd.version
        yield* cd.leases.list({})
        yield* cd.leases.list({}).pipe(inNamespace("other"))
        yield* cd.leases.list({}).pipe(inLease("lease-1"), inNamespace("third"))
      }).pipe(Effect.provide(layer({ address: socket, namespace: "default-ns" })))
      expect(seen.map(({ call, ...headers }) => ({
        call,
        namespace: headers["containerd-namespace"],
        lease: headers["containerd-lease"]
      }))).toEqual([
        { call: "version", namespace: undefined, lease: undefined },
        { call: "leases", namespace: "default-ns", lease: undefined },
        { call: "leases", namespace: "other", lease: undefined },
        { call: "leases", namespace: "third", lease: "lease-1" }
      ])
    }))

  it.scopedLive("interrupting a unary call cancels it on the server", () =>
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      const started = yield* Deferred.make<void>()
      const cancelled = yield* Deferred.make<void>()
      const socket = yield* fakeServer({
        version: (call) => {
          call.on("cancelled", () => Runtime.runSync(runtime)(Deferred.succeed(cancelled, undefined)))
          Runtime.runSync(runtime)(Deferred.succeed(started, undefined))
        }
      })
      yield* Effect.gen(function*() {
        const cd = yield* Containerd
        const fiber = yield* Effect.fork(cd.version)
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        yield* Deferred.await(cancelled)
      }).pipe(Effect.provide(layer({ address: socket, namespace: "ns" })))
      expect(yield* Deferred.isDone(cancelled)).toBe(true)
    }))

  it.scopedLive("unary calls get the configured deadline and fail with DeadlineExceeded", () =>
    Effect.gen(function*() {
      const socket = yield* fakeServer({ version: () => {} })
      const error = yield* Effect.flip(Effect.flatMap(Containerd, (cd) => cd.version)).pipe(
        Effect.provide(layer({ address: socket, namespace: "ns", timeouts: { call: "200 millis" } }))
      )
      expect(error.reason).toBe("DeadlineExceeded")
      expect(error.method).toBe("Version.Version")
    }))

  it.scopedLive("maps a containerd status to reason, method and containerd's message", () =>
    Effect.gen(function*() {
      const socket = yield* fakeServer({
        leasesList: (_, callback) => callback({ code: grpc.status.NOT_FOUND, details: "lease x: not found" })
      })
      const error = yield* Effect.flip(Effect.flatMap(Containerd, (cd) => cd.leases.list({}))).pipe(
        Effect.provide(layer({ address: socket, namespace: "ns" }))
      )
      expect(error.reason).toBe("NotFound")
      expect(error.method).toBe("Leases.List")
      expect(error.detail).toBe("lease x: not found")
      expect(error.message).toBe("containerd Leases.List: lease x: not found")
      expect(error.unreachable).toBe(false)
    }))

  it.scopedLive("accepts responses larger than grpc-js's default 4 MiB limit", () =>
    Effect.gen(function*() {
      const big = "x".repeat(6 << 20)
      const socket = yield* fakeServer({ version: (_, callback) => callback(null, versionResponse(big)) })
      const response = yield* Effect.flatMap(Containerd, (cd) => cd.version).pipe(
        Effect.provide(layer({ address: socket, namespace: "ns" }))
      )
      expect(response.version.length).toBe(big.length)
    }))

  it.scopedLive("a server stream yields messages in order and ending it early cancels the call", () =>
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      const cancelled = yield* Deferred.make<void>()
      const socket = yield* fakeServer({
        subscribe: (call) => {
          call.on("cancelled", () => Runtime.runSync(runtime)(Deferred.succeed(cancelled, undefined)))
          let n = 0
          const timer = setInterval(() => call.write({ topic: `/test/${n++}`, namespace: "ns" }), 5)
          call.on("cancelled", () => clearInterval(timer))
        }
      })
      const topics = yield* Effect.flatMap(Containerd, (cd) =>
        cd.events.subscribe({}).pipe(Stream.take(3), Stream.map((e) => e.topic), Stream.runCollect)
      ).pipe(Effect.provide(layer({ address: socket, namespace: "ns" })))
      expect([...topics]).toEqual(["/test/0", "/test/1", "/test/2"])
      yield* Deferred.await(cancelled)
    }))

  it.scopedLive("a server stream that fails surfaces a ContainerdError", () =>
    Effect.gen(function*() {
      const socket = yield* fakeServer({
        subscribe: (call) => {
          call.write({ topic: "/first" })
          call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "bad filter: invalid argument" })
        }
      })
      const result = yield* Effect.flatMap(Containerd, (cd) =>
        cd.events.subscribe({ filters: ["???"] }).pipe(Stream.runCollect, Effect.flip)
      ).pipe(Effect.provide(layer({ address: socket, namespace: "ns" })))
      expect(result.reason).toBe("InvalidArgument")
      expect(result.method).toBe("Events.Subscribe")
    }))
})
