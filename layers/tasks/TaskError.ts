/**
 * The one error of the task lifecycle. `message` is what Nomad shows (a task event, `nomad alloc status`),
 * using the original driver's wording where it had one (`Error in creating container: ...`,
 * `Invalid signal: ...`, `cannot destroy running task`); `recoverable` is Nomad's RecoverableError: true when
 * starting again later may work (registry, network or containerd unavailable, pull timeout), false when it
 * cannot (invalid config, missing image, what the operator's policy refuses).
 */
import { Data } from "effect"
import type { ContainerdError } from "../containerd/ContainerdError.js"
import type { HostFactsError } from "../HostFacts.js"
import type { ImageStoreError } from "../ImageStore.js"
import type { SpecError } from "../../src/oci/SpecError.js"
import type { PolicyError } from "../../src/policy/PolicyError.js"

export type TaskErrorReason =
  /** SetConfig has not been called yet. */
  | "NotConfigured"
  /** The task's config cannot run: decoding or spec rules. */
  | "InvalidConfig"
  /** The operator's policy (allow-lists, namespace_policy) refuses what the task asks for. */
  | "Refused"
  | "AlreadyStarted"
  /** No task with this id is known to the driver. */
  | "UnknownTask"
  | "Image"
  /** A host fact the spec needs could not be read (device, seccomp profile file, network namespace). */
  | "Host"
  | "Containerd"
  /** The runtime could not start the process (missing executable, bad user, ...). */
  | "Start"
  | "Recover"
  | "InvalidSignal"
  /** The task has exited, so the operation (exec, signal) has nothing to act on. */
  | "Exited"
  /** DestroyTask without force on a running task. */
  | "Running"

export class TaskError extends Data.TaggedError("TaskError")<{
  readonly reason: TaskErrorReason
  readonly message: string
  readonly recoverable: boolean
  readonly cause?: unknown
}> {}

export const taskError = (reason: TaskErrorReason, message: string, recoverable = false, cause?: unknown): TaskError =>
  new TaskError({ reason, message, recoverable, ...(cause === undefined ? {} : { cause }) })

/** containerd unreachable or overloaded is worth retrying; anything it refused is not. */
export const containerdRecoverable = (error: ContainerdError): boolean =>
  error.unreachable || error.reason === "Unavailable" || error.reason === "DeadlineExceeded"

/** A failed containerd call during `what` (the original's prefixes, e.g. "Error in creating container"). */
export const fromContainerd = (what: string, error: ContainerdError): TaskError =>
  taskError("Containerd", `${what}: ${error.message}`, containerdRecoverable(error), error)

/** What task preparation failed with, kept in the driver's terms. */
export const fromPrepare = (error: PolicyError | ImageStoreError | HostFactsError | SpecError): TaskError => {
  switch (error._tag) {
    case "PolicyError":
      return taskError("Refused", error.message, false, error)
    case "ImageStoreError":
      return taskError("Image", error.message, error.recoverable, error)
    case "HostFactsError":
      return taskError("Host", error.message, false, error)
    case "SpecError":
      return taskError("InvalidConfig", error.message, false, error)
  }
}
