/**
 * Nomad's logmon for one task (hashicorp/nomad client/logmon, client/allocrunner/taskrunner/logmon_hook.go): the
 * two FIFOs `.<task>.stdout.fifo` and `.<task>.stderr.fifo` in the allocation's `alloc/logs`, made once and read
 * for every start of the task (a reader sees end-of-file whenever the task's shim closes its end, and opens the
 * FIFO again for the next one).
 * Each complete line goes to `onLine`, and what is left of a line is flushed when the task is done. The read side
 * is non-blocking and read through libuv, so waiting for output never holds a thread.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { RunError } from "./RunError.js"

export interface Logmon {
  readonly stdoutPath: string
  readonly stderrPath: string
  /** Waits (briefly) until what the last writer wrote has been read, and flushes a partial last line. */
  readonly drain: Effect.Effect<void>
}

interface Reader {
  readonly drain: () => Promise<void>
  readonly close: () => void
}

const readLines = (file: string, onLine: (line: string) => void): Reader => {
  let pending = ""
  let closed = false
  let socket: net.Socket
  // While a writer has written and not yet gone, `writerGone` is pending; it resolves at its end-of-file.
  let writerGone: Promise<void> | undefined
  let markGone: () => void = () => {}
  const open = () => {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    socket = new net.Socket({ fd, readable: true, writable: false })
    socket.on("data", (chunk: Buffer) => {
      writerGone ??= new Promise((resolve) => (markGone = resolve))
      pending += chunk.toString("utf8")
      const lines = pending.split("\n")
      pending = lines.pop()!
      for (const line of lines) onLine(line)
    })
    socket.on("error", () => {})
    socket.on("end", () => {
      markGone()
      writerGone = undefined
      if (!closed) open()
    })
  }
  open()
  const flush = () => {
    if (pending !== "") onLine(pending)
    pending = ""
  }
  return {
    drain: async () => {
      if (writerGone !== undefined) await Promise.race([writerGone, new Promise((r) => setTimeout(r, 1_000))])
      flush()
    },
    close: () => {
      closed = true
      socket.destroy()
      flush()
    }
  }
}

export const makeLogmon = (
  allocDir: string,
  task: string,
  onStdout: (line: string) => void,
  onStderr: (line: string) => void
): Effect.Effect<Logmon, RunError, Scope.Scope> =>
  Effect.gen(function*() {
    const stdoutPath = path.join(allocDir, "alloc", "logs", `.${task}.stdout.fifo`)
    const stderrPath = path.join(allocDir, "alloc", "logs", `.${task}.stderr.fifo`)
    const readers = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          for (const fifo of [stdoutPath, stderrPath]) if (!fs.existsSync(fifo)) execFileSync("mkfifo", ["-m", "0600", fifo])
          return [readLines(stdoutPath, onStdout), readLines(stderrPath, onStderr)] as const
        },
        catch: (error) => new RunError({ reason: "Host", message: `cannot create the log FIFOs of ${task}: ${(error as Error).message}` })
      }),
      (rs) => Effect.sync(() => rs.forEach((r) => r.close()))
    )
    return {
      stdoutPath,
      stderrPath,
      drain: Effect.promise(() => Promise.all(readers.map((r) => r.drain()))).pipe(Effect.asVoid)
    }
  })
