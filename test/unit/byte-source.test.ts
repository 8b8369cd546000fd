// ByteSource: a Stream pushed into a sink keeps its bytes and waits while the sink asks for a pause; a source
// read as a Stream gives back the same bytes and is paused while the consumer lags behind.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, FastCheck, Fiber, Stream } from "effect"
import * as ByteSource from "../../src/stream/ByteSource.js"

const pieces = FastCheck.array(FastCheck.uint8Array({ minLength: 1, maxLength: 100 }), { maxLength: 15 })

describe("ByteSource", () => {
  it.prop("fromStream then toStream keeps every byte in order", [pieces, FastCheck.integer({ min: 1, max: 300 })], ([input, highWaterMark]) => {
    const source = ByteSource.fromStream(Stream.fromIterable(input))
    const output = Effect.runSync(Stream.runCollect(ByteSource.toStream(source, { highWaterMark })).pipe(Effect.scoped))
    expect(Buffer.concat(Chunk.toReadonlyArray(output))).toEqual(Buffer.concat(input))
  })

  it.effect("fromStream writes nothing more while the sink is paused, and goes on after onDrain", () =>
    Effect.gen(function*() {
      const written: Array<number> = []
      const drainAsked = yield* Deferred.make<void>()
      let resume: (() => void) | undefined
      const sink: ByteSource.ByteSink = {
        write: (bytes) => {
          written.push(bytes[0]!)
          return written.length !== 2 // pause after the second piece
        },
        onDrain: (callback) => {
          resume = callback
          Deferred.unsafeDone(drainAsked, Exit.void)
        }
      }
      const source = ByteSource.fromStream(Stream.make(Buffer.from([1]), Buffer.from([2]), Buffer.from([3])))
      const fiber = yield* Effect.fork(source.pipe(sink))
      yield* Deferred.await(drainAsked)
      expect(written).toEqual([1, 2])
      expect(resume).toBeDefined()
      resume!()
      yield* Fiber.join(fiber)
      expect(written).toEqual([1, 2, 3])
    }))

  it.live("toStream pauses the source while highWaterMark bytes wait for the consumer", () =>
    Effect.gen(function*() {
      let offered = 0
      let pausedAt: number | undefined
      const source = ByteSource.make((sink) =>
        Effect.async<void>((resume) => {
          const push = () => {
            while (offered < 10) {
              offered++
              if (!sink.write(Buffer.alloc(10, offered))) {
                pausedAt ??= offered
                return sink.onDrain(push)
              }
            }
            resume(Effect.void)
          }
          push()
        })
      )
      const output = yield* Stream.runCollect(ByteSource.toStream(source, { highWaterMark: 30 })).pipe(Effect.scoped)
      expect(pausedAt).toBe(3)
      expect(Buffer.concat(Chunk.toReadonlyArray(output)).length).toBe(100)
    }))

  it.effect("a failing source fails the stream after the bytes it wrote", () =>
    Effect.gen(function*() {
      const source = ByteSource.fromStream(Stream.make(Buffer.from("ab")).pipe(Stream.concat(Stream.fail("broken" as const))))
      const collected: Array<Uint8Array> = []
      const error = yield* Effect.flip(
        Stream.runForEach(ByteSource.toStream(source, { highWaterMark: 100 }), (bytes) => Effect.sync(() => collected.push(bytes)))
      )
      expect(error).toBe("broken")
      expect(Buffer.concat(collected).toString()).toBe("ab")
    }))
})
