/**
 * The runtime spec of a task: containerd's default spec folded through small named spec options, in this fixed
 * order (like containerd's SpecOpts — each option sees the spec the previous ones produced):
 *
 *   1. defaultUnixDevices    device-cgroup allow rules for /dev/null, zero, tty, ... (what ctr adds; runc's own set)
 *   2. networkExclusivity    host_network with a group network → the original's error, before anything else
 *   3. imageConfig           args (image ENTRYPOINT/CMD + command/args/entrypoint), image env, image WorkingDir
 *   4. privileged            allow_privileged guard; every host capability, all host devices, no masked/read-only
 *                            paths, writable /sys, noNewPrivileges false
 *   5. pidsLimit             linux.resources.pids (> 0 only)
 *   6. pidMode               "host" drops the pid namespace
 *   7. shmSize               size= of the default /dev/shm tmpfs
 *   8. sysctl                linux.sysctl, namespaced parameters only (Sysctl.ts)
 *   9. readonlyRootfs        root.readonly
 *  10. networkNamespace      host_network drops the network namespace; a group network joins Nomad's netns path
 *  11. capabilities          the default set cut down to the policy's allow_caps (unprivileged tasks), then
 *                            cap_add / cap_drop on top of the current set — after privileged, so dropping from a
 *                            privileged set works and cap_drop always wins
 *  12. cwd                   task cwd over the image's
 *  13. env                   Nomad's env over the image's (PATH kept from the image)
 *  14. memory                limit (+ reservation with memory_max)
 *  15. cpu                   shares, cpuset (task option or reserved cores), CFS quota with cpu_hard_limit
 *  16. ulimits               process.rlimits, replacing the default RLIMIT_NOFILE when named
 *  17. hostname              hostname option or the container id — before mounts, which write it into /etc/hosts
 *  18. devices               task devices and Nomad device-plugin devices (node + cgroup rule)
 *  19. mounts                hosts/resolv.conf files, task mounts, Nomad volumes, task dirs (one per destination;
 *                            after shmSize and privileged, so a task mount on /dev/shm or /sys replaces the tuned
 *                            default rather than being tuned)
 *  20. user                  task user, else image USER, resolved against the image's passwd/group
 *  21. cgroupsPath           cgroup v2: Nomad's cpuset_cgroup; otherwise /<namespace>/<container id>
 *  22. seccomp               last: the default profile depends on the final bounding capabilities (the Go driver
 *                            applied it before cap_add, so e.g. cap_add SYS_ADMIN still had mount blocked); an
 *                            unset `seccomp` follows the policy's default_seccomp
 *
 * What the policy refuses is refused before the fold (src/policy/Admission.ts); the fold only applies what the
 * policy changes.
 *
 * Every failure is a SpecError; nothing here performs I/O (see SpecInput.ts for the facts the caller supplies).
 */
import * as path from "node:path"
import { Either } from "effect"
import { allowsAllCapabilities, seccompEnabled } from "../policy/Policy.js"
import { inBitOrder, resolveCapabilities } from "./Capabilities.js"
import { defaultSpec, defaultUnixDeviceRules } from "./DefaultSpec.js"
import { allHostDevices, mergeDevices, nomadDevices, taskDevices } from "./Devices.js"
import {
  type ExtraHost,
  isLoopbackAddress,
  parseExtraHost,
  parseResolvConf,
  renderHosts,
  renderResolvConf,
  resolvConfFromDnsBlock,
  withoutLoopbackNameservers
} from "./Hosts.js"
import {
  cleanDestination,
  mergeMounts,
  nomadVolumeMounts,
  parentsFirst,
  rootfsPropagationFor,
  taskDirectoryMounts,
  taskDirectoryTargets,
  taskMounts
} from "./Mounts.js"
import { processArgs, processCwd, processEnv } from "./Process.js"
import { cpuResources, memoryLimits } from "./Resources.js"
import type { Linux, Mount, Process, Resources, RuntimeSpec } from "./RuntimeSpec.js"
import { customSeccompProfile, defaultSeccompProfile } from "./Seccomp.js"
import { ramInBytes } from "./Size.js"
import { checkSysctl } from "./Sysctl.js"
import type { SpecInput } from "./SpecInput.js"
import { type SpecError, specError } from "./SpecError.js"
import { mergeRlimits, parseUlimits } from "./Ulimits.js"
import { resolveUser } from "./User.js"

/** A file the caller writes to `<generatedDir>/<name>` before creating the container. */
export interface GeneratedFile {
  readonly name: string
  readonly content: string
}

/**
 * The containerd runtime of a container: the shim (`Container.runtime.name`) and, for a runc-family shim, the
 * OCI runtime binary it should run instead of `runc` (runc's `BinaryName` option; see
 * src/containerd/runtimeOptions.ts).
 */
export interface ContainerRuntime {
  readonly name: string
  readonly binaryName?: string
}

export interface SpecResult {
  readonly spec: RuntimeSpec
  /** containerd runtime for the container: the task's `runtime`, else the driver's `containerd_runtime`. */
  readonly runtime: ContainerRuntime
  readonly files: ReadonlyArray<GeneratedFile>
}

export interface SpecState {
  readonly spec: RuntimeSpec
  readonly files: ReadonlyArray<GeneratedFile>
}

export interface SpecOption {
  readonly name: string
  readonly apply: (state: SpecState, input: SpecInput) => Either.Either<SpecState, SpecError>
}

// --- small immutable updaters ----------------------------------------------------------------------------------

const setSpec = (state: SpecState, spec: RuntimeSpec): SpecState => ({ ...state, spec })
const updateProcess = (state: SpecState, f: (p: Process) => Process): SpecState =>
  setSpec(state, { ...state.spec, process: f(state.spec.process) })
const updateLinux = (state: SpecState, f: (l: Linux) => Linux): SpecState =>
  setSpec(state, { ...state.spec, linux: f(state.spec.linux) })
const updateResources = (state: SpecState, f: (r: Resources) => Resources): SpecState =>
  updateLinux(state, (linux) => ({ ...linux, resources: f(linux.resources ?? {}) }))
const ok = Either.right
const omit = <T extends object, K extends keyof T>(value: T, ...keys: ReadonlyArray<K>): Omit<T, K> => {
  const copy = { ...value }
  for (const key of keys) delete copy[key]
  return copy
}

// --- the options ------------------------------------------------------------------------------------------------

const defaultUnixDevices: SpecOption = {
  name: "defaultUnixDevices",
  apply: (state) =>
    ok(updateResources(state, (r) => ({ ...r, devices: [...(r.devices ?? []), ...defaultUnixDeviceRules] })))
}

const isGroupNetwork = (input: SpecInput): boolean =>
  input.nomad.network_isolation_spec !== undefined && input.nomad.network_isolation_spec.mode !== "host"

const networkExclusivity: SpecOption = {
  name: "networkExclusivity",
  apply: (state, input) =>
    input.task.host_network && isGroupNetwork(input)
      ? Either.left(
        specError(
          "HostNetworkWithGroupNetwork",
          "host_network and bridge network mode are mutually exclusive, and only one of them should be set"
        )
      )
      : ok(state)
}

const imageConfig: SpecOption = {
  name: "imageConfig",
  apply: (state, { image, task }) =>
    Either.map(processArgs(task, image.config), (args) =>
      updateProcess(state, (p) => ({
        ...p,
        args,
        env: processEnv(image.config.env, {}),
        cwd: image.config.workingDir !== undefined && image.config.workingDir !== "" ? image.config.workingDir : "/"
      })))
}

const privileged: SpecOption = {
  name: "privileged",
  apply: (state, { driver, host, task }) => {
    if (!task.privileged) return ok(state)
    if (!driver.allow_privileged) {
      return Either.left(
        specError(
          "PrivilegedNotAllowed",
          "Running privileged jobs are not allowed. Set allow_privileged to true in plugin config to allow running privileged jobs."
        )
      )
    }
    const caps = inBitOrder(host.capabilities)
    const withProcess = updateProcess(state, (p) => ({
      ...omit(p, "apparmorProfile", "selinuxLabel"),
      capabilities: { ...p.capabilities, bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false
    }))
    const withLinux = updateLinux(withProcess, (linux) => ({
      ...omit(linux, "maskedPaths", "readonlyPaths", "seccomp"),
      devices: allHostDevices(host.hostDevices),
      resources: { ...linux.resources, devices: [{ allow: true, access: "rwm" }] }
    }))
    return ok(setSpec(withLinux, {
      ...withLinux.spec,
      mounts: withLinux.spec.mounts.map((m) =>
        m.type === "sysfs" || m.type === "cgroup"
          ? { ...m, options: (m.options ?? []).map((o) => (o === "ro" ? "rw" : o)) }
          : m
      )
    }))
  }
}

const pidsLimit: SpecOption = {
  name: "pidsLimit",
  apply: (state, { task }) =>
    ok(
      task.pids_limit !== undefined && task.pids_limit > 0
        ? updateResources(state, (r) => ({ ...r, pids: { limit: task.pids_limit! } }))
        : state
    )
}

const pidMode: SpecOption = {
  name: "pidMode",
  apply: (state, { task }) => {
    if (task.pid_mode === undefined || task.pid_mode === "") return ok(state)
    if (task.pid_mode.toLowerCase() !== "host") {
      return Either.left(specError("InvalidPidMode", "Invalid pid_mode. Set pid_mode=host to enable host pid namespace."))
    }
    return ok(updateLinux(state, (l) => ({ ...l, namespaces: l.namespaces.filter((n) => n.type !== "pid") })))
  }
}

const shmSize: SpecOption = {
  name: "shmSize",
  apply: (state, { task }) => {
    if (task.shm_size === undefined || task.shm_size === "") return ok(state)
    const bytes = ramInBytes(task.shm_size)
    if (Either.isLeft(bytes)) return Either.left(specError("InvalidShmSize", `Error in setting shm_size: ${bytes.left}`))
    if (bytes.right < 1024) {
      return Either.left(
        specError("InvalidShmSize", `Error in setting shm_size: ${JSON.stringify(task.shm_size)} is less than 1k`)
      )
    }
    const kib = Math.floor(bytes.right / 1024)
    const at = state.spec.mounts.findIndex((m) => m.destination === "/dev/shm" && m.type === "tmpfs")
    if (at < 0) return Either.left(specError("InvalidShmSize", "Error in setting shm_size: /dev/shm mount not found"))
    const mounts = state.spec.mounts.map((m, i) =>
      i === at ? { ...m, options: [...(m.options ?? []).filter((o) => !o.startsWith("size=")), `size=${kib}k`] } : m
    )
    return ok(setSpec(state, { ...state.spec, mounts }))
  }
}

const sysctl: SpecOption = {
  name: "sysctl",
  apply: (state, { task }) => {
    const keys = Object.keys(task.sysctl)
    if (keys.length === 0) return ok(state)
    for (const key of keys) {
      const checked = checkSysctl(key, task.host_network)
      if (Either.isLeft(checked)) return Either.left(checked.left)
    }
    return ok(updateLinux(state, (l) => ({ ...l, sysctl: { ...l.sysctl, ...task.sysctl } })))
  }
}

const readonlyRootfs: SpecOption = {
  name: "readonlyRootfs",
  apply: (state, { task }) =>
    ok(task.readonly_rootfs ? setSpec(state, { ...state.spec, root: { ...state.spec.root, readonly: true } }) : state)
}

const networkNamespace: SpecOption = {
  name: "networkNamespace",
  apply: (state, input) => {
    if (input.task.host_network) {
      return ok(updateLinux(state, (l) => ({ ...l, namespaces: l.namespaces.filter((n) => n.type !== "network") })))
    }
    const group = input.nomad.network_isolation_spec
    if (!isGroupNetwork(input) || group === undefined || group.path === "") return ok(state)
    return ok(updateLinux(state, (l) => ({
      ...l,
      namespaces: l.namespaces.some((n) => n.type === "network")
        ? l.namespaces.map((n) => (n.type === "network" ? { type: "network", path: group.path } : n))
        : [...l.namespaces, { type: "network", path: group.path }]
    })))
  }
}

const capabilities: SpecOption = {
  name: "capabilities",
  apply: (state, { driver, host, task }) => {
    const current = state.spec.process.capabilities?.bounding ?? []
    // allow_caps cuts the default set down (as the Docker driver does); a privileged task is allow_privileged's.
    const policy = driver.policy
    const restricted = policy !== undefined && !task.privileged && !allowsAllCapabilities(policy)
    const base = restricted ? current.filter((c) => policy.allow_caps.includes(c)) : current
    if (task.cap_add.length === 0 && task.cap_drop.length === 0 && base.length === current.length) return ok(state)
    return Either.map(
      resolveCapabilities({
        base,
        host: host.capabilities,
        add: task.cap_add,
        drop: task.cap_drop
      }),
      (caps) =>
        updateProcess(state, (p) => ({
          ...p,
          capabilities: { ...p.capabilities, bounding: caps, effective: caps, permitted: caps }
        }))
    )
  }
}

const cwd: SpecOption = {
  name: "cwd",
  apply: (state, { task }) =>
    Either.map(processCwd(task.cwd, state.spec.process.cwd), (dir) => updateProcess(state, (p) => ({ ...p, cwd: dir })))
}

const env: SpecOption = {
  name: "env",
  apply: (state, { nomad }) =>
    ok(updateProcess(state, (p) => ({ ...p, env: processEnv(p.env ?? [], nomad.env) })))
}

const memory: SpecOption = {
  name: "memory",
  apply: (state, { nomad }) => {
    const limits = memoryLimits(nomad.resources)
    return ok(limits === undefined ? state : updateResources(state, (r) => ({ ...r, memory: limits })))
  }
}

const cpu: SpecOption = {
  name: "cpu",
  apply: (state, { host, nomad, task }) =>
    Either.map(
      cpuResources({ task, resources: nomad.resources, cpuCount: host.cpuCount }),
      (c) => (c === undefined ? state : updateResources(state, (r) => ({ ...r, cpu: { ...r.cpu, ...c } })))
    )
}

const ulimits: SpecOption = {
  name: "ulimits",
  apply: (state, { task }) =>
    Either.flatMap(parseUlimits(task.ulimit), (rlimits) => {
      const types = rlimits.map((r) => r.type)
      const repeated = types.find((t, i) => types.indexOf(t) !== i)
      if (repeated !== undefined) {
        return Either.left(specError("InvalidUlimit", `ulimit ${repeated} is given more than once (names ignore case and the RLIMIT_ prefix)`))
      }
      return ok(
        rlimits.length === 0
          ? state
          : updateProcess(state, (p) => ({ ...p, rlimits: mergeRlimits(p.rlimits ?? [], rlimits) }))
      )
    })
}

/** Linux's HOST_NAME_MAX. */
const hostNameMax = 64

const hostname: SpecOption = {
  name: "hostname",
  apply: (state, { containerId, task }) => {
    if (task.hostname !== undefined && task.hostname !== "") {
      if (task.hostname.length > hostNameMax || /[\s/]/.test(task.hostname)) {
        return Either.left(
          specError(
            "InvalidHostname",
            `hostname ${JSON.stringify(task.hostname)} is not usable: at most ${hostNameMax} characters, no spaces or slashes`
          )
        )
      }
      return ok(setSpec(state, { ...state.spec, hostname: task.hostname }))
    }
    // A cgroup v2 container id (<alloc>.<task>.scope) can exceed HOST_NAME_MAX, which makes runc fail.
    return ok(setSpec(state, { ...state.spec, hostname: containerId.slice(0, hostNameMax) }))
  }
}

const devices: SpecOption = {
  name: "devices",
  apply: (state, { host, nomad, task }) =>
    Either.map(
      Either.all([taskDevices(task.devices, host.hostDevices), nomadDevices(nomad.devices, host.hostDevices)]),
      ([fromTask, fromNomad]) => {
        const grants = [...fromTask, ...fromNomad]
        if (grants.length === 0) return state
        const withRules = updateResources(state, (r) => ({ ...r, devices: [...(r.devices ?? []), ...grants.map((g) => g.rule)] }))
        return updateLinux(withRules, (l) => ({ ...l, devices: mergeDevices(l.devices ?? [], grants.map((g) => g.device)) }))
      }
    )
}

const readOnlyBind = (file: string): Mount => ({ destination: file, type: "bind", source: file, options: ["rbind", "ro"] })

/** /etc/hosts and /etc/resolv.conf: generated files or binds of the host's (README.md, "How a task runs", Networking). */
const etcFiles = (
  input: SpecInput,
  extraHosts: ReadonlyArray<ExtraHost>,
  specHostname: string | undefined
): Either.Either<{ mounts: ReadonlyArray<Mount>; files: ReadonlyArray<GeneratedFile> }, SpecError> => {
  const { host, nomad, task } = input
  const mounts: Array<Mount> = []
  const files: Array<GeneratedFile> = []
  // Read-only: the files live outside the task's writable directories, and a task must not change what it was given.
  const generated = (name: string, destination: string, content: string) => {
    files.push({ name, content })
    mounts.push({ destination, type: "bind", source: path.posix.join(input.generatedDir, name), options: ["rbind", "ro"] })
  }

  if (task.host_network && extraHosts.length === 0) {
    mounts.push(readOnlyBind("/etc/hosts"))
  } else if (task.host_network) {
    if (host.hostHosts === undefined) {
      return Either.left(specError("MissingHostFact", "host_network with extra_hosts needs the host's /etc/hosts contents (hostHosts)"))
    }
    generated("hosts", "/etc/hosts", renderHosts({ base: host.hostHosts, extraHosts }))
  } else {
    const self = nomad.network_isolation_spec?.hostsConfig
    const hostnames = self === undefined
      ? []
      : [self.hostname, ...(specHostname !== undefined && specHostname !== self.hostname ? [specHostname] : [])]
          .filter((h) => h !== "")
    generated(
      "hosts",
      "/etc/hosts",
      renderHosts({ base: undefined, self: self === undefined ? undefined : { address: self.address, hostnames }, extraHosts })
    )
  }

  const hostResolv = host.hostResolvConf === undefined ? undefined : parseResolvConf(host.hostResolvConf)
  if (nomad.dns !== undefined) {
    generated("resolv.conf", "/etc/resolv.conf", renderResolvConf(resolvConfFromDnsBlock(nomad.dns, hostResolv)))
  } else if (task.host_network) {
    // The original bound the host's file with host_network whatever host_dns said.
    mounts.push(readOnlyBind("/etc/resolv.conf"))
  } else if (task.host_dns) {
    const hasLoopback = hostResolv !== undefined && hostResolv.nameservers.some(isLoopbackAddress)
    if (host.hostResolvConf !== undefined && hasLoopback) {
      generated("resolv.conf", "/etc/resolv.conf", withoutLoopbackNameservers(host.hostResolvConf))
    } else {
      mounts.push(readOnlyBind("/etc/resolv.conf"))
    }
  }
  return ok({ mounts, files })
}

const mounts: SpecOption = {
  name: "mounts",
  apply: (state, input) =>
    Either.gen(function*() {
      const { host, nomad, task } = input
      const targets = taskDirectoryTargets(nomad.env)
      const reserved = [targets.alloc, targets.local, targets.secrets].map(cleanDestination)
      const extraHosts = yield* Either.all(task.extra_hosts.map(parseExtraHost))
      const etc = yield* etcFiles(input, extraHosts, state.spec.hostname)
      const fromTask = yield* taskMounts(task, nomad, reserved, host.realpaths)
      const fromNomad = yield* nomadVolumeMounts(nomad.mounts)
      const keep = state.spec.mounts.length
      const merged = [etc.mounts, fromTask, fromNomad, taskDirectoryMounts(nomad)].reduce(mergeMounts, state.spec.mounts)
      const ordered = parentsFirst(merged, keep)
      const propagation = rootfsPropagationFor(ordered)
      const next = { ...state.spec, mounts: ordered }
      // A task mount on /etc/hosts or /etc/resolv.conf replaces the generated file: don't ask for it to be written.
      const mountedSources = new Set(ordered.map((m) => m.source))
      const files = etc.files.filter((f) => mountedSources.has(path.posix.join(input.generatedDir, f.name)))
      return {
        spec: propagation === undefined ? next : { ...next, linux: { ...next.linux, rootfsPropagation: propagation } },
        files: [...state.files, ...files]
      }
    })
}

const user: SpecOption = {
  name: "user",
  apply: (state, { image, nomad }) => {
    const fromTask = nomad.user !== ""
    return Either.map(
      resolveUser(fromTask ? nomad.user : image.config.user, image, fromTask ? "task user" : "image USER"),
      (u) => updateProcess(state, (p) => ({ ...p, user: { ...omit(p.user, "additionalGids"), ...u } }))
    )
  }
}

const cgroupRoot = "/sys/fs/cgroup"

const cgroupsPath: SpecOption = {
  name: "cgroupsPath",
  apply: (state, { host, nomad }) => {
    const nomadCgroup = nomad.resources.linux.cpuset_cgroup
    if (host.cgroupVersion !== 2 || nomadCgroup === "") return ok(state)
    const relative = nomadCgroup.startsWith(`${cgroupRoot}/`) ? nomadCgroup.slice(cgroupRoot.length) : nomadCgroup
    return ok(updateLinux(state, (l) => ({ ...l, cgroupsPath: relative.startsWith("/") ? relative : `/${relative}` })))
  }
}

const seccomp: SpecOption = {
  name: "seccomp",
  apply: (state, { driver, host, task }) => {
    const profilePath = task.seccomp_profile !== undefined && task.seccomp_profile !== "" ? task.seccomp_profile : undefined
    const enabled = seccompEnabled(task.seccomp, driver.policy)
    if (profilePath !== undefined && !enabled) {
      return Either.left(
        specError("SeccompProfileWithoutSeccomp", "seccomp must be set to true, if using a custom seccomp_profile.")
      )
    }
    if (!enabled) return ok(state)
    const bounding = state.spec.process.capabilities?.bounding ?? []
    if (profilePath === undefined) {
      const profile = defaultSeccompProfile(bounding, host.arch, host.kernelRelease)
      return ok(updateLinux(state, (l) => ({ ...l, seccomp: profile })))
    }
    if (host.seccompProfile === undefined) {
      return Either.left(specError("MissingHostFact", `the contents of seccomp_profile ${profilePath} were not supplied`))
    }
    return Either.map(
      customSeccompProfile(host.seccompProfile, {
        path: profilePath,
        bounding,
        arch: host.arch,
        kernelRelease: host.kernelRelease
      }),
      (profile) => updateLinux(state, (l) => ({ ...l, seccomp: profile }))
    )
  }
}

/** The options in application order; see the top of this file for why the order is what it is. */
export const specOptions: ReadonlyArray<SpecOption> = [
  defaultUnixDevices,
  networkExclusivity,
  imageConfig,
  privileged,
  pidsLimit,
  pidMode,
  shmSize,
  sysctl,
  readonlyRootfs,
  networkNamespace,
  capabilities,
  cwd,
  env,
  memory,
  cpu,
  ulimits,
  hostname,
  devices,
  mounts,
  user,
  cgroupsPath,
  seccomp
]

/** The shim that runs a runtime named by its binary alone, as Docker's `--runtime` does. */
export const runcShim = "io.containerd.runc.v2"

/**
 * The containerd runtime: the task's `runtime`, else the driver's `containerd_runtime`. A name means
 *   - with a dot, a shim name used as given (`io.containerd.runsc.v1` → containerd-shim-runsc-v1);
 *   - without one, an OCI runtime binary on the node's PATH (`runsc`, `crun`), run by the runc v2 shim as its
 *     `BinaryName` — what Docker's `--runtime` and the original driver's `runtime` branch do;
 *   - with a slash, an absolute path of a shim binary (containerd ≥ 1.6 accepts one as the runtime name). Only
 *     the node's `containerd_runtime` may name a path: from a task it would let a job author have containerd run
 *     any file on the host (e.g. one the job's artifact block downloaded) as root, outside any container.
 */
export const containerdRuntime = (
  input: Pick<SpecInput, "driver" | "task">
): Either.Either<ContainerRuntime, SpecError> =>
  input.task.runtime !== undefined && input.task.runtime !== ""
    ? parseRuntime(input.task.runtime, "runtime")
    : parseRuntime(input.driver.containerd_runtime, "containerd_runtime")

/** A runtime as the option `option` names it (see containerdRuntime for what a name means). */
export const parseRuntime = (
  runtime: string,
  option: "runtime" | "containerd_runtime"
): Either.Either<ContainerRuntime, SpecError> => {
  const invalid = (why: string) => Either.left(specError("InvalidRuntime", `${option} ${JSON.stringify(runtime)} ${why}`))
  if (!/^[A-Za-z0-9/][A-Za-z0-9._\-/]*$/.test(runtime)) {
    return invalid("is not a containerd runtime name such as io.containerd.runc.v2")
  }
  if (runtime.includes("/")) {
    if (!runtime.startsWith("/")) return invalid("is neither a runtime name nor an absolute path of a shim binary")
    if (option === "runtime") {
      return invalid(
        "is a path; a task may name a containerd runtime (io.containerd.runsc.v1) or a runtime binary on the " +
          "node's PATH (runsc), while a shim binary's path can only be set in the plugin's containerd_runtime"
      )
    }
    return ok({ name: runtime })
  }
  return ok(runtime.includes(".") ? { name: runtime } : { name: runcShim, binaryName: runtime })
}

/** Folds `options` over containerd's default spec; stops at the first SpecError. */
export const buildSpecWith = (
  options: ReadonlyArray<SpecOption>,
  input: SpecInput
): Either.Either<SpecResult, SpecError> =>
  Either.gen(function*() {
    const runtime = yield* containerdRuntime(input)
    let state: SpecState = { spec: defaultSpec(input.driver.namespace, input.containerId), files: [] }
    for (const option of options) state = yield* option.apply(state, input)
    return { spec: state.spec, runtime, files: state.files }
  })

/** The task's runtime spec, the runtime to create it with, and the files to write under `generatedDir`. */
export const buildSpec = (input: SpecInput): Either.Either<SpecResult, SpecError> => buildSpecWith(specOptions, input)
