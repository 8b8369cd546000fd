/**
 * What every task operation works with: the node's working set (containerd, images), the known tasks, the
 * task-event stream, the host-side networking and the image GC's counts. Assembled once by layers/Tasks.ts.
 */
import type { Effect } from "effect"
import type { ContainerdService } from "../Containerd.js"
import type { ImageGc } from "../ImageGc.js"
import type { Network } from "../Network.js"
import type { Node } from "../NodeConfig.js"
import type { TaskEvents } from "../TaskEvents.js"
import type { TaskError } from "./TaskError.js"
import type { TaskStore } from "./TaskStore.js"

export interface TaskContext {
  /** The working set of the config in force; fails before SetConfig. */
  readonly node: Effect.Effect<Node, TaskError>
  /** The containerd client of the config in force, for work that outlives a call (exit watchers). */
  readonly client: Effect.Effect<ContainerdService>
  readonly store: TaskStore
  readonly events: TaskEvents["Type"]
  readonly network: Network["Type"]
  /** Counts the tasks using each image, for the image GC. */
  readonly gc: ImageGc["Type"]
}
