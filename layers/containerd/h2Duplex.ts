/**
 * A gRPC bidi call on a plain HTTP/2 connection (node:http2) instead of grpc-js, for Content.Write's bulk bytes:
 * grpc-js's per-message path (object-mode stream, retry buffering, a fresh framed copy of every message) costs
 * more CPU than moving the bytes. Here requests are written as they are (callers leave room for the 5-byte gRPC
 * message prefix), answers are parsed from the DATA frames, and the status comes from the trailers (or from a
 * trailers-only response). The connection is opened on first use, replaced when it fails, and closed with the
 * scope; no pings are sent (containerd answers frequent pings with GOAWAY).
 */
import * as http2 from "node:http2"
import * as net from "node:net"
import { Effect, Exit, Option, Queue, type Scope } from "effect"
import { resolveCallContext } from "./callContext.js"
import { clientError, type ContainerdError, fromGrpcError, shortMethodName, socketPath } from "./ContainerdError.js"
import { type DuplexSession, FRAME_PREFIX, type MethodDefinition, type RequestCodec } from "./rpc.js"

export interface H2Duplex {
  readonly duplex: <I, O>(
    definition: MethodDefinition<I, O>,
    codec: RequestCodec<I>
  ) => Effect.Effect<DuplexSession<I, O>, ContainerdError, Scope.Scope>
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
const decodeGrpcMessage = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

const headerString = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/** The gRPC status in (trailing or trailers-only) headers, if there is one. */
const statusOf = (headers: http2.IncomingHttpHeaders): Option.Option<{ readonly code: number; readonly details: string }> => {
  const status = headerString(headers["grpc-status"])
  if (status === undefined) return Option.none()
  return Option.some({ code: Number(status), details: decodeGrpcMessage(headerString(headers["grpc-message"]) ?? "") })
}

export interface H2DuplexOptions {
  /** containerd's socket (a path or a "unix:" target). */
  readonly address: string
  /** Namespace of calls made outside `inNamespace`. */
  readonly defaultNamespace: string
}

/** gRPC metadata values are printable ASCII (grpc-js refuses others; HTTP/2 would reset the stream). */
const isValidMetadataValue = (value: string): boolean => /^[\x20-\x7e]*$/.test(value)

export const makeH2Duplex = (options: H2DuplexOptions): Effect.Effect<H2Duplex, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { address } = options
    const path = socketPath(address)
    let session: http2.ClientHttp2Session | undefined

    const connection = (): http2.ClientHttp2Session => {
      if (session !== undefined && !session.closed && !session.destroyed) return session
      const created = http2.connect("http://localhost", {
        createConnection: () => net.connect(path),
        // Node refuses new streams (ENHANCE_YOUR_CALM) while the session's memory, queued outgoing data included,
        // is over this many MB (default 10: a few concurrent writes reach it). What is queued is already bounded
        // by each write's window, and the peer is the local containerd.
        maxSessionMemory: 1024
      })
      // Failures reach the streams ('error' on each); a failed or closed session is replaced on next use.
      created.on("error", () => {})
      created.on("close", () => {
        if (session === created) session = undefined
      })
      created.on("goaway", () => {
        if (session === created) session = undefined
      })
      session = created
      return created
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        session?.close()
        session = undefined
      })
    )

    const duplex = <I, O>(
      definition: MethodDefinition<I, O>,
      codec: RequestCodec<I>
    ): Effect.Effect<DuplexSession<I, O>, ContainerdError, Scope.Scope> =>
      Effect.gen(function*() {
        const method = shortMethodName(definition.path)
        const { lease, namespace } = yield* resolveCallContext(options.defaultNamespace)
        if (!isValidMetadataValue(namespace) || (Option.isSome(lease) && !isValidMetadataValue(lease.value))) {
          return yield* Effect.fail(clientError("InvalidArgument", method, "invalid namespace or lease id: not printable ASCII"))
        }
        const headers: http2.OutgoingHttpHeaders = {
          ":method": "POST",
          ":path": definition.path,
          "content-type": "application/grpc",
          te: "trailers",
          "containerd-namespace": namespace,
          ...(Option.isSome(lease) ? { "containerd-lease": lease.value } : {})
        }
        const inbox = yield* Queue.unbounded<Exit.Exit<O, ContainerdError>>()
        let finished = false
        const finish = (exit: Exit.Exit<O, ContainerdError>) => {
          if (finished) return
          finished = true
          inbox.unsafeOffer(exit)
        }
        const failWith = (code: number, details: string) => finish(Exit.fail(fromGrpcError({ code, details }, definition.path, address)))

        const stream = yield* Effect.acquireRelease(
          Effect.try({
            try: () => connection().request(headers, { endStream: false }),
            catch: (cause) => fromGrpcError({ code: 14, details: String(cause) }, definition.path, address)
          }),
          // Ending the scope before the call finished cancels it (RST_STREAM CANCEL), as grpc-js does.
          (stream) =>
            Effect.sync(() => {
              if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL)
            })
        )

        let pending: Buffer = Buffer.alloc(0)
        stream.on("data", (data: Buffer) => {
          pending = pending.length === 0 ? data : Buffer.concat([pending, data])
          while (pending.length >= FRAME_PREFIX) {
            const length = pending.readUInt32BE(1)
            if (pending.length < FRAME_PREFIX + length) break
            const message = pending.subarray(FRAME_PREFIX, FRAME_PREFIX + length)
            pending = pending.subarray(FRAME_PREFIX + length)
            try {
              inbox.unsafeOffer(Exit.succeed(definition.responseDeserialize(message)))
            } catch (cause) {
              failWith(13, `cannot decode a response: ${String(cause)}`)
            }
          }
        })
        const onStatus = (received: http2.IncomingHttpHeaders) =>
          Option.match(statusOf(received), {
            onNone: () => {},
            onSome: ({ code, details }) =>
              code === 0 ?
                finish(Exit.fail(clientError("Unknown", method, "stream ended before a response arrived"))) :
                failWith(code, details)
          })
        stream.on("response", onStatus)
        stream.on("trailers", onStatus)
        stream.on("error", (error: NodeJS.ErrnoException) => failWith(14, `${error.code ?? "ERROR"}: ${error.message}`))
        stream.on("close", () => failWith(14, `stream closed (HTTP/2 code ${stream.rstCode ?? 0})`))

        const frame = (message: Uint8Array): Buffer => {
          const framed = Buffer.allocUnsafe(FRAME_PREFIX + message.length)
          framed[0] = 0
          framed.writeUInt32BE(message.length, 1)
          framed.set(message, FRAME_PREFIX)
          return framed
        }
        const receive = Effect.flatten(Queue.take(inbox))
        const session: DuplexSession<I, O> = {
          exchange: (input) =>
            Effect.suspend(() => {
              let bytes: Buffer
              try {
                bytes = definition.requestSerialize(codec.fromPartial(input as never))
              } catch (cause) {
                return Effect.fail(clientError("InvalidArgument", method, `invalid request: ${String(cause)}`, cause))
              }
              if (!finished) stream.write(frame(bytes))
              return receive
            }),
          sendFramed: (framed) => {
            if (finished) return
            framed[0] = 0
            framed.writeUInt32BE(framed.length - FRAME_PREFIX, 1)
            stream.write(framed)
          },
          receive,
          end: Effect.sync(() => {
            if (!stream.closed) stream.end()
          })
        }
        return session
      })

    return { duplex }
  })
