/**
 * The tasks this plugin process knows, by Nomad task id, each with its exit watcher. A task is known from a
 * successful StartTask or RecoverTask until DestroyTask; its exit, once the watcher has seen it, stays
 * available to every WaitTask until then.
 */
import { Deferred, Effect, FiberMap, Option, type Scope } from "effect"
import type { TaskConfig as TaskConfigPb } from "../../src/gen/plugins/drivers/proto/driver.js"
import type { DriverState } from "../../src/task/DriverState.js"
import type { Exit } from "./exitWatcher.js"

export interface TaskRecord {
  /** The TaskConfig Nomad started (or recovered) the task with; handed back in the task handle. */
  readonly config: TaskConfigPb
  readonly state: DriverState
  /** Completed by the task's exit watcher. */
  readonly exit: Deferred.Deferred<Exit>
}

export interface TaskStore {
  readonly get: (id: string) => Option.Option<TaskRecord>
  /** Registers a task and starts watching for its exit with `watch`. */
  readonly add: (config: TaskConfigPb, state: DriverState, watch: Effect.Effect<Exit>) => Effect.Effect<TaskRecord>
  /** Forgets a task and stops its watcher. */
  readonly remove: (id: string) => Effect.Effect<void>
  /** The exit, if the task has exited. */
  readonly exited: (record: TaskRecord) => Effect.Effect<Option.Option<Exit>>
}

export const make: Effect.Effect<TaskStore, never, Scope.Scope> = Effect.gen(function*() {
  const records = new Map<string, TaskRecord>()
  // Watchers live as long as the store (the plugin) or until their task is removed.
  const watchers = yield* FiberMap.make<string>()
  return {
    get: (id) => Option.fromNullable(records.get(id)),
    add: (config, state, watch) =>
      Effect.gen(function*() {
        const record: TaskRecord = { config, state, exit: yield* Deferred.make<Exit>() }
        records.set(config.id, record)
        yield* FiberMap.run(watchers, config.id, Effect.flatMap(watch, (exit) => Deferred.succeed(record.exit, exit)))
        return record
      }),
    remove: (id) =>
      Effect.suspend(() => {
        records.delete(id)
        return FiberMap.remove(watchers, id)
      }),
    exited: (record) => Deferred.poll(record.exit).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.succeedNone, onSome: Effect.asSome })))
  }
})
