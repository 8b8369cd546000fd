/**
 * containerd's default Linux spec (Go client 1.6.20, `oci.WithDefaultSpec` / `populateDefaultUnixSpec`,
 * containerd/containerd oci/spec.go) and the device-cgroup allow rules `ctr` adds with `WithDefaultUnixDevices`
 * (oci/spec_opts.go).
 * Pinned against `ctr` output by test/unit/oci-golden.test.ts.
 */
import * as path from "node:path"
import { defaultCapabilities } from "./Capabilities.js"
import type { DeviceCgroupRule, Mount, RuntimeSpec } from "./RuntimeSpec.js"

/** The runtime-spec version containerd 1.6 vendors. */
export const ociVersion = "1.0.2-dev"

/** PATH used when the image config has no Env at all (containerd's WithImageConfig). */
export const defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

export const defaultMounts: ReadonlyArray<Mount> = [
  { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  {
    destination: "/dev/pts",
    type: "devpts",
    source: "devpts",
    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
  },
  { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
  { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] }
]

export const defaultMaskedPaths: ReadonlyArray<string> = [
  "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
]

export const defaultReadonlyPaths: ReadonlyArray<string> = [
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
]

/** The containerd default cgroup path: `/<namespace>/<container id>` (cgroupfs driver; Go's filepath.Join). */
export const namespacedCgroupsPath = (namespace: string, containerId: string): string =>
  path.posix.join("/", namespace, containerId)

/** `populateDefaultUnixSpec(namespace, id)`. */
export const defaultSpec = (namespace: string, containerId: string): RuntimeSpec => ({
  ociVersion,
  process: {
    user: { uid: 0, gid: 0 },
    cwd: "/",
    capabilities: {
      bounding: defaultCapabilities,
      effective: defaultCapabilities,
      permitted: defaultCapabilities
    },
    rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
    noNewPrivileges: true
  },
  root: { path: "rootfs" },
  mounts: defaultMounts,
  linux: {
    resources: { devices: [{ allow: false, access: "rwm" }] },
    cgroupsPath: namespacedCgroupsPath(namespace, containerId),
    namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }],
    maskedPaths: defaultMaskedPaths,
    readonlyPaths: defaultReadonlyPaths
  }
})

/**
 * `WithDefaultUnixDevices` allow rules (null, random, full, tty, zero, urandom, console, pts, ptmx). runc allows
 * these nodes itself; ctr adds the rules anyway and so do we, for parity with containerd's own client.
 */
export const defaultUnixDeviceRules: ReadonlyArray<DeviceCgroupRule> = [
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
  { allow: true, type: "c", major: 136, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }
]
