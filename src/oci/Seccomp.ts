/**
 * The `linux.seccomp` section: containerd's default profile (containerd/containerd contrib/seccomp/seccomp_default.go
 * `DefaultProfile`, 1.6.20), computed from the spec's final bounding capabilities; and custom profiles given by
 * `seccomp_profile`, in Docker's format (`archMap`, `name`/`names`, `includes`/`excludes`) or plain runtime-spec
 * format (which is what the original driver accepted, and a subset of Docker's).
 */
import { Either } from "effect"
import type { Seccomp, Syscall, SyscallArg } from "./RuntimeSpec.js"
import { type SpecError, specError } from "./SpecError.js"

/** The 349 syscalls containerd 1.6.20 allows unconditionally, in its order. */
const defaultAllowed: ReadonlyArray<string> = [
  "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod", "chown",
  "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
  "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
  "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
  "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
  "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir",
  "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
  "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
  "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents",
  "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
  "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
  "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
  "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
  "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
  "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "io_uring_enter",
  "io_uring_register", "io_uring_setup", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
  "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
  "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier", "memfd_create",
  "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
  "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
  "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
  "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
  "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
  "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
  "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
  "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
  "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
  "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
  "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
  "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
  "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
  "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
  "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
  "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
  "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
  "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
  "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall",
  "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
  "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
  "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
  "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
  "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64",
  "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev"
]

/** GOARCH → the seccomp architectures containerd's default profile lists. */
const defaultArchitectures: Readonly<Record<string, ReadonlyArray<string>>> = {
  amd64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  arm64: ["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"],
  s390x: ["SCMP_ARCH_S390", "SCMP_ARCH_S390X"],
  riscv64: ["SCMP_ARCH_RISCV64"]
}

/** GOARCH → the native seccomp architecture (Docker's archMap key). */
const nativeArchitecture: Readonly<Record<string, string>> = {
  "386": "SCMP_ARCH_X86",
  amd64: "SCMP_ARCH_X86_64",
  arm: "SCMP_ARCH_ARM",
  arm64: "SCMP_ARCH_AARCH64",
  mips64: "SCMP_ARCH_MIPS64",
  mips64le: "SCMP_ARCH_MIPSEL64",
  ppc64: "SCMP_ARCH_PPC64",
  ppc64le: "SCMP_ARCH_PPC64LE",
  s390: "SCMP_ARCH_S390",
  s390x: "SCMP_ARCH_S390X",
  riscv64: "SCMP_ARCH_RISCV64"
}

/** Architecture-specific allows of the default profile. */
const archAllowed: Readonly<Record<string, ReadonlyArray<string>>> = {
  ppc64le: ["sync_file_range2", "swapcontext"],
  arm: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
  arm64: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
  amd64: ["arch_prctl", "modify_ldt"],
  "386": ["modify_ldt"],
  s390: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
  s390x: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
  riscv64: ["riscv_flush_icache"]
}

/** Syscalls allowed when the bounding set holds a capability (rules appear in bounding-set order). */
const capabilityAllowed: Readonly<Record<string, ReadonlyArray<string>>> = {
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_SYS_ADMIN: [
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
    "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
    "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"
  ],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "init_module", "finit_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYS_NICE: ["get_mempolicy", "mbind", "set_mempolicy"],
  CAP_SYSLOG: ["syslog"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"]
}

/** CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP. */
const namespaceCloneFlags = 2114060288
const ENOSYS = 38

/** "6.1.0-18-amd64" → [6, 1]; undefined when it does not start with two numbers. */
export const parseKernelVersion = (release: string): readonly [number, number] | undefined => {
  const match = /^(\d+)\.(\d+)/.exec(release.trim())
  return match ? [Number(match[1]), Number(match[2])] : undefined
}

const kernelAtLeast = (release: string, major: number, minor: number): boolean | undefined => {
  const version = parseKernelVersion(release)
  return version === undefined ? undefined : version[0] > major || (version[0] === major && version[1] >= minor)
}

const allow = (names: ReadonlyArray<string>): Syscall => ({ names, action: "SCMP_ACT_ALLOW" })

/**
 * containerd's `DefaultProfile(spec)`: everything is EPERM except the allow list, personality with the five
 * safe personas, ptrace on kernels ≥ 4.8, the architecture's extras and the capability-conditional rules; without
 * CAP_SYS_ADMIN, `clone` may not create namespaces and `clone3` fails with ENOSYS so libc falls back to clone.
 */
export const defaultSeccompProfile = (
  bounding: ReadonlyArray<string>,
  arch: string,
  kernelRelease: string
): Seccomp => {
  const syscalls: Array<Syscall> = [allow(defaultAllowed)]
  for (const persona of [0, 8, 131072, 131080, 4294967295]) {
    syscalls.push({ ...allow(["personality"]), args: [{ index: 0, value: persona, op: "SCMP_CMP_EQ" }] })
  }
  if (kernelAtLeast(kernelRelease, 4, 8) === true) syscalls.push(allow(["ptrace"]))
  const extras = archAllowed[arch]
  if (extras !== undefined) syscalls.push(allow(extras))
  for (const cap of bounding) {
    const names = capabilityAllowed[cap]
    if (names !== undefined) syscalls.push(allow(names))
  }
  if (!bounding.includes("CAP_SYS_ADMIN")) {
    const flagsArg = arch === "s390" || arch === "s390x" ? 1 : 0
    syscalls.push({
      ...allow(["clone"]),
      args: [{ index: flagsArg, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }]
    })
    syscalls.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS })
  }
  const architectures = defaultArchitectures[arch]
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    ...(architectures !== undefined ? { architectures } : {}),
    syscalls: syscalls.map(withoutZeroValueTwo)
  }
}

/** Go omits `valueTwo: 0` (omitempty); so do we, to stay byte-compatible with containerd's JSON. */
const withoutZeroValueTwo = (syscall: Syscall): Syscall =>
  syscall.args === undefined
    ? syscall
    : {
      ...syscall,
      args: syscall.args.map(({ valueTwo, ...arg }) =>
        valueTwo === undefined || valueTwo === 0 || valueTwo === 0n ? arg : { ...arg, valueTwo }
      )
    }

// --- custom profiles -----------------------------------------------------------------------------------------------

type Json = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isStringArray = (value: unknown): value is ReadonlyArray<string> =>
  Array.isArray(value) && value.every((v) => typeof v === "string")

const isUint = (value: unknown): value is number | bigint =>
  (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) ||
  (typeof value === "bigint" && value >= 0n && value < 2n ** 64n)

/** The actions of the runtime spec's linux.seccomp, all of which runc ≥ 1.1 knows. */
export const seccompActions: ReadonlyArray<string> = [
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"
]

/** The argument comparisons of the runtime spec. */
export const seccompOperators: ReadonlyArray<string> = [
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"
]

/** A system call has at most six arguments (index 0-5). */
const maxArgIndex = 5

const unknownAction = (what: string, action: string): string =>
  `${what} ${JSON.stringify(action)} is not a seccomp action; use one of ${seccompActions.join(", ")}`

export interface CustomProfileContext {
  /** The `seccomp_profile` path, for messages. */
  readonly path: string
  readonly bounding: ReadonlyArray<string>
  readonly arch: string
  readonly kernelRelease: string
}

/**
 * Converts a Docker-format (or runtime-spec-format) profile into `linux.seccomp` the way dockerd does: the
 * `archMap` entry of the host's native architecture gives `architectures`; a rule is kept only when its
 * `includes` (arches, caps, minKernel) hold and its `excludes` don't, judged against the final bounding set.
 */
export const customSeccompProfile = (
  profile: unknown,
  context: CustomProfileContext
): Either.Either<Seccomp, SpecError> => {
  const invalid = (problem: string) =>
    Either.left(
      specError(
        "InvalidSeccompProfile",
        `seccomp_profile ${context.path} is not a valid seccomp profile: ${problem}`
      )
    )
  if (!isObject(profile)) return invalid("expected a JSON object")
  if (typeof profile.defaultAction !== "string" || profile.defaultAction === "") {
    return invalid("\"defaultAction\" must be a non-empty string such as \"SCMP_ACT_ERRNO\"")
  }
  if (!seccompActions.includes(profile.defaultAction)) return invalid(unknownAction("\"defaultAction\"", profile.defaultAction))
  // runc refuses it: the filter would have to notify for the very write that hands its listener over.
  if (profile.defaultAction === "SCMP_ACT_NOTIFY") {
    return invalid("\"defaultAction\" cannot be SCMP_ACT_NOTIFY; notify for chosen syscalls only")
  }
  const architectures = profile.architectures ?? []
  const archMap = profile.archMap ?? []
  if (!isStringArray(architectures)) return invalid("\"architectures\" must be a list of strings")
  if (!Array.isArray(archMap)) return invalid("\"archMap\" must be a list")
  if (architectures.length > 0 && archMap.length > 0) {
    return invalid("both \"architectures\" and \"archMap\" are set; use one of them")
  }
  const native = nativeArchitecture[context.arch]
  const resolvedArchitectures: Array<string> = [...architectures]
  for (const entry of archMap) {
    if (!isObject(entry) || typeof entry.architecture !== "string") {
      return invalid("each \"archMap\" entry needs an \"architecture\" string")
    }
    const sub = entry.subArchitectures ?? []
    if (!isStringArray(sub)) return invalid("\"subArchitectures\" must be a list of strings")
    if (entry.architecture === native) resolvedArchitectures.push(entry.architecture, ...sub)
  }
  for (const key of ["flags"] as const) {
    if (profile[key] !== undefined && !isStringArray(profile[key])) return invalid(`"${key}" must be a list of strings`)
  }
  for (const key of ["listenerPath", "listenerMetadata"] as const) {
    if (profile[key] !== undefined && typeof profile[key] !== "string") return invalid(`"${key}" must be a string`)
  }
  if (profile.defaultErrnoRet !== undefined && !isUint(profile.defaultErrnoRet)) {
    return invalid("\"defaultErrnoRet\" must be a non-negative whole number")
  }
  const rules = profile.syscalls ?? []
  if (!Array.isArray(rules)) return invalid("\"syscalls\" must be a list")
  const syscalls: Array<Syscall> = []
  for (const [i, rule] of rules.entries()) {
    const converted = convertRule(rule, i, context)
    if (Either.isLeft(converted)) return invalid(converted.left)
    if (converted.right !== undefined) syscalls.push(converted.right)
  }
  return Either.right({
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: Number(profile.defaultErrnoRet) } : {}),
    ...(resolvedArchitectures.length > 0 ? { architectures: resolvedArchitectures } : {}),
    ...(isStringArray(profile.flags) && profile.flags.length > 0 ? { flags: profile.flags } : {}),
    ...(typeof profile.listenerPath === "string" && profile.listenerPath !== "" ? { listenerPath: profile.listenerPath } : {}),
    ...(typeof profile.listenerMetadata === "string" && profile.listenerMetadata !== ""
      ? { listenerMetadata: profile.listenerMetadata }
      : {}),
    ...(syscalls.length > 0 ? { syscalls } : {})
  })
}

/** One Docker rule → a runtime-spec rule, undefined when its includes/excludes filter it out here. */
const convertRule = (
  rule: unknown,
  index: number,
  context: CustomProfileContext
): Either.Either<Syscall | undefined, string> => {
  const at = `syscalls[${index}]`
  if (!isObject(rule)) return Either.left(`${at} must be an object`)
  if (rule.name !== undefined && typeof rule.name !== "string") return Either.left(`${at}.name must be a string`)
  if (rule.names !== undefined && !isStringArray(rule.names)) return Either.left(`${at}.names must be a list of strings`)
  const hasName = typeof rule.name === "string" && rule.name !== ""
  const names = rule.names ?? []
  if (hasName && names.length > 0) return Either.left(`${at} sets both "name" and "names"; use one of them`)
  const allNames: ReadonlyArray<string> = hasName ? [rule.name as string] : names
  if (allNames.length === 0) return Either.left(`${at} names no syscall`)
  if (typeof rule.action !== "string" || rule.action === "") return Either.left(`${at}.action must be a non-empty string`)
  if (!seccompActions.includes(rule.action)) return Either.left(unknownAction(`${at}.action`, rule.action))
  if (rule.errnoRet !== undefined && !isUint(rule.errnoRet)) {
    return Either.left(`${at}.errnoRet must be a non-negative whole number`)
  }
  const rawArgs = rule.args ?? []
  if (!Array.isArray(rawArgs)) return Either.left(`${at}.args must be a list`)
  const args: Array<SyscallArg> = []
  for (const [j, arg] of rawArgs.entries()) {
    if (
      !isObject(arg) || !isUint(arg.index) || !isUint(arg.value) || typeof arg.op !== "string" ||
      (arg.valueTwo !== undefined && !isUint(arg.valueTwo))
    ) {
      return Either.left(`${at}.args[${j}] needs "index", "value" (whole numbers) and "op" (e.g. "SCMP_CMP_EQ")`)
    }
    if (Number(arg.index) > maxArgIndex) {
      return Either.left(`${at}.args[${j}].index is ${arg.index}; a system call argument index is 0 to ${maxArgIndex}`)
    }
    if (!seccompOperators.includes(arg.op)) {
      return Either.left(
        `${at}.args[${j}].op ${JSON.stringify(arg.op)} is not a seccomp comparison; use one of ${seccompOperators.join(", ")}`
      )
    }
    args.push({
      index: Number(arg.index),
      value: arg.value,
      ...(arg.valueTwo !== undefined && arg.valueTwo !== 0 && arg.valueTwo !== 0n ? { valueTwo: arg.valueTwo } : {}),
      op: arg.op
    })
  }
  const applies = filterApplies(rule, at, context)
  if (Either.isLeft(applies)) return Either.left(applies.left)
  if (!applies.right) return Either.right(undefined)
  return Either.right({
    names: allNames,
    action: rule.action,
    ...(rule.errnoRet !== undefined ? { errnoRet: Number(rule.errnoRet) } : {}),
    ...(args.length > 0 ? { args } : {})
  })
}

const filterApplies = (rule: Json, at: string, context: CustomProfileContext): Either.Either<boolean, string> => {
  const includes = rule.includes ?? {}
  const excludes = rule.excludes ?? {}
  if (!isObject(includes) || !isObject(excludes)) return Either.left(`${at}.includes/excludes must be objects`)
  for (const [name, filter] of [["includes", includes], ["excludes", excludes]] as const) {
    for (const key of ["arches", "caps"] as const) {
      if (filter[key] !== undefined && !isStringArray(filter[key])) {
        return Either.left(`${at}.${name}.${key} must be a list of strings`)
      }
    }
    if (filter.minKernel !== undefined && (typeof filter.minKernel !== "string" || parseKernelVersion(filter.minKernel) === undefined)) {
      return Either.left(`${at}.${name}.minKernel must be a kernel version such as "4.8"`)
    }
  }
  const atLeast = (minKernel: unknown): boolean => {
    const [major, minor] = parseKernelVersion(minKernel as string)!
    return kernelAtLeast(context.kernelRelease, major, minor) === true
  }
  const exArches = (excludes.arches ?? []) as ReadonlyArray<string>
  const exCaps = (excludes.caps ?? []) as ReadonlyArray<string>
  const inArches = (includes.arches ?? []) as ReadonlyArray<string>
  const inCaps = (includes.caps ?? []) as ReadonlyArray<string>
  if (exArches.includes(context.arch)) return Either.right(false)
  if (exCaps.some((c) => context.bounding.includes(c))) return Either.right(false)
  if (excludes.minKernel !== undefined && atLeast(excludes.minKernel)) return Either.right(false)
  if (inArches.length > 0 && !inArches.includes(context.arch)) return Either.right(false)
  if (inCaps.some((c) => !context.bounding.includes(c))) return Either.right(false)
  if (includes.minKernel !== undefined && !atLeast(includes.minKernel)) return Either.right(false)
  return Either.right(true)
}
