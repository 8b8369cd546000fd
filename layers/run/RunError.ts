/**
 * The one error of `containerd-driver run`'s layers: what stopped the command from running the job, in words the
 * user can act on. `reason` says which part failed: the job file, the plugin config, the plugin process, the
 * group network, or the host (directories, FIFOs). None of them is worth retrying by itself, so nothing here is
 * recoverable; a task's own failures go through its restart policy instead.
 */
import { Data } from "effect"

export class RunError extends Data.TaggedError("RunError")<{
  readonly reason: "Job" | "Config" | "Plugin" | "Network" | "Host"
  readonly message: string
}> {
  readonly recoverable = false
}
