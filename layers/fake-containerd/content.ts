/**
 * FakeContainerd's content store: blobs with digest verification, resumable ingests held by one writer at a
 * time, and the server side of the Content.Write protocol, driven by the same client code (writeBlob) as the
 * real daemon.
 */
import { Effect, Either, Exit, type Scope, Stream } from "effect"
import {
  AbortRequest,
  ContentService,
  DeleteContentRequest,
  type Info,
  InfoRequest,
  ListContentRequest,
  ListStatusesRequest,
  ReadContentRequest,
  type Status,
  StatusRequest,
  UpdateRequest,
  WriteAction,
  WriteContentRequest,
  type WriteContentResponse
} from "../../src/gen/github.com/containerd/containerd/api/services/content/v1/content.js"
import { labelledLookup, matchesFilter, parseFilters } from "../../src/containerd/filters.js"
import type { ContentApi } from "../Containerd.js"
import { clientError, type ContainerdError } from "../containerd/ContainerdError.js"
import { maxWriteChunk, writeBlob } from "../containerd/contentWrite.js"
import { type DuplexSession, FRAME_PREFIX, type RequestCodec, type RequestInput, type ServerStream } from "../containerd/rpc.js"
import {
  type CallContext,
  type CallScope,
  fakeUnary,
  type IngestRecord,
  isValidDigest,
  makeCallContext,
  sha256Digest,
  type World
} from "./world.js"

/** Applies an update mask to a label map the way containerd does ("labels" or "labels.<key>"; empty = replace). */
export const applyLabelMask = (
  current: Readonly<Record<string, string>>,
  incoming: Readonly<Record<string, string>>,
  mask: ReadonlyArray<string> | undefined
): Record<string, string> => {
  if (mask === undefined || mask.length === 0 || mask.includes("labels")) return { ...incoming }
  const next: Record<string, string> = { ...current }
  for (const path of mask) {
    if (!path.startsWith("labels.")) continue
    const key = path.slice("labels.".length)
    const value = incoming[key]
    if (value === undefined || value === "") delete next[key]
    else next[key] = value
  }
  return next
}

/** Parses `filters`, failing like the daemon on a syntax error. */
export const filterOf = (context: CallContext, filters: ReadonlyArray<string>) =>
  Either.match(parseFilters(filters), {
    onLeft: (error) => Effect.fail(context.fail("InvalidArgument", `${error.message}: invalid argument`)),
    onRight: (filter) => Effect.succeed(filter)
  })

/** A fake server-streaming RPC. */
export const fakeServerStream = <I, O>(
  world: World,
  definition: { readonly path: string },
  codec: RequestCodec<I>,
  body: (request: I, context: CallContext) => Effect.Effect<Stream.Stream<O, ContainerdError>, ContainerdError>,
  scope: CallScope = "namespaced"
): ServerStream<I, O> =>
(input: RequestInput<I>) =>
  Stream.unwrap(
    Effect.flatMap(makeCallContext(world, definition.path, scope), (context) =>
      Effect.suspend(() => body(codec.fromPartial(input as never), context)))
  )

const statusOf = (ingest: IngestRecord): Status => ({
  startedAt: ingest.startedAt,
  updatedAt: ingest.updatedAt,
  ref: ingest.ref,
  offset: BigInt(ingest.data.length),
  total: ingest.total,
  expected: ingest.expected
})

const notFoundDigest = (context: CallContext, digest: string) =>
  context.fail("NotFound", `content digest ${digest}: not found`)

const checkDigest = (context: CallContext, digest: string) =>
  isValidDigest(digest) ? Effect.void : Effect.fail(context.fail("InvalidArgument", `"${digest}" failed validation`))

/** The daemon's side of one Content.Write stream. */
const openWriteSession = (
  world: World
): Effect.Effect<DuplexSession<WriteContentRequest, WriteContentResponse>, ContainerdError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* makeCallContext(world, ContentService.write.path, "namespaced")
    let ingest: IngestRecord | undefined
    let closed = false
    const release = () => {
      if (ingest !== undefined) ingest.locked = false
    }
    yield* Effect.addFinalizer(() => Effect.sync(release))

    const open = (request: WriteContentRequest): Effect.Effect<IngestRecord, ContainerdError> =>
      Effect.gen(function*() {
        if (request.ref === "") return yield* Effect.fail(context.fail("InvalidArgument", "first message must have a reference"))
        const ns = context.state()
        if (request.expected !== "" && ns.content.has(request.expected)) {
          yield* context.addToLease({ id: request.expected, type: "content" })
          return yield* Effect.fail(context.fail("AlreadyExists", `content ${request.expected}: already exists`))
        }
        const existing = ns.ingests.get(request.ref)
        if (existing?.locked === true) {
          return yield* Effect.fail(
            context.fail("Unavailable", `ref ${context.namespace}/1/${request.ref} locked for 0s (since ${existing.updatedAt.toISOString()})`)
          )
        }
        yield* context.addToLease({ id: request.ref, type: "ingests" })
        const record: IngestRecord = existing ?? {
          ref: request.ref,
          data: Buffer.alloc(0),
          total: 0n,
          expected: "",
          startedAt: context.now,
          updatedAt: context.now,
          locked: false
        }
        record.locked = true
        ns.ingests.set(request.ref, record)
        return record
      })

    const handle = (request: WriteContentRequest): Effect.Effect<WriteContentResponse, ContainerdError> =>
      Effect.gen(function*() {
        const current = ingest ?? (yield* open(request))
        ingest = current
        if (request.total > 0n) current.total = request.total
        if (request.expected !== "") current.expected = request.expected
        if (request.action !== WriteAction.STAT && (request.data.length > 0 || request.action === WriteAction.WRITE)) {
          const offset = BigInt(current.data.length)
          if (request.offset > 0n && request.offset !== offset) {
            return yield* Effect.fail(context.fail("OutOfRange", `write @${request.offset} must occur at current offset ${offset}`))
          }
          if (request.data.length > 0) {
            // Offset 0 on a non-empty ingest restarts it.
            current.data = request.offset === 0n ? Buffer.from(request.data) : Buffer.concat([current.data, request.data])
            current.updatedAt = context.now
          }
        }
        const response = (digest: string): WriteContentResponse => ({
          action: request.action,
          startedAt: current.startedAt,
          updatedAt: current.updatedAt,
          offset: BigInt(current.data.length),
          total: current.total,
          digest
        })
        if (request.action !== WriteAction.COMMIT) return response(sha256Digest(current.data))
        const ns = context.state()
        const size = BigInt(current.data.length)
        if (current.total > 0n && size !== current.total) {
          return yield* Effect.fail(context.fail("FailedPrecondition", `unexpected commit size ${size}, expected ${current.total}`))
        }
        const digest = sha256Digest(current.data)
        if (current.expected !== "" && digest !== current.expected) {
          return yield* Effect.fail(
            context.fail("FailedPrecondition", `unexpected commit digest ${digest}, expected ${current.expected}`)
          )
        }
        ns.ingests.delete(current.ref)
        if (ns.content.has(digest)) {
          yield* context.addToLease({ id: digest, type: "content" })
          return yield* Effect.fail(context.fail("AlreadyExists", `content ${digest}: already exists`))
        }
        yield* context.addToLease({ id: digest, type: "content" })
        ns.content.set(digest, {
          info: { digest, size, createdAt: context.now, updatedAt: context.now, labels: { ...request.labels } },
          data: current.data
        })
        closed = true
        return response(digest)
      })

    const ended = clientError("Unknown", "Content.Write", "stream ended before a response arrived")
    /** Like the daemon: requests are handled in arrival order; the first failure ends the stream. */
    const answer = (request: WriteContentRequest): Effect.Effect<WriteContentResponse, ContainerdError> =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(ended)
        return handle(request).pipe(
          Effect.tapError(() =>
            Effect.sync(() => {
              closed = true
              release()
            })
          )
        )
      })
    /** Answers to requests sent with sendFramed, oldest first; after the stream's error nothing more is answered. */
    const answers: Array<Exit.Exit<WriteContentResponse, ContainerdError>> = []
    let failedAnswer = false

    const session: DuplexSession<WriteContentRequest, WriteContentResponse> = {
      exchange: (input) => Effect.suspend(() => answer(WriteContentRequest.fromPartial(input as never))),
      sendFramed: (framed) => {
        if (failedAnswer) return
        // The fake's handlers are synchronous: answered at once, taken in order by `receive`.
        const exit = Effect.runSync(Effect.exit(answer(WriteContentRequest.decode(framed.subarray(FRAME_PREFIX)))))
        if (Exit.isFailure(exit)) failedAnswer = true
        answers.push(exit)
      },
      receive: Effect.suspend(() => answers.shift() ?? Effect.fail(ended)),
      end: Effect.sync(() => {
        closed = true
        release()
      })
    }
    return session
  })

export const makeFakeContent = (world: World): ContentApi => {
  const C = ContentService
  const abort = fakeUnary(world, C.abort, AbortRequest, "namespaced", (request, context) => {
    const ns = context.view
    if (!ns.ingests.has(request.ref)) return Effect.fail(context.fail("NotFound", `reference ${request.ref}: not found`))
    ns.ingests.delete(request.ref)
    return Effect.succeed({})
  })
  return {
    info: fakeUnary(world, C.info, InfoRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        yield* checkDigest(context, request.digest)
        const blob = context.view.content.get(request.digest)
        if (blob === undefined) return yield* Effect.fail(notFoundDigest(context, request.digest))
        return { info: { ...blob.info, labels: { ...blob.info.labels } } }
      })),
    update: fakeUnary(world, C.update, UpdateRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const digest = request.info?.digest ?? ""
        yield* checkDigest(context, digest)
        const blob = context.view.content.get(digest)
        if (blob === undefined) return yield* Effect.fail(notFoundDigest(context, digest))
        blob.info = {
          ...blob.info,
          labels: applyLabelMask(blob.info.labels, request.info?.labels ?? {}, request.updateMask),
          updatedAt: context.now
        }
        return { info: { ...blob.info } }
      })),
    list: fakeServerStream(world, C.list, ListContentRequest, (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => {
        const info: Array<Info> = [...context.view.content.values()]
          .map((blob) => blob.info)
          .filter((i) => matchesFilter(filter, labelledLookup({ digest: i.digest, size: String(i.size) }, i.labels)))
        return info.length === 0 ? Stream.empty : Stream.make({ info })
      })),
    delete: fakeUnary(world, C.delete, DeleteContentRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        yield* checkDigest(context, request.digest)
        if (!context.view.content.delete(request.digest)) return yield* Effect.fail(notFoundDigest(context, request.digest))
        return {}
      })),
    read: fakeServerStream(world, C.read, ReadContentRequest, (request, context) =>
      Effect.gen(function*() {
        yield* checkDigest(context, request.digest)
        const blob = context.view.content.get(request.digest)
        if (blob === undefined) return yield* Effect.fail(notFoundDigest(context, request.digest))
        const start = Number(request.offset)
        const end = request.size > 0n ? Math.min(blob.data.length, start + Number(request.size)) : blob.data.length
        const chunks: Array<{ offset: bigint; data: Buffer }> = []
        for (let at = start; at < end; at += maxWriteChunk) {
          chunks.push({ offset: BigInt(at), data: blob.data.subarray(at, Math.min(end, at + maxWriteChunk)) })
        }
        return Stream.fromIterable(chunks)
      })),
    status: fakeUnary(world, C.status, StatusRequest, "namespaced", (request, context) => {
      const ingest = context.view.ingests.get(request.ref)
      return ingest === undefined
        ? Effect.fail(context.fail("NotFound", `could not get status for ref "${request.ref}": reference ${request.ref}: not found`))
        : Effect.succeed({ status: statusOf(ingest) })
    }),
    listStatuses: fakeUnary(world, C.listStatuses, ListStatusesRequest, "namespaced", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        statuses: [...context.view.ingests.values()]
          .filter((ingest) => matchesFilter(filter, labelledLookup({ ref: ingest.ref })))
          .map(statusOf)
      }))),
    write: (options) => writeBlob(openWriteSession(world), (ref) => abort({ ref }), options),
    abort
  }
}
