// FIFOs and files for tests of process output (the stdout/stderr paths of Tasks.Create and Tasks.Exec). Node
// has no mkfifo, so coreutils' is run. The read side is opened non-blocking and read through libuv (net.Socket):
// a reader waiting for data never holds a threadpool thread, and opening it does not wait for a writer.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Deferred, Effect, type Scope } from "effect"

/** A fresh directory, removed with everything in it when the scope closes. */
export const tempDirectory = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(join(tmpdir(), `${prefix}-`))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Creates a FIFO at `path` (mode 0600). */
export const makeFifo = (path: string): Effect.Effect<void> =>
  Effect.sync(() => {
    execFileSync("mkfifo", ["-m", "600", path])
  })

export interface FifoReader {
  /** Everything read so far. */
  readonly received: Effect.Effect<string>
  /** Waits until the text read so far contains `text`; returns everything read so far. */
  readonly waitFor: (text: string) => Effect.Effect<string>
  /** Waits until every writer has closed the FIFO (EOF); returns everything that was written. */
  readonly untilEof: Effect.Effect<string>
}

/** Opens the read side of the FIFO at `path` and collects what arrives until EOF or the end of the scope. */
export const readFifo = (path: string): Effect.Effect<FifoReader, never, Scope.Scope> =>
  Effect.gen(function*() {
    const eof = yield* Deferred.make<void>()
    const state = { text: "", waiters: [] as Array<{ readonly text: string; readonly done: () => void }> }
    const notify = () => {
      state.waiters = state.waiters.filter((waiter) => {
        if (!state.text.includes(waiter.text)) return true
        waiter.done()
        return false
      })
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
        const socket = new net.Socket({ fd, readable: true, writable: false })
        socket.setEncoding("utf8")
        socket.on("data", (chunk: string) => {
          state.text += chunk
          notify()
        })
        socket.on("error", () => {})
        socket.on("end", () => Deferred.unsafeDone(eof, Effect.void))
        return socket
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    const waitFor = (text: string) =>
      Effect.async<string>((resume) => {
        const done = () => resume(Effect.sync(() => state.text))
        if (state.text.includes(text)) return done()
        const waiter = { text, done }
        state.waiters.push(waiter)
        return Effect.sync(() => {
          state.waiters = state.waiters.filter((w) => w !== waiter)
        })
      })
    return {
      received: Effect.sync(() => state.text),
      waitFor,
      untilEof: Effect.zipRight(Deferred.await(eof), Effect.sync(() => state.text))
    }
  })
