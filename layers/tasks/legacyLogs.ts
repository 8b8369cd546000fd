/**
 * Logs of tasks started by the original Go driver. That driver gave the shim FIFOs of its own and copied them
 * into Nomad's log FIFOs from the plugin process (Roblox/nomad-driver-containerd, containerd/containerd.go). After an upgrade nobody would read those FIFOs, and a task writing more than a pipe
 * buffer would block: so for such a task this driver does the copying the original did, for as long as the task
 * lives. Tasks this driver starts need none of this — their shim writes to Nomad directly.
 */
import { Effect, type Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"

/** How long output may still arrive after the task exited before the copy is given up. */
const drainGrace = "2 seconds"

/**
 * Copies the FIFO `from` (written by the task's shim) into the FIFO `to` (read by Nomad's logmon) until the shim
 * closes it, or the scope closes. Opening never blocks: the source is opened non-blocking, the destination
 * read-write. `done` completes when everything written has been copied.
 */
export const copyFifo = (from: string, to: string): Effect.Effect<{ readonly done: Effect.Effect<void> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const sockets = yield* Effect.acquireRelease(
      Effect.sync(() => {
        try {
          const source = new net.Socket({ fd: fs.openSync(from, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false })
          const target = new net.Socket({ fd: fs.openSync(to, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: false, writable: true })
          source.on("error", () => {})
          target.on("error", () => {})
          return { source, target }
        } catch {
          return undefined
        }
      }),
      (opened) => Effect.sync(() => {
        opened?.source.destroy()
        opened?.target.destroy()
      })
    )
    if (sockets === undefined) {
      yield* Effect.logWarning(`cannot copy the original driver's task output from ${from} to ${to}`)
      return { done: Effect.void }
    }
    const { source, target } = sockets
    const ended = new Promise<void>((resolve) => {
      source.on("end", () => resolve())
      source.on("close", () => resolve())
    })
    source.pipe(target, { end: false })
    return { done: Effect.promise(() => ended).pipe(Effect.timeout(drainGrace), Effect.ignore) }
  })

/**
 * Wraps a task's exit watch so that, when the task's shim writes to FIFOs other than Nomad's (a task of the
 * original driver), its output is copied to Nomad's meanwhile and drained after the exit.
 */
export const withLegacyLogs = <A>(
  watch: Effect.Effect<A>,
  shim: { readonly stdout: string; readonly stderr: string },
  nomad: { readonly stdout: string; readonly stderr: string }
): Effect.Effect<A> =>
  Effect.scoped(Effect.gen(function*() {
    const copies = yield* Effect.all([
      shim.stdout !== "" && nomad.stdout !== "" && shim.stdout !== nomad.stdout ? copyFifo(shim.stdout, nomad.stdout) : Effect.succeed(undefined),
      shim.stderr !== "" && nomad.stderr !== "" && shim.stderr !== nomad.stderr ? copyFifo(shim.stderr, nomad.stderr) : Effect.succeed(undefined)
    ])
    const result = yield* watch
    yield* Effect.forEach(copies, (copy) => copy?.done ?? Effect.void, { discard: true, concurrency: 2 })
    return result
  }))
