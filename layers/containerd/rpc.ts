/**
 * Bridges grpc-js calls on one shared client to Effect: unary calls become Effects (interrupting the
 * fiber cancels the call), server streams become Streams (ending or interrupting the stream cancels
 * the call). Every failure is a ContainerdError. The one bidi call, Content.Write, is a DuplexSession
 * (declared here, implemented on plain HTTP/2 in h2Duplex.ts and by FakeContainerd).
 */
import * as grpc from "@grpc/grpc-js"
import { Duration, Effect, Option, Stream } from "effect"
import { resolveCallContext } from "./callContext.js"
import { clientError, type ContainerdError, fromGrpcError, shortMethodName } from "./ContainerdError.js"

/**
 * What callers pass as a request: the generated message with every field optional, recursively
 * (proto3 fields default to zero values). Scalars, bytes, bigints and Dates are taken as they are.
 */
export type RequestInput<T> = T extends string | number | boolean | bigint | Date | Uint8Array | undefined ? T
  : T extends ReadonlyArray<infer U> ? ReadonlyArray<RequestInput<U>>
  : T extends object ? { readonly [K in keyof T]?: RequestInput<T[K]> }
  : T

/** The parts of a ts-proto grpc-js method definition the bridge uses. */
export interface MethodDefinition<I, O> {
  readonly path: string
  readonly requestSerialize: (value: I) => Buffer
  readonly responseDeserialize: (value: Buffer) => O
}

/** The generated message object of a request type (its `fromPartial` fills proto3 defaults). */
export interface RequestCodec<I> {
  readonly fromPartial: (object: never) => I
}

export interface CallKind {
  /** Send the `containerd-namespace` (and lease) headers. */
  readonly namespaced: boolean
  /** Apply the layer's call timeout. Off for calls that legitimately block (Tasks.Wait, Diff.Apply). */
  readonly deadline: boolean
}

export const namespacedCall: CallKind = { namespaced: true, deadline: true }
export const globalCall: CallKind = { namespaced: false, deadline: true }
export const blockingCall: CallKind = { namespaced: true, deadline: false }

export type Unary<I, O> = (request: RequestInput<I>) => Effect.Effect<O, ContainerdError>
export type ServerStream<I, O> = (request: RequestInput<I>) => Stream.Stream<O, ContainerdError>

/** Bytes before each gRPC message on the wire (compressed flag, big-endian length): see DuplexSession.sendFramed. */
export const FRAME_PREFIX = 5

/**
 * A bidi session where each request is answered by exactly one response, in order. `exchange` is one request
 * and its answer; `sendFramed` and `receive` pipeline: send several requests, then take their answers.
 */
export interface DuplexSession<I, O> {
  /** Sends a request and waits for its answer (no other request may be waiting for one). */
  readonly exchange: (request: RequestInput<I>) => Effect.Effect<O, ContainerdError>
  /**
   * Sends a request already encoded as protobuf bytes, after FRAME_PREFIX bytes the session may overwrite (room
   * for gRPC's message prefix, so no copy is needed), without waiting for its answer. The buffer is read later, not
   * copied: keep it unchanged until that request's answer arrived. Nothing is sent once the stream ended;
   * `receive` reports why. A plain function: it is called for every message of a blob, from a byte sink.
   */
  readonly sendFramed: (framed: Buffer) => void
  /** The answer to the oldest request not yet answered (its error, when the stream failed). */
  readonly receive: Effect.Effect<O, ContainerdError>
  /** Half-closes the client side after the last exchange. */
  readonly end: Effect.Effect<void>
}

export interface Rpc {
  readonly unary: <I, O>(definition: MethodDefinition<I, O>, codec: RequestCodec<I>, kind: CallKind) => Unary<I, O>
  readonly serverStream: <I, O>(
    definition: MethodDefinition<I, O>,
    codec: RequestCodec<I>,
    kind: CallKind
  ) => ServerStream<I, O>
}

export interface RpcOptions {
  readonly client: grpc.Client
  readonly address: string
  readonly defaultNamespace: string
  readonly callTimeout: Duration.Duration
}

export const makeRpc = (options: RpcOptions): Rpc => {
  const { address, client } = options

  const metadataFor = (path: string, kind: CallKind): Effect.Effect<grpc.Metadata, ContainerdError> =>
    Effect.flatMap(resolveCallContext(options.defaultNamespace), ({ lease, namespace }) =>
      Effect.try({
        try: () => {
          const metadata = new grpc.Metadata()
          if (kind.namespaced) {
            metadata.set("containerd-namespace", namespace)
            if (Option.isSome(lease)) metadata.set("containerd-lease", lease.value)
          }
          return metadata
        },
        // grpc-js refuses header values outside printable ASCII.
        catch: (cause) =>
          clientError("InvalidArgument", shortMethodName(path), `invalid namespace or lease id: ${String(cause)}`, cause)
      }))

  const callOptions = (kind: CallKind): grpc.CallOptions =>
    kind.deadline ? { deadline: Date.now() + Duration.toMillis(options.callTimeout) } : {}

  const buildRequest = <I>(path: string, codec: RequestCodec<I>, input: unknown): Effect.Effect<I, ContainerdError> =>
    Effect.try({
      try: () => codec.fromPartial(input as never),
      catch: (cause) => clientError("InvalidArgument", shortMethodName(path), `invalid request: ${String(cause)}`, cause)
    })

  const toError = (path: string) => (error: unknown): ContainerdError =>
    fromGrpcError(typeof error === "object" && error !== null ? error : { message: String(error) }, path, address)

  const unary = <I, O>(definition: MethodDefinition<I, O>, codec: RequestCodec<I>, kind: CallKind): Unary<I, O> =>
  (input) =>
    Effect.flatMap(
      Effect.zip(buildRequest(definition.path, codec, input), metadataFor(definition.path, kind)),
      ([request, metadata]) =>
        Effect.async<O, ContainerdError>((resume) => {
          const call = client.makeUnaryRequest(
            definition.path,
            definition.requestSerialize,
            definition.responseDeserialize,
            request,
            metadata,
            callOptions(kind),
            (error, response) => {
              if (error !== null || response === undefined) {
                resume(Effect.fail(toError(definition.path)(error ?? { code: 2, details: "empty response" })))
              } else {
                resume(Effect.succeed(response))
              }
            }
          )
          return Effect.sync(() => call.cancel())
        })
    )

  const serverStream = <I, O>(
    definition: MethodDefinition<I, O>,
    codec: RequestCodec<I>,
    kind: CallKind
  ): ServerStream<I, O> =>
  (input) =>
    Stream.unwrapScoped(
      Effect.gen(function*() {
        const request = yield* buildRequest(definition.path, codec, input)
        const metadata = yield* metadataFor(definition.path, kind)
        const call = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const call = client.makeServerStreamRequest(
              definition.path,
              definition.requestSerialize,
              definition.responseDeserialize,
              request,
              metadata,
              callOptions(kind)
            )
            // Cancelling emits an error; keep a listener so it is never an unhandled 'error' event.
            call.on("error", () => {})
            return call
          }),
          (call) => Effect.sync(() => call.cancel())
        )
        // A Node Readable: async iteration gives backpressure (the call is paused while we do not pull). Ending
        // the stream cancels the call first: the iterator's return() waits for a pending next(), which a quiet
        // stream (Events.Subscribe) never settles.
        const iterable: AsyncIterable<O> = {
          [Symbol.asyncIterator]: () => {
            const iterator = (call as AsyncIterable<O>)[Symbol.asyncIterator]()
            return {
              next: () => iterator.next(),
              return: (value?: unknown) => {
                call.cancel()
                return iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined })
              }
            }
          }
        }
        return Stream.fromAsyncIterable(iterable, toError(definition.path))
      })
    )

  return { unary, serverStream }
}
