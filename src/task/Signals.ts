/**
 * Linux signal names and numbers (x86, arm and most other architectures share this numbering), for
 * `kill_signal`, the image's STOPSIGNAL and `nomad alloc signal`. Names are taken as Go's signal tables spell
 * them (`SIGHUP`), case-insensitively and with or without the `SIG` prefix; numbers and `SIGRTMIN+n` /
 * `SIGRTMAX-n` are accepted as well, as in Docker's STOPSIGNAL.
 */

const numbers: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31
}

/** The first real-time signal as glibc and musl expose it (the kernel's 32 and 33 are taken by the libc). */
const SIGRTMIN = 34
const SIGRTMAX = 64

export const SIGKILL = 9
export const SIGTERM = 15

/** The signal number of `name`, or undefined when it names no signal. */
export const signalNumber = (name: string): number | undefined => {
  const text = name.trim().toUpperCase()
  if (/^\d+$/.test(text)) {
    const n = Number(text)
    return n >= 1 && n <= SIGRTMAX ? n : undefined
  }
  const full = text.startsWith("SIG") ? text : `SIG${text}`
  const known = numbers[full]
  if (known !== undefined) return known
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(full)
  if (rt === null) return undefined
  const offset = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === "-" ? -1 : 1)
  const n = (rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX) + offset
  return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined
}

/** The original driver's message for a signal it cannot send. */
export const invalidSignalMessage = (name: string): string => `Invalid signal: ${name}`
