/**
 * Nomad's restart tracker (client/allocrunner/taskrunner/restarts): after each exit of a task, or a failed start,
 * whether the task runs again and after how long. A successful exit ends a batch task and a lifecycle hook that is
 * not a sidecar; every other exit counts against the restart policy: `attempts` restarts per `interval`, each after
 * `delay`; beyond that, mode "fail" fails the task and mode "delay" waits for the interval to end and starts over.
 */
import type { JobType, Lifecycle, RestartPolicy } from "./Job.js"

export interface RestartState {
  /** Restarts counted in the current interval. */
  readonly count: number
  /** When the current interval began (ms since the epoch). */
  readonly intervalStart: number
}

export type Outcome =
  | { readonly _tag: "Exited" }
  | { readonly _tag: "Restart"; readonly delayMs: number; readonly reason: string }
  | { readonly _tag: "Failed"; readonly reason: string }

export type TaskEnd =
  | { readonly _tag: "Exit"; readonly exitCode: number; readonly signal: number; readonly error: string }
  /** StartTask failed; `recoverable` as the driver's RecoverableError says. */
  | { readonly _tag: "StartFailed"; readonly recoverable: boolean; readonly message: string }

export const initialRestartState = (now: number): RestartState => ({ count: 0, intervalStart: now })

export const isSuccess = (end: TaskEnd): boolean => end._tag === "Exit" && end.exitCode === 0 && end.signal === 0 && end.error === ""

/** What follows `end`, and the tracker's next state. */
export const nextAfter = (
  policy: RestartPolicy,
  jobType: JobType,
  lifecycle: Lifecycle | undefined,
  state: RestartState,
  end: TaskEnd,
  now: number
): { readonly outcome: Outcome; readonly state: RestartState } => {
  if (end._tag === "StartFailed" && !end.recoverable) {
    return { outcome: { _tag: "Failed", reason: `Error was unrecoverable: ${end.message}` }, state }
  }
  const batchLike = jobType === "batch" || jobType === "sysbatch" || (lifecycle !== undefined && !lifecycle.sidecar)
  if (isSuccess(end) && batchLike) return { outcome: { _tag: "Exited" }, state }
  const fresh = now > state.intervalStart + policy.intervalMs
  const current = fresh ? initialRestartState(now) : state
  const count = current.count + 1
  const why = end._tag === "StartFailed" ? "Error was recoverable" : isSuccess(end) ? "Restart within policy" : "Restart within policy"
  if (count > policy.attempts) {
    if (policy.mode === "fail") {
      return {
        outcome: { _tag: "Failed", reason: `Exceeded allowed attempts ${policy.attempts} in interval ${policy.intervalMs / 1000}s and mode is "fail"` },
        state: { ...current, count }
      }
    }
    const wait = Math.max(0, current.intervalStart + policy.intervalMs - now)
    return {
      outcome: { _tag: "Restart", delayMs: wait, reason: `Exceeded allowed attempts ${policy.attempts} in interval ${policy.intervalMs / 1000}s and mode is "delay"` },
      state: initialRestartState(now + wait)
    }
  }
  return { outcome: { _tag: "Restart", delayMs: policy.delayMs, reason: why }, state: { ...current, count } }
}
