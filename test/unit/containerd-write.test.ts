// Content.Write's client side (writeBlob): WRITE messages encoded by hand are the bytes ts-proto would write,
// and pipelined writes keep the protocol: contiguous offsets, full messages but the last, never more than the
// window unanswered, answers checked, and the ingest aborted when anything goes wrong.
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect, Exit, FastCheck, Stream } from "effect"
import {
  WriteAction,
  WriteContentRequest,
  type WriteContentResponse
} from "../../src/gen/github.com/containerd/containerd/api/services/content/v1/content.js"
import { clientError, type ContainerdError } from "../../layers/containerd/ContainerdError.js"
import { encodeWriteFrame, type WriteTuning, writeBlob, writeMessageBuffer } from "../../layers/containerd/contentWrite.js"
import type { DuplexSession } from "../../layers/containerd/rpc.js"

// gRPC's length-prefixed message: a compressed-flag byte, then a 4-byte big-endian length (grpc PROTOCOL-HTTP2.md).
const FRAME_PREFIX = 5

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/**
 * A daemon's side of one Write stream, in memory: appends WRITE data at the current offset (offset 0 restarts),
 * answers every request in order, and records what the client did. `lie` makes the answer to the n-th WRITE
 * report a wrong offset.
 */
const scriptedSession = (options: { readonly lie?: number } = {}) => {
  let data = Buffer.alloc(0)
  let writes = 0
  let unanswered = 0
  const record = {
    messages: [] as Array<{ readonly offset: bigint; readonly length: number }>,
    maxUnanswered: 0,
    committed: undefined as Buffer | undefined
  }
  const answers: Array<Exit.Exit<WriteContentResponse, ContainerdError>> = []
  const answer = (request: WriteContentRequest): Exit.Exit<WriteContentResponse, ContainerdError> => {
    if (request.action === WriteAction.WRITE) {
      if (request.offset > 0n && request.offset !== BigInt(data.length)) {
        return Exit.fail(clientError("OutOfRange", "Content.Write", `write @${request.offset} must occur at current offset ${data.length}`))
      }
      data = request.offset === 0n ? Buffer.from(request.data) : Buffer.concat([data, request.data])
      record.messages.push({ offset: request.offset, length: request.data.length })
      writes++
    }
    if (request.action === WriteAction.COMMIT) record.committed = data
    const offset = BigInt(data.length) + (writes === options.lie ? 1n : 0n)
    return Exit.succeed({ action: request.action, offset, total: request.total, digest: sha256(data), startedAt: undefined, updatedAt: undefined })
  }
  const session: DuplexSession<WriteContentRequest, WriteContentResponse> = {
    exchange: (input) => Effect.suspend(() => answer(WriteContentRequest.fromPartial(input as never))),
    sendFramed: (framed) => {
      unanswered++
      record.maxUnanswered = Math.max(record.maxUnanswered, unanswered)
      answers.push(answer(WriteContentRequest.decode(framed.subarray(FRAME_PREFIX))))
    },
    receive: Effect.suspend(() => {
      unanswered--
      return answers.shift() ?? Exit.fail(clientError("Unknown", "Content.Write", "no request to answer"))
    }),
    end: Effect.void
  }
  return { session, record }
}

const write = (
  pieces: ReadonlyArray<Uint8Array>,
  tuning: WriteTuning,
  options: { readonly lie?: number; readonly source?: Stream.Stream<Uint8Array, string> } = {}
) =>
  Effect.gen(function*() {
    const blob = Buffer.concat(pieces)
    const { record, session } = scriptedSession(options)
    const aborted: Array<string> = []
    const exit = yield* Effect.exit(writeBlob(
      Effect.succeed(session),
      (ref) => Effect.sync(() => aborted.push(ref)),
      { ref: "test", expected: sha256(blob), total: blob.length, data: options.source ?? Stream.fromIterable(pieces) },
      tuning
    ))
    return { blob, exit, record, aborted }
  })

const tunings = FastCheck.record({ chunkSize: FastCheck.integer({ min: 1, max: 64 }), window: FastCheck.integer({ min: 1, max: 5 }) })
const pieces = FastCheck.array(FastCheck.uint8Array({ maxLength: 300 }), { maxLength: 12 })

describe("encodeWriteFrame", () => {
  it.prop(
    "writes, after 5 bytes of room for the gRPC prefix, the bytes ts-proto encodes for {action: WRITE, offset, data}",
    [FastCheck.uint8Array({ minLength: 1, maxLength: 200 }), FastCheck.oneof(FastCheck.constant(0), FastCheck.integer({ min: 0, max: 2 ** 31 }), FastCheck.maxSafeNat())],
    ([data, offset]) => {
      const buffer = writeMessageBuffer(data.length)
      buffer.set(data, buffer.length - data.length)
      const framed = encodeWriteFrame(buffer, offset, data.length)
      const reference = WriteContentRequest.encode(WriteContentRequest.fromPartial({ action: WriteAction.WRITE, offset: BigInt(offset), data: Buffer.from(data) })).finish()
      expect(framed.subarray(FRAME_PREFIX).equals(Buffer.from(reference))).toBe(true)
    }
  )
})

describe("writeBlob pipelining", () => {
  it.prop("sends every byte once, in full messages at contiguous offsets, within the window", [pieces, tunings], ([input, tuning]) => {
    const { blob, exit, record } = Effect.runSync(write(input, tuning))
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(record.committed?.equals(blob)).toBe(true)
    let expected = 0
    record.messages.forEach((message, index) => {
      expect(message.offset).toBe(BigInt(expected))
      if (index < record.messages.length - 1) expect(message.length).toBe(tuning.chunkSize)
      else expect(message.length).toBeGreaterThan(0)
      expect(message.length).toBeLessThanOrEqual(tuning.chunkSize)
      expected += message.length
    })
    expect(expected).toBe(blob.length)
    expect(record.messages.length).toBe(Math.ceil(blob.length / tuning.chunkSize))
    expect(record.maxUnanswered).toBeLessThanOrEqual(tuning.window)
  })

  it.effect("fills the window: several WRITEs are sent before the first answer is taken", () =>
    Effect.gen(function*() {
      const { exit, record } = yield* write([Buffer.alloc(1000, 1)], { chunkSize: 100, window: 4 })
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(record.messages.length).toBe(10)
      expect(record.maxUnanswered).toBe(4)
    }))

  it.effect("an answer at the wrong offset fails with OutOfRange and aborts the ingest", () =>
    Effect.gen(function*() {
      const { aborted, exit, record } = yield* write([Buffer.alloc(1000, 2)], { chunkSize: 100, window: 3 }, { lie: 2 })
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect((error as ContainerdError | undefined)?.reason).toBe("OutOfRange")
      }
      expect(record.committed).toBeUndefined()
      expect(aborted).toEqual(["test"])
    }))

  it.effect("a source failing after some messages surfaces its error and aborts the ingest", () =>
    Effect.gen(function*() {
      const source = Stream.make(Buffer.alloc(250, 3)).pipe(Stream.concat(Stream.fail("download broke")))
      const { aborted, exit, record } = yield* write([Buffer.alloc(300, 3)], { chunkSize: 100, window: 2 }, { source })
      expect(exit).toEqual(Exit.fail("download broke"))
      expect(record.messages.length).toBe(2)
      expect(record.committed).toBeUndefined()
      expect(aborted).toEqual(["test"])
    }))
})
