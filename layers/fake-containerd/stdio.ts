/**
 * The stdout/stderr of a simulated process, opened the way the runc v2 shim opens the paths given to
 * Tasks.Create and Tasks.Exec (containerd 1.6 pkg/process/io.go), so output reaches the same readers:
 * - all of stdin/stdout/stderr empty: null IO (output is discarded);
 * - otherwise stdout and stderr (stderr not with a terminal) are each opened: a FIFO for writing, which waits
 *   until a reader exists (the shim blocks in open(2)); a regular file with O_APPEND and without O_CREAT, so it
 *   must exist — and so must an empty path, which fails like a missing file.
 * Like the shim, the fake also holds a read end of each FIFO, so a reader that goes away and comes back loses
 * nothing and writes never fail with EPIPE. The pipes belong to the process, not to a client call: they stay
 * open until the process exits (readers then see EOF) or its task is deleted.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import { Data, Effect } from "effect"

export interface StdioPaths {
  readonly stdin: string
  readonly stdout: string
  readonly stderr: string
  readonly terminal: boolean
}

export type OutputStream = "stdout" | "stderr"

/** The open output of one process. */
export interface ProcessOutput {
  readonly write: (stream: OutputStream, text: string) => void
  /** Closes every pipe and file (FIFO readers see EOF once written data is flushed). Idempotent. */
  readonly close: () => void
}

/**
 * Why the output could not be opened. "OpenFailed" carries the shim's own wording (the caller adds the
 * prefix of its RPC); "Unsupported" is a stdio form the fake does not simulate.
 */
export class StdioError extends Data.TaggedError("StdioError")<{
  readonly reason: "OpenFailed" | "Unsupported"
  readonly detail: string
}> {}

interface Sink {
  readonly write: (text: string) => void
  readonly close: () => void
}

/** How often a FIFO without a reader is tried again. */
const fifoRetryMillis = 10

/**
 * A pause in real time: whether a FIFO has a reader is up to the OS, not to a test's clock. setTimeout keeps
 * the wait off libuv's threadpool (a blocking open(2) would hold a pool thread until a reader came).
 */
const realPause = Effect.async<void>((resume) => {
  const timer = setTimeout(() => resume(Effect.void), fifoRetryMillis)
  return Effect.sync(() => clearTimeout(timer))
})

/** Go's wording of common errnos, as they appear in the shim's messages. */
const goErrno: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  EROFS: "read-only file system"
}

const errnoText = (cause: unknown): string => {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? ""
  return goErrno[code] ?? String((cause as Error | undefined)?.message ?? cause)
}

const isFifo = (path: string): boolean => {
  try {
    return fs.statSync(path).isFIFO()
  } catch {
    return false
  }
}

/** Opens the FIFO for writing once a reader exists; interruptible while waiting. */
const openFifo = (path: string): Effect.Effect<Sink, StdioError> =>
  Effect.gen(function*() {
    for (;;) {
      try {
        const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
        const keepAlive = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
        const socket = new net.Socket({ fd, readable: false, writable: true })
        // The shim's own read end makes EPIPE impossible; any other error only loses output nobody reads.
        socket.on("error", () => {})
        // Output nobody reads must not keep a test process alive.
        socket.unref()
        socket.once("close", () => fs.closeSync(keepAlive))
        return { write: (text) => void socket.write(text), close: () => void socket.end() }
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== "ENXIO") {
          return yield* Effect.fail(
            new StdioError({ reason: "OpenFailed", detail: `containerd-shim: opening w/o fifo "${path}" failed: ${errnoText(cause)}` })
          )
        }
      }
      yield* realPause
    }
  })

const openFile = (path: string): Effect.Effect<Sink, StdioError> =>
  Effect.try({
    try: () => {
      const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_APPEND)
      let open = true
      return {
        write: (text) => {
          if (open) fs.writeSync(fd, text)
        },
        close: () => {
          if (open) fs.closeSync(fd)
          open = false
        }
      }
    },
    catch: (cause) =>
      new StdioError({
        reason: "OpenFailed",
        detail: `containerd-shim: opening file "${path}" failed: open ${path}: ${errnoText(cause)}`
      })
  })

const nullOutput: ProcessOutput = { write: () => {}, close: () => {} }

const hasScheme = (path: string) => /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(path)

/** Opens a process's output as the shim does (see the module comment). */
export const openOutput = (io: StdioPaths): Effect.Effect<ProcessOutput, StdioError> => {
  if (io.stdin === "" && io.stdout === "" && io.stderr === "") return Effect.succeed(nullOutput)
  const unsupported = [io.stdin, io.stdout, io.stderr].find(hasScheme)
  if (unsupported !== undefined) {
    return Effect.fail(new StdioError({ reason: "Unsupported", detail: `stdio URI "${unsupported}" is not simulated` }))
  }
  // Opened paths by name: stdout and stderr naming the same file share one handle, as in the shim.
  const opened = new Map<string, Sink>()
  const closeAll = () => {
    for (const sink of opened.values()) sink.close()
    opened.clear()
  }
  const open = (path: string) =>
    Effect.suspend(() => {
      const existing = opened.get(path)
      if (existing !== undefined) return Effect.succeed(existing)
      return Effect.tap(isFifo(path) ? openFifo(path) : openFile(path), (sink) => Effect.sync(() => opened.set(path, sink)))
    })
  return Effect.gen(function*() {
    const stdout = yield* open(io.stdout)
    const stderr = io.terminal ? undefined : yield* open(io.stderr)
    const output: ProcessOutput = {
      write: (stream, text) => (stream === "stdout" ? stdout : stderr)?.write(text),
      close: closeAll
    }
    return output
  }).pipe(Effect.onError(() => Effect.sync(closeAll)))
}
