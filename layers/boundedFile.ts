/**
 * Reading a file that a task or a user names (a seccomp profile, a job file, a plugin config file) without
 * trusting what is at that path: only a regular file is read, and only up to a size cap. A device such as
 * /dev/zero would otherwise be read until memory runs out, and a FIFO would block the reader for ever.
 *
 * The path is stat'ed before it is opened, so a device is never opened at all (opening some devices has
 * effects of its own, e.g. /dev/watchdog arms the watchdog); it is opened with O_NONBLOCK, so a FIFO swapped
 * in after that check cannot block the open, and the opened descriptor is checked again, so the file that is
 * read is the one that passed. Reads of a regular file never wait for a writer.
 */
import { Data, Effect } from "effect"
import * as fs from "node:fs"
import type { FileHandle } from "node:fs/promises"

export class BoundedFileError extends Data.TaggedError("BoundedFileError")<{
  readonly reason: "NotFound" | "NotRegularFile" | "TooLarge" | "Unreadable"
  readonly path: string
  readonly message: string
  /** Only a missing file may appear later (e.g. deployed by configuration management); the rest need a fix. */
  readonly recoverable: boolean
  readonly cause?: unknown
}> {}

const KiB = 1024
const MiB = 1024 * KiB

/** "1 MiB", "64 KiB" or "1000 bytes": caps are written the way they are chosen. */
export const formatBytes = (n: number): string =>
  n >= MiB && n % MiB === 0 ? `${n / MiB} MiB` : n >= KiB && n % KiB === 0 ? `${n / KiB} KiB` : `${n} bytes`

const kindOf = (stat: fs.Stats): string =>
  stat.isDirectory() ? "a directory"
    : stat.isFIFO() ? "a FIFO"
    : stat.isCharacterDevice() ? "a character device"
    : stat.isBlockDevice() ? "a block device"
    : stat.isSocket() ? "a socket"
    : "not a regular file"

const notRegular = (path: string, stat: fs.Stats) =>
  new BoundedFileError({
    reason: "NotRegularFile",
    path,
    message: `${path} is ${kindOf(stat)}, not a regular file; only a regular file can be read here`,
    recoverable: false
  })

const tooLarge = (path: string, maxBytes: number, size?: number) =>
  new BoundedFileError({
    reason: "TooLarge",
    path,
    message: `${path} is ${size === undefined ? "larger than" : `${size} bytes, more than`} the ${formatBytes(maxBytes)} ` +
      "such a file may have",
    recoverable: false
  })

const failure = (path: string) => (cause: unknown): BoundedFileError => {
  const code = (cause as NodeJS.ErrnoException).code
  if (code === "ENOENT") {
    return new BoundedFileError({ reason: "NotFound", path, message: `${path} does not exist`, recoverable: true, cause })
  }
  const detail = code === "EACCES" || code === "EPERM" ? "permission denied" : (cause as Error).message
  return new BoundedFileError({ reason: "Unreadable", path, message: `${path} cannot be read: ${detail}`, recoverable: false, cause })
}

const chunkBytes = 64 * KiB

/**
 * The contents of `path` when it is a regular file of at most `maxBytes` bytes; otherwise a BoundedFileError
 * naming the path (and the cap). Symbolic links are followed: what counts is the file they lead to.
 */
export const readBoundedFile = (path: string, maxBytes: number): Effect.Effect<Buffer, BoundedFileError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const attempt = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: failure(path) })
      const before = yield* attempt(() => fs.promises.stat(path))
      if (!before.isFile()) return yield* notRegular(path, before)
      if (before.size > maxBytes) return yield* tooLarge(path, maxBytes, before.size)
      const flags = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY
      const handle: FileHandle = yield* Effect.acquireRelease(
        attempt(() => fs.promises.open(path, flags)),
        (h) => Effect.promise(() => h.close().catch(() => undefined))
      )
      const opened = yield* attempt(() => handle.stat())
      if (!opened.isFile()) return yield* notRegular(path, opened)
      // The size can change after fstat: read in chunks and stop as soon as the cap is passed.
      const chunks: Array<Buffer> = []
      let total = 0
      for (;;) {
        const chunk = Buffer.alloc(Math.min(chunkBytes, maxBytes + 1 - total))
        const { bytesRead } = yield* attempt(() => handle.read(chunk, 0, chunk.length, null))
        if (bytesRead === 0) break
        chunks.push(chunk.subarray(0, bytesRead))
        total += bytesRead
        if (total > maxBytes) return yield* tooLarge(path, maxBytes)
      }
      return Buffer.concat(chunks, total)
    })
  )
