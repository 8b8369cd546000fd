/**
 * Property tests for src/oci/Spec.ts: random valid task configs always give a well-formed runtime spec with the
 * invariants below (capabilities, mounts, env, seccomp); random invalid ones always fail with a typed SpecError.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import type { RuntimeSpec } from "../../src/oci/RuntimeSpec.js"
import { buildSpec, type SpecResult } from "../../src/oci/Spec.js"
import type { SpecErrorReason } from "../../src/oci/SpecError.js"
import type { NomadTask, SpecInput, TaskConfig } from "../../src/oci/SpecInput.js"
import { decodeJson, encodeJson } from "../../src/oci/SpecJson.js"
import { ulimitNames } from "../../src/oci/Ulimits.js"
import { baseImage, baseNomad, baseTask, hostDevices, specInput } from "../support/ociInput.js"
import { propertyRuns } from "../support/propertyRuns.js"

// --- expected values, from outside the driver ------------------------------------------------------------------------

const fixture = <A>(name: string): A => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8")) as A
/** Every capability, in kernel bit order (include/uapi/linux/capability.h). */
const knownCapabilities = fixture<{ capabilities: ReadonlyArray<string> }>("linux-capabilities.json").capabilities
/** containerd's default set, as `ctr containers create` wrote it. */
const defaultCapabilities = fixture<RuntimeSpec>("ctr-specs/default.json").process.capabilities!.bounding!

/**
 * The mount-destination oracle: Go's filepath.Clean for absolute paths (the form runc and containerd compare), done
 * by hand: empty and "." elements go, ".." takes the previous element away (and stays at the root), no trailing "/".
 */
const cleanPath = (path: string): string => {
  const parts: Array<string> = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") parts.pop()
    else parts.push(part)
  }
  return `/${parts.join("/")}`
}
const isUnder = (path: string, parent: string): boolean => parent === "/" ? path !== "/" : path.startsWith(`${parent}/`)

// --- arbitraries ---------------------------------------------------------------------------------------------------

/** A capability name as a user might write it: any case, with or without CAP_. */
const capabilitySpelling = (name: string) =>
  fc.constantFrom(name, name.toLowerCase(), name.slice(4), name.slice(4).toLowerCase(), ` ${name} `)

const capabilityNames = (pool: ReadonlyArray<string>) =>
  fc.subarray([...pool], { maxLength: 6 }).chain((names) =>
    names.length === 0 ? fc.constant([] as Array<string>) : fc.tuple(...names.map(capabilitySpelling))
  )

const processShape = fc.oneof(
  fc.constant({}),
  fc.record({ args: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }) }),
  fc.record({ command: fc.constantFrom("/bin/sh", "sleep", "redis-server"), args: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }) }),
  fc.record({
    entrypoint: fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    args: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })
  }),
  fc.record({ entrypoint: fc.constant([""]), args: fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 3 }) })
)

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."))
const extraHost = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.-]{0,12}$/), fc.oneof(ipv4, fc.ipV6())).map(([n, ip]) => `${n}:${ip}`)

const shmSize = fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.constantFrom("k", "K", "m", "M", "g", "MiB", "mb", "kb"))
  .map(([n, unit]) => `${n}${unit}`)

const ulimitValue = fc.oneof(
  fc.nat(1_000_000).map(String),
  fc.tuple(fc.nat(1000), fc.nat(1000)).map(([a, b]) => `${Math.min(a, b)}:${Math.max(a, b)}`),
  fc.constantFrom("unlimited", "-1", "0:unlimited")
)
const ulimits = fc.dictionary(fc.constantFrom(...ulimitNames), ulimitValue, { maxKeys: 4 })

const cpuset = fc.oneof(
  fc.nat(63).map(String),
  fc.tuple(fc.nat(31), fc.nat(31)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
  fc.uniqueArray(fc.nat(15), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(","))
)

/** Targets that collide with each other and with containerd's defaults on purpose. */
const mountTarget = fc.constantFrom(
  "/data", "/data/", "/data/sub", "/dev/shm", "/run", "/etc/hosts", "/etc/resolv.conf", "/cache", "/srv//x", "/data/./sub",
  "/cache/tmp/..", "/srv/../srv//x/", "/dev/shm/sub", "/./opt"
)
const bindSource = fc.oneof(
  fc.constantFrom("/srv/data", "/opt/things", "/var/lib/x"),
  fc.constantFrom("local/config", "secrets/token", "alloc/shared", "local", "./local/a/../b")
)
const taskMount = fc.oneof(
  fc.record({
    type: fc.constantFrom("bind", "volume"),
    target: mountTarget,
    source: bindSource,
    options: fc.constantFrom(["rbind", "ro"], ["rbind", "rw"], ["ro"], ["bind", "rshared"], ["rbind", "rslave"])
  }),
  fc.record({ type: fc.constant("tmpfs"), target: mountTarget, options: fc.constantFrom([], ["size=16m"], ["mode=1777"]) })
)

const nomadMount = fc.record({
  task_path: fc.constantFrom("/vol", "/data", "/local/data", "/etc/hosts"),
  host_path: fc.constantFrom("/srv/vol1", "/srv/vol2"),
  readonly: fc.boolean(),
  propagation_mode: fc.constantFrom("", "private", "host-to-task", "bidirectional")
})

const charOrBlockDevices = Object.entries(hostDevices).filter(([p, d]) => d.type !== "p" && p !== "/dev/console").map(([p]) => p)

const envKey = fc.oneof(fc.constantFrom("PATH", "LANG", "NOMAD_TASK_NAME", "A"), fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/))

interface Generated {
  readonly task: TaskConfig
  readonly nomad: NomadTask
  readonly hostCaps: ReadonlyArray<string>
  readonly imageEnv: ReadonlyArray<string>
  readonly imageUser: string | undefined
}

const validConfig: fc.Arbitrary<Generated> = fc.record({
  shape: processShape,
  privileged: fc.boolean(),
  pids_limit: fc.option(fc.integer({ min: -5, max: 10000 }), { nil: undefined }),
  pid_mode: fc.option(fc.constantFrom("host", "HOST", ""), { nil: undefined }),
  hostname: fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { nil: undefined }),
  host_dns: fc.boolean(),
  seccomp: fc.boolean(),
  shm_size: fc.option(shmSize, { nil: undefined }),
  sysctl: fc.dictionary(fc.constantFrom("kernel.shmmax", "kernel.msgmax", "fs.mqueue.msg_max"), fc.nat(100000).map(String), { maxKeys: 2 }),
  readonly_rootfs: fc.boolean(),
  runtime: fc.option(fc.constantFrom("io.containerd.runc.v2", "io.containerd.runsc.v1"), { nil: undefined }),
  host_network: fc.boolean(),
  extra_hosts: fc.array(extraHost, { maxLength: 3 }),
  capAddAll: fc.boolean(),
  capDropAll: fc.boolean(),
  cap_add: capabilityNames(knownCapabilities),
  cap_drop: capabilityNames(knownCapabilities),
  cpuset_cpus: fc.option(cpuset, { nil: undefined }),
  cpuset_mems: fc.option(cpuset, { nil: undefined }),
  devices: fc.subarray(charOrBlockDevices, { maxLength: 3 }),
  mounts: fc.array(taskMount, { maxLength: 5 }),
  ulimit: ulimits,
  cpu_hard_limit: fc.boolean(),
  cpu_cfs_period: fc.option(fc.integer({ min: 1000, max: 1_000_000 }), { nil: undefined }),
  env: fc.dictionary(envKey, fc.string({ maxLength: 10 }), { maxKeys: 6 }),
  taskDirs: fc.constantFrom({}, { NOMAD_ALLOC_DIR: "/alloc", NOMAD_TASK_DIR: "/local", NOMAD_SECRETS_DIR: "/secrets" }, {
    NOMAD_ALLOC_DIR: "/shared",
    NOMAD_TASK_DIR: "/task/local"
  }),
  user: fc.constantFrom("", "app", "1000", "nobody", "0:0", "app:video", "4242"),
  nomadMounts: fc.array(nomadMount, { maxLength: 3 }),
  nomadDevices: fc.subarray(charOrBlockDevices, { maxLength: 2 }),
  network: fc.option(
    fc.record({
      mode: fc.constant("group" as const),
      path: fc.constant("/var/run/netns/alloc"),
      hostsConfig: fc.option(fc.record({ hostname: fc.constant("alloc-host"), address: ipv4 }), { nil: undefined })
    }),
    { nil: undefined }
  ),
  dns: fc.option(
    fc.record({
      servers: fc.array(ipv4, { maxLength: 2 }),
      searches: fc.array(fc.constantFrom("a.example", "b.example"), { maxLength: 2 }),
      options: fc.array(fc.constantFrom("ndots:2", "edns0"), { maxLength: 2 })
    }),
    { nil: undefined }
  ),
  memory: fc.nat(4096),
  memoryMax: fc.nat(8192),
  shares: fc.nat(4000),
  percentTicks: fc.double({ min: 0.001, max: 1, noNaN: true }),
  reservedCores: fc.constantFrom("", "0", "0,1"),
  missingHostCaps: fc.subarray([...knownCapabilities], { maxLength: 5 }),
  imageEnv: fc.constantFrom([], ["PATH=/bin"], ["PATH=/bin", "LANG=C", "LANG=C.UTF-8"], ["A=1"]),
  imageUser: fc.constantFrom(undefined, "app", "1000:1000")
}).map((g): Generated => {
  const capAdd = [...g.cap_add, ...(g.capAddAll ? ["ALL"] : [])]
  const capDrop = [...g.cap_drop, ...(g.capDropAll ? ["all"] : [])]
  const addedNames = g.cap_add.map((c) => {
    const upper = c.trim().toUpperCase()
    return upper.startsWith("CAP_") ? upper : `CAP_${upper}`
  })
  // The driver process must hold whatever cap_add names (a missing one is its own error case below).
  const hostCaps = knownCapabilities.filter((c) => !g.missingHostCaps.includes(c) || addedNames.includes(c))
  const task = baseTask({
    ...g.shape,
    privileged: g.privileged,
    ...(g.pids_limit !== undefined ? { pids_limit: g.pids_limit } : {}),
    ...(g.pid_mode !== undefined ? { pid_mode: g.pid_mode } : {}),
    ...(g.hostname !== undefined ? { hostname: g.hostname } : {}),
    host_dns: g.host_dns,
    seccomp: g.seccomp,
    ...(g.shm_size !== undefined ? { shm_size: g.shm_size } : {}),
    sysctl: g.sysctl,
    readonly_rootfs: g.readonly_rootfs,
    ...(g.runtime !== undefined ? { runtime: g.runtime } : {}),
    host_network: g.host_network,
    extra_hosts: g.extra_hosts,
    cap_add: capAdd,
    cap_drop: capDrop,
    ...(g.cpuset_cpus !== undefined ? { cpuset_cpus: g.cpuset_cpus } : {}),
    ...(g.cpuset_mems !== undefined ? { cpuset_mems: g.cpuset_mems } : {}),
    devices: g.devices,
    mounts: g.mounts,
    ulimit: g.ulimit,
    cpu_hard_limit: g.cpu_hard_limit,
    ...(g.cpu_cfs_period !== undefined ? { cpu_cfs_period: g.cpu_cfs_period } : {})
  })
  const base = baseNomad()
  const nomad = baseNomad({
    env: { ...g.env, ...g.taskDirs },
    user: g.user,
    mounts: g.nomadMounts,
    devices: g.nomadDevices.map((p) => ({ host_path: p, task_path: "", cgroup_permissions: "" })),
    ...(g.network !== undefined && !g.host_network
      ? {
        network_isolation_spec: {
          mode: g.network.mode,
          path: g.network.path,
          ...(g.network.hostsConfig !== undefined ? { hostsConfig: g.network.hostsConfig } : {})
        }
      }
      : {}),
    ...(g.dns !== undefined ? { dns: g.dns } : {}),
    resources: {
      cpu_shares: g.shares,
      memory_mb: g.memory,
      memory_max_mb: g.memoryMax,
      linux: { ...base.resources.linux, cpu_shares: g.shares, PercentTicks: g.percentTicks, cpuset_cpus: g.reservedCores }
    }
  })
  return { task, nomad, hostCaps, imageEnv: g.imageEnv, imageUser: g.imageUser }
})

const inputOf = (g: Generated): SpecInput => {
  const input = specInput({ host: { capabilities: g.hostCaps } })
  const image = baseImage({ env: g.imageEnv, ...(g.imageUser !== undefined ? { user: g.imageUser } : {}) })
  return { ...input, task: g.task, nomad: g.nomad, image, host: { ...input.host, seccompProfile: undefined } }
}

const built = (g: Generated): SpecResult => {
  const result = buildSpec(inputOf(g))
  if (Either.isLeft(result)) throw new Error(`valid config refused: ${result.left.reason}: ${result.left.message}`)
  return result.right
}

const normalise = (c: string) => {
  const upper = c.trim().toUpperCase()
  return upper === "ALL" || upper.startsWith("CAP_") ? upper : `CAP_${upper}`
}

const fcOptions = { fastCheck: { numRuns: propertyRuns(300) } }

// --- valid configs -------------------------------------------------------------------------------------------------

describe("valid configs", () => {
  it.prop("always build", [validConfig], ([g]) => {
    expect(Either.isRight(buildSpec(inputOf(g)))).toBe(true)
  }, fcOptions)

  it.prop("serialise to JSON that parses back equal", [validConfig], ([g]) => {
    const { spec } = built(g)
    const text = encodeJson(spec)
    expect(decodeJson(text)).toEqual(Either.right(spec))
    // and it is ordinary JSON too (bigints are exact integers, not strings)
    expect(() => JSON.parse(text)).not.toThrow()
  }, fcOptions)

  it.prop("have the required runtime-spec fields", [validConfig], ([g]) => {
    const { spec } = built(g)
    expect(spec.ociVersion).toBe("1.0.2-dev")
    expect(spec.root.path).toBe("rootfs")
    expect(spec.process.args?.length).toBeGreaterThan(0)
    expect(spec.process.cwd.startsWith("/")).toBe(true)
    const types = spec.linux.namespaces.map((n) => n.type)
    expect(new Set(types).size).toBe(types.length)
    expect(types).toContain("mount")
  }, fcOptions)

  it.prop("cap_drop always wins over cap_add, and the three sets agree", [validConfig], ([g]) => {
    const caps = built(g).spec.process.capabilities!
    expect(caps.effective).toEqual(caps.bounding)
    expect(caps.permitted).toEqual(caps.bounding)
    const dropped = g.task.cap_drop.map(normalise)
    if (dropped.includes("ALL")) {
      const namedAdds = g.task.cap_add.map(normalise).filter((c) => c !== "ALL" && !dropped.includes(c))
      expect([...caps.bounding!].sort()).toEqual([...new Set(namedAdds)].sort())
    }
    for (const c of dropped) expect(caps.bounding).not.toContain(c)
  }, fcOptions)

  it.prop("privileged grants every host capability that is not dropped", [validConfig], ([g]) => {
    const caps = built(g).spec.process.capabilities!.bounding!
    const dropped = g.task.cap_drop.map(normalise)
    if (g.task.privileged && !dropped.includes("ALL")) {
      for (const c of g.hostCaps) if (!dropped.includes(c)) expect(caps).toContain(c)
    }
    // and nothing beyond the host's (or, unprivileged, containerd's default) set
    const allowed = new Set([...g.hostCaps, ...(g.task.privileged ? [] : defaultCapabilities)])
    for (const c of caps) expect(allowed.has(c)).toBe(true)
  }, fcOptions)

  it.prop("give every mount a clean absolute destination, never twice the same", [validConfig], ([g]) => {
    const destinations = built(g).spec.mounts.map((m) => m.destination)
    for (const d of destinations) expect(cleanPath(d)).toBe(d)
    expect(new Set(destinations).size).toBe(destinations.length)
  }, fcOptions)

  it.prop("mount something at every target asked for: containerd's, Nomad's and the task's", [validConfig], ([g]) => {
    const destinations = new Set(built(g).spec.mounts.map((m) => m.destination))
    const asked = [
      "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/run",
      ...g.task.mounts.map((m) => m.target),
      ...g.nomad.mounts.map((m) => (m.task_path.startsWith("/") ? m.task_path : `/${m.task_path}`))
    ]
    for (const target of asked) expect(destinations).toContain(cleanPath(target))
  }, fcOptions)

  it.prop("mount a directory before anything inside it", [validConfig], ([g]) => {
    const destinations = built(g).spec.mounts.map((m) => m.destination)
    destinations.forEach((d, i) => {
      for (const later of destinations.slice(i + 1)) expect(isUnder(d, later)).toBe(false)
    })
  }, fcOptions)

  it.prop("always mount the task directories, where NOMAD_*_DIR says or at /alloc, /local, /secrets", [validConfig], ([g]) => {
    const { spec } = built(g)
    const { alloc_dir, name, env } = g.nomad
    const sourceAt = (target: string) => spec.mounts.find((m) => m.destination === cleanPath(target))?.source
    expect([
      sourceAt(env["NOMAD_ALLOC_DIR"] || "/alloc"),
      sourceAt(env["NOMAD_TASK_DIR"] || "/local"),
      sourceAt(env["NOMAD_SECRETS_DIR"] || "/secrets")
    ]).toEqual([`${alloc_dir}/alloc`, `${alloc_dir}/${name}/local`, `${alloc_dir}/${name}/secrets`])
  }, fcOptions)

  it.prop("have unique env keys, the image's PATH and Nomad's other variables", [validConfig], ([g]) => {
    const env = built(g).spec.process.env ?? []
    const keys = env.map((e) => e.split("=")[0])
    expect(new Set(keys).size).toBe(keys.length)
    for (const [k, v] of Object.entries(g.nomad.env)) if (k !== "PATH") expect(env).toContain(`${k}=${v}`)
    expect(env.filter((e) => e.startsWith("PATH="))).toEqual(
      g.imageEnv.length === 0 ? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] : g.imageEnv.filter((e) => e.startsWith("PATH="))
    )
  }, fcOptions)

  it.prop("mount exactly the generated files they return", [validConfig], ([g]) => {
    const input = inputOf(g)
    const { files, spec } = built(g)
    const generatedSources = spec.mounts.filter((m) => m.source?.startsWith(`${input.generatedDir}/`)).map((m) => m.source)
    expect([...generatedSources].sort()).toEqual(files.map((f) => `${input.generatedDir}/${f.name}`).sort())
  }, fcOptions)

  it.prop("are confined by seccomp exactly when seccomp = true", [validConfig], ([g]) => {
    expect(built(g).spec.linux.seccomp !== undefined).toBe(g.task.seccomp)
  }, fcOptions)
})

// --- invalid configs -----------------------------------------------------------------------------------------------

interface Fault {
  readonly reason: SpecErrorReason
  readonly apply: (input: SpecInput) => SpecInput
}

const withTask = (input: SpecInput, task: Partial<TaskConfig>): SpecInput => ({ ...input, task: { ...input.task, ...task } })

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.string({ maxLength: 10 })
    .filter((m) => m !== "" && m.toLowerCase() !== "host")
    .map((pid_mode): Fault => ({ reason: "InvalidPidMode", apply: (i) => withTask(i, { pid_mode }) })),
  fc.tuple(fc.stringMatching(/^[A-Za-z_]{1,12}$/), fc.boolean())
    .filter(([name]) => !knownCapabilities.includes(normalise(name)) && normalise(name) !== "ALL")
    .map(([name, drop]): Fault => ({
      reason: "UnknownCapability",
      apply: (i) => withTask(i, drop ? { cap_drop: [...i.task.cap_drop, name] } : { cap_add: [...i.task.cap_add, name] })
    })),
  fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 2 }))
    .map(([command, entrypoint]): Fault => ({ reason: "CommandAndEntrypoint", apply: (i) => withTask(i, { command, entrypoint }) })),
  fc.string({ minLength: 1, maxLength: 8 })
    .filter((s) => !/^(\d+(\.\d+)?|\.\d+) ?([kmgtp](i?b)?|b)?$/i.test(s))
    .map((shm_size): Fault => ({ reason: "InvalidShmSize", apply: (i) => withTask(i, { shm_size }) })),
  fc.tuple(fc.constantFrom(...ulimitNames), fc.string({ maxLength: 6 }).filter((v) => !/^\s*(\d+|-1|unlimited)\s*(:\s*(\d+|-1|unlimited)\s*)?$/i.test(v)))
    .map(([name, value]): Fault => ({ reason: "InvalidUlimit", apply: (i) => withTask(i, { ulimit: { [name]: value } }) })),
  fc.tuple(fc.constantFrom("local", "secrets", "alloc"), fc.integer({ min: 1, max: 4 }), fc.stringMatching(/^[a-z]{1,6}$/))
    .map(([dir, ups, rest]): Fault => ({
      reason: "MountSourceEscapes",
      apply: (i) => withTask(i, { mounts: [{ type: "bind", target: "/x", source: `${dir}/${"../".repeat(ups)}${rest}`, options: ["rbind"] }] })
    })),
  fc.constantFrom("bind", "volume").map((type): Fault => ({
    reason: "InvalidMount",
    apply: (i) => withTask(i, { mounts: [{ type, target: "/x", source: "/srv", options: [] }] })
  })),
  fc.constant<Fault>({ reason: "SeccompProfileWithoutSeccomp", apply: (i) => withTask(i, { seccomp: false, seccomp_profile: "/p.json" }) }),
  fc.constant<Fault>({
    reason: "HostNetworkWithGroupNetwork",
    apply: (i) => ({ ...withTask(i, { host_network: true }), nomad: { ...i.nomad, network_isolation_spec: { mode: "group", path: "/n" } } })
  }),
  fc.constant<Fault>({
    reason: "PrivilegedNotAllowed",
    apply: (i) => ({ ...withTask(i, { privileged: true }), driver: { ...i.driver, allow_privileged: false } })
  }),
  fc.stringMatching(/^[a-z]{1,8}:[0-9.]{1,7}$/)
    .filter((e) => !/^[a-z]+:\d+\.\d+\.\d+\.\d+$/.test(e))
    .map((entry): Fault => ({ reason: "InvalidExtraHost", apply: (i) => withTask(i, { extra_hosts: [entry] }) }))
)

describe("invalid configs", () => {
  it.prop("always fail with the typed SpecError for the fault", [validConfig, fault], ([g, f]) => {
    const result = buildSpec(f.apply(inputOf(g)))
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("SpecError")
      expect(result.left.reason).toBe(f.reason)
      expect(result.left.message.length).toBeGreaterThan(10)
    }
  }, fcOptions)
})

// Guard against the generator drifting into configs that make the properties vacuous.
describe("the generator", () => {
  it("produces privileged, seccomp, host-network and cap_drop ALL cases", () => {
    const samples = fc.sample(validConfig, { numRuns: 400, seed: 42 })
    const has = (p: (g: Generated) => boolean) => samples.some(p)
    expect(has((g) => g.task.privileged)).toBe(true)
    expect(has((g) => g.task.seccomp === true)).toBe(true)
    expect(has((g) => g.task.host_network)).toBe(true)
    expect(has((g) => g.task.cap_drop.some((c) => c.toUpperCase() === "ALL"))).toBe(true)
    expect(has((g) => g.task.mounts.length >= 2)).toBe(true)
    expect(has((g) => g.task.mounts.some((m) => m.target.includes("..")) && g.task.mounts.some((m) => m.target.includes("/./")))).toBe(true)
    expect(has((g) => g.task.mounts.some((m) => m.target === "/data") && g.task.mounts.some((m) => m.target === "/data/sub"))).toBe(true)
    const spec: RuntimeSpec = built(samples.find((g) => g.task.privileged)!).spec
    expect(spec.process.noNewPrivileges).toBe(false)
  })
})
