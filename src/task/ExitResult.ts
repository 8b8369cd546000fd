/**
 * How a task ended, as Nomad's WaitTask wants it. containerd reports one exit status: the process's exit code,
 * or 128 + N when signal N killed it (runc's convention). Nomad's own executor reports a signal death the same
 * way — exit code 128 + N with `signal` N — so that convention is kept; a process that exits by itself with a
 * code above 128 is indistinguishable from a signal death and is reported as one.
 */
export interface ExitResult {
  readonly exitCode: number
  /** The signal that killed the task, 0 if none. */
  readonly signal: number
  readonly oomKilled: boolean
  /** Non-empty when the driver could not learn how the task ended (Nomad shows it as the exit message). */
  readonly err: string
}

/** Highest Linux signal number; statuses above 128 + this are plain exit codes. */
const maxSignal = 64

export const fromExitStatus = (status: number, oomKilled: boolean): ExitResult => ({
  exitCode: status,
  signal: status > 128 && status <= 128 + maxSignal ? status - 128 : 0,
  oomKilled,
  err: oomKilled ? "OOM Killed" : ""
})

/** Go's `UnknownExitStatus` (255), with the reason the real status could not be read. */
export const unknownExit = (err: string): ExitResult => ({ exitCode: 255, signal: 0, oomKilled: false, err })
