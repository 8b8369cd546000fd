/**
 * The subset of the OCI runtime spec (runtime-spec 1.0.2, as vendored by containerd 1.6) that the driver emits,
 * with the JSON field names of the spec (camelCase, opencontainers/runtime-spec specs-go/config.go). Absent fields
 * are omitted, never `undefined`, so a spec compares equal to its JSON round trip.
 *
 * Numbers are JSON numbers. Values beyond 2^53 (RLIM_INFINITY = 2^64 − 1 in an rlimit, large seccomp argument
 * values from a custom profile) are bigints, and SpecJson.ts writes them as exact integers.
 */

export interface RuntimeSpec {
  readonly ociVersion: string
  readonly process: Process
  readonly root: Root
  readonly hostname?: string
  readonly mounts: ReadonlyArray<Mount>
  readonly annotations?: Readonly<Record<string, string>>
  readonly linux: Linux
}

export interface Process {
  readonly terminal?: boolean
  readonly user: User
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<string>
  readonly cwd: string
  readonly capabilities?: Capabilities
  readonly rlimits?: ReadonlyArray<Rlimit>
  readonly noNewPrivileges?: boolean
  readonly apparmorProfile?: string
  readonly oomScoreAdj?: number
  readonly selinuxLabel?: string
}

export interface User {
  readonly uid: number
  readonly gid: number
  readonly umask?: number
  readonly additionalGids?: ReadonlyArray<number>
  readonly username?: string
}

export interface Capabilities {
  readonly bounding?: ReadonlyArray<string>
  readonly effective?: ReadonlyArray<string>
  readonly inheritable?: ReadonlyArray<string>
  readonly permitted?: ReadonlyArray<string>
  readonly ambient?: ReadonlyArray<string>
}

/** `hard`/`soft` are bigint only for RLIM_INFINITY. */
export interface Rlimit {
  readonly type: string
  readonly hard: number | bigint
  readonly soft: number | bigint
}

export interface Root {
  readonly path: string
  readonly readonly?: boolean
}

export interface Mount {
  readonly destination: string
  readonly type?: string
  readonly source?: string
  readonly options?: ReadonlyArray<string>
}

export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup"

export interface Namespace {
  readonly type: NamespaceType
  readonly path?: string
}

export interface Linux {
  readonly sysctl?: Readonly<Record<string, string>>
  readonly resources?: Resources
  readonly cgroupsPath?: string
  readonly namespaces: ReadonlyArray<Namespace>
  readonly devices?: ReadonlyArray<Device>
  readonly seccomp?: Seccomp
  readonly rootfsPropagation?: string
  readonly maskedPaths?: ReadonlyArray<string>
  readonly readonlyPaths?: ReadonlyArray<string>
  readonly mountLabel?: string
}

export interface Resources {
  readonly devices?: ReadonlyArray<DeviceCgroupRule>
  readonly memory?: Memory
  readonly cpu?: Cpu
  readonly pids?: Pids
}

export interface DeviceCgroupRule {
  readonly allow: boolean
  readonly type?: DeviceType
  readonly major?: number
  readonly minor?: number
  readonly access?: string
}

export interface Memory {
  readonly limit?: number
  readonly reservation?: number
  readonly swap?: number
}

export interface Cpu {
  readonly shares?: number
  readonly quota?: number
  readonly period?: number
  readonly cpus?: string
  readonly mems?: string
}

export interface Pids {
  readonly limit: number
}

/** c = character, b = block, p = FIFO (runtime-spec also knows u, treated as c). */
export type DeviceType = "c" | "b" | "p"

export interface Device {
  readonly path: string
  readonly type: DeviceType
  readonly major: number
  readonly minor: number
  readonly fileMode?: number
  readonly uid?: number
  readonly gid?: number
}

export interface Seccomp {
  readonly defaultAction: string
  readonly defaultErrnoRet?: number
  readonly architectures?: ReadonlyArray<string>
  readonly flags?: ReadonlyArray<string>
  readonly listenerPath?: string
  readonly listenerMetadata?: string
  readonly syscalls?: ReadonlyArray<Syscall>
}

export interface Syscall {
  readonly names: ReadonlyArray<string>
  readonly action: string
  readonly errnoRet?: number
  readonly args?: ReadonlyArray<SyscallArg>
}

/** `value`/`valueTwo` are uint64 in the spec: bigint when a custom profile holds one beyond 2^53. */
export interface SyscallArg {
  readonly index: number
  readonly value: number | bigint
  readonly valueTwo?: number | bigint
  readonly op: string
}
