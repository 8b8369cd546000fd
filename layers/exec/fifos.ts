/**
 * Named pipes for an exec's stdio, which the shim opens itself (containerd's pkg/process/io.go): the
 * plugin creates them in a scratch directory, holds the ends it uses, and removes everything with its scope.
 * A reader is opened before the shim opens the pipe for writing (which blocks until a reader exists) but read
 * only once the process started, when the shim holds the writing end: a pipe without writers reads as ended.
 */
import { Data, Effect, Stream } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export class FifoError extends Data.TaggedError("FifoError")<{ readonly message: string; readonly cause?: unknown }> {}

const fifoError = (file: string) => (cause: unknown) =>
  new FifoError({ message: `cannot set up the pipe ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

/** A private directory for one exec's pipes, removed when the scope closes. */
export const scratchDir = Effect.acquireRelease(
  Effect.promise(() => fsp.mkdtemp(path.join(os.tmpdir(), "containerd-driver-exec-"))),
  (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
)

const mkfifo = (file: string) =>
  Effect.async<void, FifoError>((resume) => {
    execFile("mkfifo", ["-m", "0600", file], (error) => resume(error === null ? Effect.void : Effect.fail(fifoError(file)(error))))
  })

/** The read end of a new FIFO at `file`: opened now, its data streamed (until the writers are gone) when run. */
export const fifoReader = (file: string) =>
  Effect.gen(function*() {
    yield* mkfifo(file)
    const fd = yield* Effect.acquireRelease(
      Effect.try({ try: () => fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), catch: fifoError(file) }),
      // The socket, once made, owns the descriptor and closes it.
      (fd) => Effect.sync(() => socket === undefined && fs.closeSync(fd))
    )
    let socket: net.Socket | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => socket?.destroy()))
    const data: Stream.Stream<Buffer> = Stream.async<Buffer>((emit) => {
      socket = new net.Socket({ fd, readable: true, writable: false })
      socket.on("data", (chunk: Buffer) => emit.single(chunk))
      socket.on("end", () => emit.end())
      socket.on("close", () => emit.end())
      socket.on("error", () => emit.end())
    })
    return { path: file, data }
  })

/**
 * The write end of a new FIFO at `file`, opened read-write so the open never blocks and the pipe never reads as
 * ended before `close` (the reader's end-of-file).
 */
export const fifoWriter = (file: string) =>
  Effect.gen(function*() {
    yield* mkfifo(file)
    const socket = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new net.Socket({ fd: fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: false, writable: true }),
        catch: fifoError(file)
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    socket.on("error", () => {})
    return {
      path: file,
      write: (data: Uint8Array) =>
        Effect.async<void>((resume) => {
          if (socket.destroyed || socket.writableEnded) return resume(Effect.void)
          socket.write(data, () => resume(Effect.void))
        }),
      close: Effect.sync(() => socket.destroy())
    }
  })
