/**
 * An HTTP response body pushed into a ByteSink as the socket delivers it (no copies, no Stream step per read),
 * paused whenever the sink asks. `check` sees every piece before the sink does and can stop the body (e.g. more
 * bytes than announced); `atEnd` judges the complete body.
 *
 * Idle watchdog: one timer. When it fires, bytes that arrived since the last check, or a body paused for the sink
 * (which is then the slow one), only re-arm it; otherwise the registry stopped sending. A stall is so detected
 * after one to two idle periods.
 */
import type * as http from "node:http"
import { Effect } from "effect"
import type { ByteSink } from "../../src/stream/ByteSource.js"

export interface PipeBodyOptions<E> {
  readonly idleMillis: number
  /** A failure for this piece (the body is then destroyed), or undefined to pass it on. */
  readonly check: (bytes: Uint8Array) => E | undefined
  /** A failure for the complete body, or undefined. */
  readonly atEnd: () => E | undefined
  /** The body ended without its last byte (connection closed or reset). */
  readonly onTransportError: (code: string, message: string) => E
  /** No byte arrived for an idle period while the sink was waiting. */
  readonly onStall: () => E
}

export const pipeBody = <E>(body: http.IncomingMessage, sink: ByteSink, options: PipeBodyOptions<E>): Effect.Effect<void, E> =>
  Effect.async<void, E>((resume) => {
    let settled = false
    let received = 0
    let receivedAtCheck = 0
    let paused = false
    const settle = (failure: E | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      detach()
      if (failure === undefined) {
        resume(Effect.void)
      } else {
        body.destroy()
        resume(Effect.fail(failure))
      }
    }
    const unpause = () => {
      paused = false
      if (!settled) body.resume()
    }
    const onData = (bytes: Buffer) => {
      if (settled) return
      received += bytes.length
      const failure = options.check(bytes)
      if (failure !== undefined) return settle(failure)
      if (!sink.write(bytes)) {
        paused = true
        body.pause()
        sink.onDrain(unpause)
      }
    }
    const onEnd = () => settle(options.atEnd())
    const onError = (error: NodeJS.ErrnoException) => settle(options.onTransportError(error.code ?? "ECONNRESET", error.message))
    const onClose = () => {
      if (!body.complete) settle(options.onTransportError("ECONNRESET", "connection closed early"))
    }
    const timer: NodeJS.Timeout = setTimeout(() => {
      if (received !== receivedAtCheck || paused) {
        receivedAtCheck = received
        timer.refresh()
      } else {
        settle(options.onStall())
      }
    }, options.idleMillis)
    const detach = () => {
      body.off("data", onData)
      body.off("end", onEnd)
      body.off("error", onError)
      body.off("close", onClose)
    }
    body.on("data", onData)
    body.on("end", onEnd)
    body.on("error", onError)
    body.on("close", onClose)
    // Interrupted (the pull's timeout, a failing Content.Write): stop reading and free the socket.
    return Effect.sync(() => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      detach()
      body.destroy()
    })
  })
