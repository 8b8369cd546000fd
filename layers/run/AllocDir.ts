/**
 * An allocation directory as the Nomad client builds it (hashicorp/nomad client/allocdir): `alloc/{logs,tmp,data}`
 * shared by the tasks, and per task `local`, `secrets`, `tmp` and `private`, world-writable as Nomad makes them (a
 * task may run as any user). Templates are written into it, relative to the task dir (`alloc/...` to the shared
 * one); a destination that leaves the allocation is refused. Removed with everything in it when the scope closes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { RunError } from "./RunError.js"

export interface AllocDir {
  readonly dir: string
  readonly taskDir: (task: string) => Effect.Effect<string, RunError>
  /** Writes a rendered template; `destination` is relative to the task dir, as in a template block. */
  readonly writeFile: (task: string, destination: string, content: string, mode: number) => Effect.Effect<string, RunError>
}

const hostError = (what: string) => (error: unknown) => new RunError({ reason: "Host", message: `${what}: ${(error as Error).message}` })

export const makeAllocDir = (root: string, allocId: string): Effect.Effect<AllocDir, RunError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = path.join(root, allocId)
    yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          for (const sub of ["alloc/logs", "alloc/tmp", "alloc/data"]) fs.mkdirSync(path.join(dir, sub), { recursive: true })
          for (const sub of ["", "alloc", "alloc/logs", "alloc/tmp", "alloc/data"]) fs.chmodSync(path.join(dir, sub), 0o777)
        },
        catch: hostError(`cannot create the allocation directory ${dir}`)
      }),
      () => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const taskDir = (task: string) =>
      Effect.try({
        try: () => {
          const taskRoot = path.join(dir, task)
          for (const sub of ["", "local", "secrets", "tmp", "private"]) {
            fs.mkdirSync(path.join(taskRoot, sub), { recursive: true })
            fs.chmodSync(path.join(taskRoot, sub), sub === "tmp" ? 0o1777 : 0o777)
          }
          return taskRoot
        },
        catch: hostError(`cannot create the task directory of ${task}`)
      })
    return {
      dir,
      taskDir,
      writeFile: (task, destination, content, mode) =>
        Effect.try({
          try: () => {
            const target = destination.startsWith("alloc/") ? path.resolve(dir, destination) : path.resolve(dir, task, destination)
            if (!target.startsWith(`${dir}${path.sep}`)) throw new Error(`the destination ${JSON.stringify(destination)} is outside the allocation directory`)
            fs.mkdirSync(path.dirname(target), { recursive: true })
            fs.writeFileSync(target, content, { mode })
            fs.chmodSync(target, mode)
            return target
          },
          catch: hostError(`cannot write the template ${destination} of ${task}`)
        })
    }
  })
