/**
 * What every task operation works with: the node's working set (containerd, images), the known tasks, the
 * task-event stream and the host-side networking. Assembled once by layers/Tasks.ts.
 */
import type { Effect } from "effect"
import type { ContainerdService } from "../Containerd.js"
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
}
