/**
 * The Content.Write protocol (containerd/containerd api/services/content/v1/content.proto,
 * services/content/contentserver) as one call: open the ingest with STAT, send the bytes as WRITE messages at
 * increasing offsets (the first at offset 0, which also restarts a stale ingest under the same ref), then COMMIT
 * with the expected size, digest and labels. ALREADY_EXISTS (at open or commit) means containerd has the blob:
 * success without writing. Any other failure or an interruption aborts the ingest so it does not linger.
 *
 * The daemon answers every WRITE, in order, but handles the next one as soon as it arrives: the WRITEs are
 * pipelined, a few in flight, each answer checked against the offset its message must end at. The source's
 * bytes are copied once, as they arrive, straight into the encoded message (buffers reused once their message is
 * answered).
 */
import { Cause, Effect, Option, type Scope, type Stream } from "effect"
import {
  type WriteContentRequest,
  type WriteContentResponse,
  WriteAction
} from "../../src/gen/github.com/containerd/containerd/api/services/content/v1/content.js"
import * as ByteSource from "../../src/stream/ByteSource.js"
import { clientError, type ContainerdError } from "./ContainerdError.js"
import { type DuplexSession, FRAME_PREFIX } from "./rpc.js"

/** containerd's own read/write buffers are 1 MiB (the size of its Content.Read messages). */
export const maxWriteChunk = 1 << 20

export interface WriteTuning {
  /** Data bytes per WRITE message. */
  readonly chunkSize: number
  /** WRITE messages sent and not yet answered, at most. */
  readonly window: number
}

export const defaultWriteTuning: WriteTuning = { chunkSize: maxWriteChunk, window: 4 }

export interface WriteBlobOptions<E, R> {
  /** Ingest reference; unique per concurrent writer (another writer on the same ref gets Unavailable). */
  readonly ref: string
  /** Expected digest, e.g. "sha256:…"; containerd verifies it on commit. */
  readonly expected: string
  /** Expected size in bytes. */
  readonly total: bigint | number
  /** Labels of the committed blob (e.g. GC references). */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** The blob's bytes from the start, in pieces of any size: a Stream, or pushed by a ByteSource (cheaper). */
  readonly data: Stream.Stream<Uint8Array, E, R> | ByteSource.ByteSource<E, R>
  /** Runs as containerd confirms each WRITE, with its byte count (progress). */
  readonly onWritten?: ((bytes: number) => Effect.Effect<void>) | undefined
}

export interface WriteBlobResult {
  readonly digest: string
  readonly size: bigint
  /** True when containerd already had the blob and nothing was committed by this call. */
  readonly alreadyExists: boolean
}

/**
 * Room before a message's data: the gRPC prefix, then the encoded fields: action (2 bytes), offset (≤ 11), data
 * tag and length (≤ 6).
 */
const HEADER_ROOM = FRAME_PREFIX + 19

/** Writes `value` as a protobuf varint ending just before `end`; returns where it starts. */
const putVarintBefore = (buffer: Buffer, end: number, value: number): number => {
  const bytes: Array<number> = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  const start = end - bytes.length
  for (let i = 0; i < bytes.length; i++) buffer[start + i] = bytes[i]!
  return start
}

/**
 * Encodes `{action: WRITE, offset, data}` around data already in `buffer` at [HEADER_ROOM, HEADER_ROOM + length),
 * length > 0, and returns it framed: 5 bytes of room for gRPC's prefix, then the same bytes ts-proto writes for
 * that message (fields in number order, zero offset omitted).
 */
export const encodeWriteFrame = (buffer: Buffer, offset: number, length: number): Buffer => {
  let start = putVarintBefore(buffer, HEADER_ROOM, length)
  buffer[--start] = (6 << 3) | 2 // data, length-delimited
  if (offset > 0) {
    start = putVarintBefore(buffer, start, offset)
    buffer[--start] = 5 << 3 // offset, varint
  }
  buffer[--start] = WriteAction.WRITE
  buffer[--start] = 1 << 3 // action, varint
  return buffer.subarray(start - FRAME_PREFIX, HEADER_ROOM + length)
}

/** A buffer for one WRITE message: header room, then up to `chunkSize` data bytes. */
export const writeMessageBuffer = (chunkSize: number): Buffer => Buffer.allocUnsafeSlow(HEADER_ROOM + chunkSize)

/**
 * Sends the source's bytes as pipelined WRITE messages (the first at offset 0) and waits for every answer;
 * returns the number of bytes written. The source pushes its pieces into a sink that copies them into message
 * buffers, sends each full one while fewer than `window` are unanswered, and asks the source to pause while a
 * full message waits for the window. Meanwhile a loop takes the answers, checks their offsets, recycles the
 * buffers and sends what waits.
 */
const pipelineWrites = <E, R>(
  session: DuplexSession<WriteContentRequest, WriteContentResponse>,
  ref: string,
  source: ByteSource.ByteSource<E, R>,
  tuning: WriteTuning,
  onWritten: ((bytes: number) => Effect.Effect<void>) | undefined
): Effect.Effect<number, ContainerdError | E, R> =>
  Effect.suspend(() => {
    const { chunkSize } = tuning
    const window = Math.max(1, tuning.window)
    interface Message {
      readonly buffer: Buffer
      readonly framed: Buffer
      /** The offset the ingest is at once this message is written. */
      readonly end: number
      readonly length: number
    }
    const free: Array<Buffer> = []
    const waiting: Array<Message> = []
    const inFlight: Array<Message> = []
    let current: Buffer | undefined
    let filled = 0
    let sealedUpTo = 0
    let producing = true
    let resumeSource: (() => void) | undefined
    let wakeAnswers: (() => void) | undefined

    const wake = () => {
      const resume = wakeAnswers
      wakeAnswers = undefined
      resume?.()
    }
    const pump = () => {
      while (waiting.length > 0 && inFlight.length < window) {
        const message = waiting.shift()!
        inFlight.push(message)
        session.sendFramed(message.framed)
      }
      wake()
    }
    const seal = () => {
      const buffer = current!
      const framed = encodeWriteFrame(buffer, sealedUpTo, filled)
      sealedUpTo += filled
      waiting.push({ buffer, framed, end: sealedUpTo, length: filled })
      current = undefined
      filled = 0
      pump()
    }
    const sink: ByteSource.ByteSink = {
      write: (bytes) => {
        let at = 0
        while (at < bytes.length) {
          if (current === undefined) current = free.pop() ?? writeMessageBuffer(chunkSize)
          const count = Math.min(chunkSize - filled, bytes.length - at)
          current.set(count === bytes.length ? bytes : bytes.subarray(at, at + count), HEADER_ROOM + filled)
          filled += count
          at += count
          if (filled === chunkSize) seal()
        }
        return waiting.length === 0
      },
      onDrain: (resume) => {
        if (waiting.length === 0) resume()
        else resumeSource = resume
      }
    }

    const finished = () => !producing && waiting.length === 0 && inFlight.length === 0
    const somethingToDo = Effect.async<void>((resume) => {
      // Checked here, not before: the source may have sent or finished since (the fiber can yield in between).
      if (inFlight.length > 0 || finished()) return resume(Effect.void)
      wakeAnswers = () => resume(Effect.void)
      return Effect.sync(() => {
        wakeAnswers = undefined
      })
    })
    const answers: Effect.Effect<void, ContainerdError> = Effect.suspend(() => {
      if (finished()) return Effect.void
      if (inFlight.length === 0) return Effect.zipRight(somethingToDo, answers)
      return Effect.flatMap(session.receive, (response) => {
        const oldest = inFlight.shift()!
        if (response.offset !== BigInt(oldest.end)) {
          return Effect.fail(
            clientError("OutOfRange", "Content.Write", `ingest ${ref} is at offset ${response.offset}, expected ${oldest.end}`)
          )
        }
        free.push(oldest.buffer)
        pump()
        if (waiting.length === 0 && resumeSource !== undefined) {
          const resume = resumeSource
          resumeSource = undefined
          resume()
        }
        return onWritten === undefined ? answers : Effect.zipRight(onWritten(oldest.length), answers)
      })
    })

    const produce = source.pipe(sink).pipe(
      Effect.zipRight(Effect.sync(() => {
        if (filled > 0) seal()
        producing = false
        wake()
      }))
    )
    return Effect.all([produce, answers], { concurrency: 2, discard: true }).pipe(
      // One side failing interrupts the other: report the failure alone.
      Effect.catchAllCause((cause) =>
        Option.match(Cause.failureOption(cause), { onNone: () => Effect.failCause(cause), onSome: Effect.fail })
      ),
      Effect.map(() => sealedUpTo)
    )
  })

export const writeBlob = <E, R>(
  openSession: Effect.Effect<DuplexSession<WriteContentRequest, WriteContentResponse>, ContainerdError, Scope.Scope>,
  abort: (ref: string) => Effect.Effect<unknown, ContainerdError>,
  options: WriteBlobOptions<E, R>,
  tuning: WriteTuning = defaultWriteTuning
): Effect.Effect<WriteBlobResult, ContainerdError | E, R> => {
  const total = BigInt(options.total)
  const existing: WriteBlobResult = { digest: options.expected, size: total, alreadyExists: true }
  return Effect.suspend(() => {
    // Only an ingest this call opened is aborted: a STAT failure may mean another writer holds the ref.
    let ownsIngest = false
    const write = Effect.gen(function*() {
      const session = yield* openSession
      const exists = yield* session.exchange({ action: WriteAction.STAT, ref: options.ref, total, expected: options.expected }).pipe(
        Effect.map(() => false),
        Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.succeed(true))
      )
      if (exists) return existing
      ownsIngest = true
      const source = ByteSource.isByteSource(options.data) ? options.data : ByteSource.fromStream(options.data)
      const written = yield* pipelineWrites(session, options.ref, source, tuning, options.onWritten)
      const committed = yield* session.exchange({
        action: WriteAction.COMMIT,
        offset: BigInt(written),
        total,
        expected: options.expected,
        labels: options.labels ?? {}
      }).pipe(
        Effect.map((response): WriteBlobResult => ({
          digest: response.digest === "" ? options.expected : response.digest,
          size: response.offset,
          alreadyExists: false
        })),
        Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.succeed(existing))
      )
      yield* session.end
      if (committed.digest !== options.expected) {
        return yield* Effect.fail(
          clientError("FailedPrecondition", "Content.Write", `committed digest ${committed.digest}, expected ${options.expected}`)
        )
      }
      return committed
    })
    return Effect.scoped(write).pipe(
      Effect.onError(() => (ownsIngest ? abort(options.ref).pipe(Effect.ignore) : Effect.void))
    )
  })
}
