/**
 * Gathers the host facts a task's runtime spec needs (src/oci/HostFactsNeeded.ts says which), so
 * spec generation itself stays pure: the process's capabilities, cgroup version, CPUs, device
 * nodes, the host's hosts and resolv.conf, realpaths of mount sources, a seccomp profile file.
 */
import { Data, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { knownCapabilities } from "../src/oci/Capabilities.js"
import type { HostFactsNeeded } from "../src/oci/HostFactsNeeded.js"
import type { HostDeviceNode, HostFacts } from "../src/oci/SpecInput.js"
import { decodeJson } from "../src/oci/SpecJson.js"
import { readBoundedFile } from "./boundedFile.js"

export class HostFactsError extends Data.TaggedError("HostFactsError")<{
  readonly reason: "Device" | "SeccompProfile" | "Proc" | "HostFile"
  readonly message: string
  readonly cause?: unknown
}> {}

/** CAP_* names of the bits set in a /proc/<pid>/status capability mask such as CapEff. */
export const capabilitiesOfMask = (hex: string): ReadonlyArray<string> => {
  const mask = BigInt(`0x${hex}`)
  return knownCapabilities.filter((_, bit) => (mask >> BigInt(bit)) & 1n)
}

/** The effective capabilities of this process. */
export const processCapabilities = (): ReadonlyArray<string> => {
  const status = fs.readFileSync("/proc/self/status", "utf8")
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)
  return line === null ? [] : capabilitiesOfMask(line[1]!)
}

const goArch: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", mips: "mips", mipsel: "mipsle" }

/** Linux's encoding of dev_t (major in bits 8-19 and 32+, minor in 0-7 and 20+). */
const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn))
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn))

/** A device node as lstat sees it, or undefined for anything that is not a char or block device. */
export const deviceNode = (file: string): HostDeviceNode | undefined => {
  const stat = fs.lstatSync(file)
  const type = stat.isCharacterDevice() ? "c" : stat.isBlockDevice() ? "b" : undefined
  if (type === undefined) return undefined
  return { type, major: major(stat.rdev), minor: minor(stat.rdev), fileMode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid }
}

/** Every device node under /dev, not following symlinks (the skip rules are applied by spec generation). */
const allDevices = (dir = "/dev", out: Record<string, HostDeviceNode> = {}): Record<string, HostDeviceNode> => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) allDevices(file, out)
    else if (entry.isCharacterDevice() || entry.isBlockDevice()) {
      const node = deviceNode(file)
      if (node !== undefined) out[file] = node
    }
  }
  return out
}

/**
 * The host's resolver config for a container: with systemd-resolved's stub (127.0.0.53) in
 * /etc/resolv.conf, the upstream list it keeps in /run/systemd/resolve/resolv.conf, as Docker does.
 */
export const hostResolvConf = (): string => {
  const etc = fs.readFileSync("/etc/resolv.conf", "utf8")
  const upstream = "/run/systemd/resolve/resolv.conf"
  return /^\s*nameserver\s+127\.0\.0\.53\b/m.test(etc) && fs.existsSync(upstream) ? fs.readFileSync(upstream, "utf8") : etc
}

const readHostFile = <A>(what: string, read: () => A) =>
  Effect.try({
    try: read,
    catch: (cause) => new HostFactsError({ reason: "HostFile", message: `cannot read ${what}: ${(cause as Error).message}`, cause })
  })

/**
 * Docker's default profile, the largest in common use, is some tens of KiB of JSON; 1 MiB leaves room for any
 * hand-written or generated profile while keeping a wrong path (a log, an image) from being parsed as one.
 */
export const maxSeccompProfileBytes = 1024 * 1024

const CGROUP2_SUPER_MAGIC = 0x63677270

/** cgroup v2 when /sys/fs/cgroup is the unified hierarchy, else v1 (including hybrid hosts). */
export const hostCgroupVersion = (): 1 | 2 => {
  try {
    return fs.statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC ? 2 : 1
  } catch {
    return 1
  }
}

export const gather = (needed: HostFactsNeeded): Effect.Effect<HostFacts, HostFactsError> =>
  Effect.gen(function*() {
    const devices: Record<string, HostDeviceNode> = needed.allDevices
      ? yield* Effect.try({
        try: () => allDevices(),
        catch: (cause) => new HostFactsError({ reason: "Device", message: `cannot list the host's devices: ${(cause as Error).message}`, cause })
      })
      : {}
    for (const device of needed.devicePaths) {
      const node = yield* Effect.try({
        try: () => deviceNode(device),
        catch: (cause) => new HostFactsError({ reason: "Device", message: `device ${device} cannot be read: ${(cause as Error).message}`, cause })
      })
      if (node === undefined) {
        return yield* new HostFactsError({ reason: "Device", message: `${device} is not a character or block device` })
      }
      devices[device] = node
    }
    const realpaths: Record<string, string> = {}
    for (const p of needed.realpaths) {
      // A missing path has no realpath; spec generation then applies only the `..` check.
      const real = yield* readHostFile(`mount source ${p}`, () => (fs.existsSync(p) ? fs.realpathSync(p) : undefined))
      if (real !== undefined) realpaths[p] = real
    }
    const seccompFile = needed.seccompProfile
    const seccompProfile = seccompFile === undefined ? undefined : yield* readBoundedFile(seccompFile, maxSeccompProfileBytes).pipe(
      Effect.mapError((error) =>
        new HostFactsError({ reason: "SeccompProfile", message: `seccomp_profile ${error.message}`, cause: error })
      ),
      Effect.flatMap((bytes) =>
        Effect.mapError(decodeJson(bytes.toString("utf8")), (detail) =>
          new HostFactsError({ reason: "SeccompProfile", message: `seccomp_profile ${seccompFile} cannot be used: ${detail}` }))
      )
    )
    const capabilities = yield* Effect.try({
      try: processCapabilities,
      catch: (cause) => new HostFactsError({ reason: "Proc", message: `cannot read /proc/self/status: ${(cause as Error).message}`, cause })
    })
    const resolvConf = needed.hostResolvConf && fs.existsSync("/etc/resolv.conf")
      ? yield* readHostFile("/etc/resolv.conf", hostResolvConf)
      : undefined
    const hosts = needed.hostHosts ? yield* readHostFile("/etc/hosts", () => fs.readFileSync("/etc/hosts", "utf8")) : undefined
    return {
      capabilities,
      cgroupVersion: hostCgroupVersion(),
      cpuCount: os.availableParallelism(),
      arch: goArch[process.arch] ?? process.arch,
      kernelRelease: os.release(),
      hostDevices: devices,
      ...(resolvConf === undefined ? {} : { hostResolvConf: resolvConf }),
      ...(hosts === undefined ? {} : { hostHosts: hosts }),
      ...(seccompProfile === undefined ? {} : { seccompProfile }),
      realpaths
    }
  })
