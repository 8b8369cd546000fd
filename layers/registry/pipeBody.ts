/**
 * An HTTP response body pushed into a ByteSink as the socket delivers it (no copies, no Stream step per read),
 * paused whenever the sink asks. `check` sees every piece before the sink does and can stop the body (e.g. more
 * bytes than announced); `atEnd` judges the complete body.
 *
 * Idle watchdog: one timer, armed for the time left until the idle period has passed since the last byte. When
 * it fires with bytes received since then, or with the body paused for the sink (which is then the slow one), it is
 * armed again; otherwise the registry sent nothing for exactly one idle period, as the stall message says.
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
  /** The body ended without its last byte (connection closed or reset) after `received` bytes. */
  readonly onTransportError: (code: string, message: string, received: number) => E
  /** No byte arrived for an idle period while the sink was waiting. */
  readonly onStall: () => E
}

export const pipeBody = <E>(body: http.IncomingMessage, sink: ByteSink, options: PipeBodyOptions<E>): Effect.Effect<void, E> =>
  Effect.async<void, E>((resume) => {
    let settled = false
    let received = 0
    let paused = false
    let lastActivity = performance.now()
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
      lastActivity = performance.now()
      if (!settled) body.resume()
    }
    const onData = (bytes: Buffer) => {
      if (settled) return
      received += bytes.length
      lastActivity = performance.now()
      const failure = options.check(bytes)
      if (failure !== undefined) return settle(failure)
      if (!sink.write(bytes)) {
        paused = true
        body.pause()
        sink.onDrain(unpause)
      }
    }
    const onEnd = () => settle(options.atEnd())
    const onError = (error: NodeJS.ErrnoException) =>
      settle(options.onTransportError(error.code ?? "ECONNRESET", error.message, received))
    const onClose = () => {
      if (!body.complete) settle(options.onTransportError("ECONNRESET", "connection closed early", received))
    }
    let timer: NodeJS.Timeout
    const watch = () => {
      if (settled) return
      const quiet = performance.now() - lastActivity
      if (paused || quiet < options.idleMillis) {
        timer = setTimeout(watch, paused ? options.idleMillis : options.idleMillis - quiet)
      } else {
        settle(options.onStall())
      }
    }
    timer = setTimeout(watch, options.idleMillis)
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
