// Content.Write re-cuts the source byte stream into WRITE messages: same bytes, every piece full-size but the last.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, FastCheck, Stream } from "effect"
import { rechunkBytes } from "../../layers/containerd/contentWrite.js"

describe("rechunkBytes", () => {
  it.prop(
    "keeps the bytes and cuts them into full pieces",
    [FastCheck.array(FastCheck.uint8Array({ maxLength: 300 }), { maxLength: 20 }), FastCheck.integer({ min: 1, max: 128 })],
    ([input, size]) => {
      const pieces = Chunk.toReadonlyArray(
        Effect.runSync(Stream.runCollect(Stream.fromIterable(input).pipe(rechunkBytes(size))))
      )
      expect(Buffer.concat(pieces)).toEqual(Buffer.concat(input))
      pieces.forEach((piece, index) => {
        if (index < pieces.length - 1) expect(piece.length).toBe(size)
        else expect(piece.length).toBeGreaterThan(0)
        expect(piece.length).toBeLessThanOrEqual(size)
      })
    }
  )
})
