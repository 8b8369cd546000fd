/**
 * Everything runtime-spec generation depends on, as plain data. The caller (the Tasks layer) gathers it — image
 * config and the image's /etc/passwd and /etc/group, stat results of host devices, the host's resolv.conf and
 * hosts contents, the parsed seccomp profile file, the driver process's capabilities — so that building the spec
 * is a pure function (Spec.ts) that tests can drive with any facts.
 */
import type { TaskConfig } from "../config/TaskConfig.js"
import type { ImageConfig } from "../image/ImageConfig.js"
import type { Policy } from "../policy/Policy.js"
import type { DeviceType } from "./RuntimeSpec.js"

export type { ImageConfig, TaskConfig }

/** The plugin options spec generation reads; `namespace` is the resolved containerd namespace. */
export interface DriverSpecConfig {
  readonly allow_privileged: boolean
  readonly containerd_runtime: string
  readonly namespace: string
  /**
   * The task's effective policy (src/policy/Policy.ts), for what it changes rather than refuses: the default
   * capability set cut down to `allow_caps`, seccomp by default. Absent: the original driver's behaviour.
   */
  readonly policy?: Policy
}

/** Nomad's `TaskConfig` proto (proto/plugins/drivers/proto/driver.proto), the fields spec generation uses. */
export interface NomadTask {
  readonly id: string
  readonly name: string
  readonly alloc_id: string
  /** The task's Nomad namespace, which selects its `namespace_policy`; "default" when absent. */
  readonly namespace?: string
  /** The complete task environment (NOMAD_*, job env, template env). */
  readonly env: Readonly<Record<string, string>>
  /** Task `user`; empty when unset. */
  readonly user: string
  /** Host path of the allocation directory; the task dir is `<alloc_dir>/<name>`. */
  readonly alloc_dir: string
  readonly resources: NomadResources
  /** Host and CSI volumes (`volume_mount`). */
  readonly mounts: ReadonlyArray<NomadMount>
  /** Device-plugin devices. */
  readonly devices: ReadonlyArray<NomadDevice>
  /** Present only for group network modes (bridge, cni/*, none). */
  readonly network_isolation_spec?: NomadNetworkIsolation
  /** The group `network { dns { ... } }` block (or DNS supplied by CNI). */
  readonly dns?: NomadDns
}

export interface NomadResources {
  /** AllocatedCpuResources.cpu_shares (the task's `cpu` in MHz). */
  readonly cpu_shares: number
  readonly memory_mb: number
  /** 0 when `memory_max` is not set. */
  readonly memory_max_mb: number
  readonly linux: NomadLinuxResources
}

/** LinuxResources; 64-bit proto fields converted to numbers by the caller. */
export interface NomadLinuxResources {
  readonly cpu_shares: number
  readonly memory_limit_bytes: number
  /** Reserved cores (`resources { cores = n }`), e.g. "0,1"; empty otherwise. */
  readonly cpuset_cpus: string
  /** The cgroup Nomad created for the task, e.g. /sys/fs/cgroup/nomad.slice/share.slice/<alloc>.<task>.scope. */
  readonly cpuset_cgroup: string
  readonly cpu_period: number
  readonly cpu_quota: number
  /** The task's share of the node's total CPU (cpu MHz / node usable MHz). */
  readonly PercentTicks: number
}

export interface NomadMount {
  readonly task_path: string
  readonly host_path: string
  readonly readonly: boolean
  /** "private" | "host-to-task" | "bidirectional" (or empty). */
  readonly propagation_mode: string
}

export interface NomadDevice {
  readonly task_path: string
  readonly host_path: string
  /** Subset of "rwm"; empty means "rwm". */
  readonly cgroup_permissions: string
}

export interface NomadNetworkIsolation {
  readonly mode: "host" | "group" | "task" | "none"
  /** Network namespace file, e.g. /var/run/netns/<alloc_id>. */
  readonly path: string
  readonly hostsConfig?: { readonly hostname: string; readonly address: string }
}

export interface NomadDns {
  readonly servers: ReadonlyArray<string>
  readonly searches: ReadonlyArray<string>
  readonly options: ReadonlyArray<string>
}

/** The image config's `config` object (opencontainers/image-spec config.md), plus the image's account files. */
export interface ImageInput {
  readonly config: ImageConfig
  /** Contents of the image's /etc/passwd; undefined when the image has none. */
  readonly passwd?: string
  /** Contents of the image's /etc/group; undefined when the image has none. */
  readonly group?: string
}


/** What `lstat` says about a device node. */
export interface HostDeviceNode {
  readonly type: DeviceType
  readonly major: number
  readonly minor: number
  /** Permission bits (st_mode without the file type), e.g. 438 for 0666. */
  readonly fileMode: number
  readonly uid: number
  readonly gid: number
}

export interface HostFacts {
  /**
   * The effective capabilities of the driver process (CapEff), as CAP_* names. `privileged` grants exactly
   * these (as containerd's WithAllCurrentCapabilities does), and `cap_add` may only ask for these: on hosts where
   * the process lacks one (e.g. CAP_SYS_RESOURCE in some containers) asking runc for it fails the task start.
   */
  readonly capabilities: ReadonlyArray<string>
  readonly cgroupVersion: 1 | 2
  /** Logical CPUs usable by the node (Go's runtime.NumCPU), for `cpu_hard_limit`. */
  readonly cpuCount: number
  /** Go GOARCH of the host ("amd64", "arm64", ...): selects the seccomp architectures. */
  readonly arch: string
  /** `uname -r`, e.g. "6.1.0-18-amd64": the default seccomp profile allows ptrace from 4.8 on. */
  readonly kernelRelease: string
  /**
   * Device nodes by host path. Must hold every path named by the task's `devices` and by Nomad's devices, and —
   * when the task is privileged — every device node under /dev (lstat, not following symlinks; the skip rules of
   * containerd's WithHostDevices are applied here, so the caller can list /dev as it is).
   */
  readonly hostDevices: Readonly<Record<string, HostDeviceNode>>
  /**
   * The host's resolv.conf contents (pass /run/systemd/resolve/resolv.conf when /etc/resolv.conf points at the
   * systemd-resolved stub). Absent: the host's /etc/resolv.conf is bind-mounted as is, like the original driver.
   */
  readonly hostResolvConf?: string
  /** The host's /etc/hosts contents; needed for `host_network` with `extra_hosts`. */
  readonly hostHosts?: string
  /** The parsed JSON of the `seccomp_profile` file (SpecJson.decodeJson keeps large integers exact). */
  readonly seccompProfile?: unknown
  /**
   * Symlink-resolved paths (realpath) of relative mount sources and of their directories, keyed by the path as
   * Mounts.ts resolves it (HostFactsNeeded.ts lists them). A relative source whose real path leaves its
   * directory's real path is refused; a source without an entry gets only the `..` check.
   */
  readonly realpaths?: Readonly<Record<string, string>>
}

export interface SpecInput {
  readonly driver: DriverSpecConfig
  readonly task: TaskConfig
  readonly nomad: NomadTask
  readonly image: ImageInput
  readonly host: HostFacts
  /** containerd container id; also the default hostname and the last element of the cgroup path. */
  readonly containerId: string
  /**
   * Host directory, outside the task's writable dirs, where the caller writes the generated files (hosts,
   * resolv.conf) listed in the result; mounts reference `<generatedDir>/<name>`.
   */
  readonly generatedDir: string
}
