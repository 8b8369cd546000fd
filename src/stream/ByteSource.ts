/**
 * Bytes pushed from a producer (an HTTP body) straight into a consumer (a Content.Write), without a Stream step
 * per piece: for image layers the per-piece cost of a Stream pipeline, and the garbage of pieces queued between
 * two fibers, cost more CPU than moving the bytes. The producer calls `write` for each piece as it arrives; the
 * consumer takes it at once and says when to pause; `onDrain` ends the pause.
 *
 * `fromStream` and `toStream` convert, so either side can still be a Stream.
 */
import { Chunk, Effect, Option, Stream } from "effect"

export interface ByteSink {
  /**
   * Takes `bytes` (the producer never changes a piece it handed over). Returns false when the producer should
   * pause until the callback given to `onDrain` runs.
   */
  readonly write: (bytes: Uint8Array) => boolean
  /** Runs `resume` once the sink can take bytes again (at once if it can now). */
  readonly onDrain: (resume: () => void) => void
}

export interface ByteSource<E, R = never> {
  readonly _tag: "ByteSource"
  /** Writes every byte into `sink`, honouring its pauses; succeeds once the last one was written. */
  readonly pipe: (sink: ByteSink) => Effect.Effect<void, E, R>
}

export const make = <E, R = never>(pipe: (sink: ByteSink) => Effect.Effect<void, E, R>): ByteSource<E, R> => ({
  _tag: "ByteSource",
  pipe
})

export const isByteSource = <E, R>(value: ByteSource<E, R> | Stream.Stream<Uint8Array, E, R>): value is ByteSource<E, R> =>
  (value as { readonly _tag?: unknown })._tag === "ByteSource"

const drained = (sink: ByteSink): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    sink.onDrain(() => resume(Effect.void))
  })

/** A Stream's pieces, written one by one, waiting whenever the sink asks for a pause. */
export const fromStream = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): ByteSource<E, R> =>
  make((sink) =>
    Stream.runForEachChunk(stream, (chunk) => {
      const pieces = Chunk.toReadonlyArray(chunk)
      let next = 0
      const loop: Effect.Effect<void> = Effect.suspend(() => {
        while (next < pieces.length) {
          if (!sink.write(pieces[next++]!)) return Effect.zipRight(drained(sink), loop)
        }
        return Effect.void
      })
      return loop
    })
  )

/**
 * The source as a Stream: its pieces, in batches of what arrived since the consumer last pulled. The source is
 * paused while `highWaterMark` bytes wait for the consumer.
 */
export const toStream = <E, R>(source: ByteSource<E, R>, options: { readonly highWaterMark: number }): Stream.Stream<Uint8Array, E, R> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    let pending: Array<Uint8Array> = []
    let pendingBytes = 0
    let done: Option.Option<Option.Option<E>> = Option.none() // Some(None): ended; Some(Some(e)): failed
    let wake: (() => void) | undefined
    let resumeSource: (() => void) | undefined
    const notify = () => {
      const resume = wake
      wake = undefined
      resume?.()
    }
    const sink: ByteSink = {
      write: (bytes) => {
        pending.push(bytes)
        pendingBytes += bytes.length
        notify()
        return pendingBytes < options.highWaterMark
      },
      onDrain: (resume) => {
        if (pendingBytes < options.highWaterMark) resume()
        else resumeSource = resume
      }
    }
    yield* source.pipe(sink).pipe(
      Effect.matchEffect({
        onFailure: (error) => Effect.sync(() => (done = Option.some(Option.some(error)))),
        onSuccess: () => Effect.sync(() => (done = Option.some(Option.none())))
      }),
      Effect.ensuring(Effect.sync(notify)),
      Effect.forkScoped
    )
    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> = Effect.suspend(() => {
      if (pending.length > 0) {
        const batch = pending
        pending = []
        pendingBytes = 0
        const resume = resumeSource
        resumeSource = undefined
        resume?.()
        return Effect.succeed(Chunk.unsafeFromArray(batch))
      }
      if (Option.isSome(done)) return Effect.fail(done.value)
      return Effect.async<void>((resume) => {
        // Checked again here: the source may have written since (the fiber can yield in between).
        if (pending.length > 0 || Option.isSome(done)) return resume(Effect.void)
        wake = () => resume(Effect.void)
        return Effect.sync(() => {
          wake = undefined
        })
      }).pipe(Effect.zipRight(pull))
    })
    return Stream.repeatEffectChunkOption(pull)
  }))
