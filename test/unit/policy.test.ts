/**
 * The operator's policy (src/policy): the effective policy of a task (node settings with the `namespace_policy`
 * blocks of its Nomad namespace) and the admission of a task under it. The central property: whatever a task asks
 * for and whatever the policy says, a task that is admitted gets a runtime spec within the policy — no setting the
 * policy refuses is ever granted by some combination of options.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { buildSpec } from "../../src/oci/Spec.js"
import type { TaskConfig } from "../../src/oci/SpecInput.js"
import { admit } from "../../src/policy/Admission.js"
import {
  effectivePolicy,
  matchingBlocks,
  nodePolicy,
  openRoutes,
  type Policy,
  type PolicyConfig,
  policyWarnings,
  settings
} from "../../src/policy/Policy.js"
import type { PolicyErrorReason } from "../../src/policy/PolicyError.js"
import type { NamespacePolicyConfig } from "../../src/policy/PolicyOptions.js"
import { policyTable } from "../../src/policy/PolicyTable.js"
import { globOracle } from "../support/globOracle.js"
import { allocDir, baseTask, generatedDir, hostDevices, specInput } from "../support/ociInput.js"
import { propertyRuns } from "../support/propertyRuns.js"

/** Every Linux capability, in kernel bit order (include/uapi/linux/capability.h), not the driver's own table. */
const knownCapabilities = (JSON.parse(
  readFileSync(new URL("../fixtures/linux-capabilities.json", import.meta.url), "utf8")
) as { capabilities: ReadonlyArray<string> }).capabilities

const fcOptions = { fastCheck: { numRuns: propertyRuns(300) } }
const nodeRuntime = "io.containerd.runc.v2"

// --- arbitraries ---------------------------------------------------------------------------------------------------

const capabilitySpelling = (name: string) => fc.constantFrom(name, name.toLowerCase(), name.slice(4).toLowerCase())
const someCapabilities = fc.subarray([...knownCapabilities], { maxLength: 8 })

const devicePaths = Object.entries(hostDevices).filter(([p, d]) => d.type !== "p" && p !== "/dev/console").map(([p]) => p)
const runtimes = ["runsc", "crun", "io.containerd.runsc.v1", "io.containerd.kata.v2", nodeRuntime]

/** The policy settings as the operator writes them: any of them closed or open. */
const policyConfigFields = {
  allow_privileged: fc.boolean(),
  allow_caps: fc.oneof(
    fc.constant(["all"]),
    someCapabilities.chain((names) => (names.length === 0 ? fc.constant([]) : fc.tuple(...names.map(capabilitySpelling))))
  ),
  allow_runtimes: fc.subarray(["*", "runsc", "io.containerd.*", "cr?n", "kata"], { maxLength: 3 }),
  volumes: fc.option(fc.record({ enabled: fc.boolean() }), { nil: undefined }),
  allowed_devices: fc.subarray(["*", "/dev/fuse", "/dev/nvidia*", "/dev/net/*", "/dev/sd?"], { maxLength: 3 }),
  allow_host_pid: fc.boolean(),
  allow_host_network: fc.boolean(),
  default_seccomp: fc.boolean(),
  allow_seccomp_unconfined: fc.boolean()
}

const namespaceBlock: fc.Arbitrary<NamespacePolicyConfig> = fc.record({
  allow_privileged: policyConfigFields.allow_privileged,
  allow_caps: policyConfigFields.allow_caps,
  allow_runtimes: policyConfigFields.allow_runtimes,
  volumes: fc.record({ enabled: fc.boolean() }, { requiredKeys: [] }),
  allowed_devices: policyConfigFields.allowed_devices,
  allow_host_pid: policyConfigFields.allow_host_pid,
  allow_host_network: policyConfigFields.allow_host_network,
  default_seccomp: policyConfigFields.default_seccomp,
  allow_seccomp_unconfined: policyConfigFields.allow_seccomp_unconfined
}, { requiredKeys: [] })

const namespaces = ["default", "infra", "team-a", "team-b", "batch"]
const blockLabels = fc.constantFrom("default", "infra", "team-a", "team-*", "*", "t*-?", "batch", "other")

const policyConfig: fc.Arbitrary<PolicyConfig> = fc.record({
  ...policyConfigFields,
  namespace_policy: fc.dictionary(blockLabels, namespaceBlock, { maxKeys: 4 })
}).map((c) => {
  const { volumes, ...rest } = c
  return volumes === undefined ? rest : { ...rest, volumes }
})

const bindMount = fc.record({
  type: fc.constantFrom("bind", "volume", "tmpfs"),
  target: fc.constantFrom("/data", "/host", "/cache"),
  source: fc.constantFrom("/", "/etc", "/var/run/docker.sock", "local/conf", "alloc/shared", "secrets/x"),
  options: fc.constantFrom(["rbind", "rw"], ["rbind", "ro"], ["bind"], ["size=1m"])
}).filter((m) => m.type !== "tmpfs" || !m.source.startsWith("/") || m.options.includes("bind") || m.options.includes("rbind"))

interface AskedFor {
  readonly privileged: boolean
  readonly cap_add: ReadonlyArray<string>
  readonly runtime: string | undefined
  readonly mounts: TaskConfig["mounts"]
  readonly devices: ReadonlyArray<string>
  readonly pid_mode: string | undefined
  readonly host_network: boolean
  readonly seccomp: boolean | undefined
}

/** What a task may ask for, the routes to the host included. */
const askedFor: fc.Arbitrary<AskedFor> = fc.record({
  privileged: fc.boolean(),
  cap_add: fc.oneof(
    fc.constant(["ALL"]),
    someCapabilities.chain((names) => (names.length === 0 ? fc.constant([]) : fc.tuple(...names.map(capabilitySpelling))))
  ),
  runtime: fc.option(fc.constantFrom(...runtimes), { nil: undefined }),
  mounts: fc.array(bindMount, { maxLength: 3 }),
  devices: fc.subarray(devicePaths, { maxLength: 3 }),
  pid_mode: fc.option(fc.constantFrom("host", "HOST"), { nil: undefined }),
  host_network: fc.boolean(),
  seccomp: fc.option(fc.boolean(), { nil: undefined })
})

/**
 * What a task may ask for, mostly within `policy` (each option's value within it three times in four) so that many
 * samples are admitted, and the rest anything at all.
 */
const askedNear = (policy: Policy): fc.Arbitrary<AskedFor> => {
  const mostly = <A>(within: fc.Arbitrary<A>, anything: fc.Arbitrary<A>) =>
    fc.oneof({ arbitrary: within, weight: 3 }, { arbitrary: anything, weight: 1 })
  const allowedCaps = policy.allow_caps.includes("ALL") ? [...knownCapabilities] : [...policy.allow_caps]
  const allowedRuntimes = runtimes.filter((r) => policy.allow_runtimes.some((pattern) => globOracle(pattern, r)))
  const allowedDevices = devicePaths.filter((d) => policy.allowed_devices.some((pattern) => globOracle(pattern, d)))
  return askedFor.chain((anything) =>
    fc.record({
      privileged: mostly(fc.constant(policy.allow_privileged && anything.privileged), fc.constant(anything.privileged)),
      cap_add: mostly(fc.subarray(allowedCaps, { maxLength: Math.min(3, allowedCaps.length) }), fc.constant(anything.cap_add)),
      runtime: mostly(
        fc.option(allowedRuntimes.length === 0 ? fc.constant(nodeRuntime) : fc.constantFrom(...allowedRuntimes), { nil: undefined }),
        fc.constant(anything.runtime)
      ),
      mounts: mostly(
        fc.constant(policy.volumes_enabled ? anything.mounts : anything.mounts.filter((m) => !m.source?.startsWith("/"))),
        fc.constant(anything.mounts)
      ),
      devices: mostly(fc.subarray(allowedDevices, { maxLength: Math.min(2, allowedDevices.length) }), fc.constant(anything.devices)),
      pid_mode: mostly(fc.constant(policy.allow_host_pid ? anything.pid_mode : undefined), fc.constant(anything.pid_mode)),
      host_network: mostly(fc.constant(policy.allow_host_network && anything.host_network), fc.constant(anything.host_network)),
      seccomp: mostly(fc.constant(policy.allow_seccomp_unconfined ? anything.seccomp : anything.seccomp ?? true), fc.constant(anything.seccomp))
    })
  )
}

/** A policy config, a namespace, and what a task of that namespace asks for (mostly within its policy). */
const scenario = fc.tuple(policyConfig, fc.constantFrom(...namespaces)).chain(([config, ns]) =>
  askedNear(effectivePolicy(config, ns).policy).map((asked) => [config, ns, asked] as const)
)

const taskOf = (asked: AskedFor): TaskConfig => {
  const { seccomp: _seccomp, ...base } = baseTask({
    privileged: asked.privileged,
    cap_add: asked.cap_add,
    mounts: asked.mounts,
    devices: asked.devices,
    host_network: asked.host_network,
    ...(asked.runtime === undefined ? {} : { runtime: asked.runtime }),
    ...(asked.pid_mode === undefined ? {} : { pid_mode: asked.pid_mode })
  })
  return asked.seccomp === undefined ? base : { ...base, seccomp: asked.seccomp }
}

/** The spec the task would run with under `policy` (as prepareTask builds it), or the SpecError's reason. */
const specUnder = (policy: Policy, task: TaskConfig) =>
  buildSpec({
    ...specInput(),
    driver: { allow_privileged: policy.allow_privileged, containerd_runtime: nodeRuntime, namespace: "nomad", policy },
    task,
    host: { ...specInput().host, seccompProfile: undefined }
  })

/**
 * The effective policy as the option docs describe it, worked out here rather than by src/policy: capabilities in
 * their `CAP_` spelling, volumes enabled unless turned off, and each setting from the most specific matching block
 * that sets it (globs before exact names, fewer literal characters first, then by name), else from the node.
 */
const expectedPolicy = (config: PolicyConfig, ns: string) => {
  const capName = (c: string) => {
    const upper = c.trim().toUpperCase()
    return upper === "ALL" || upper.startsWith("CAP_") ? upper : `CAP_${upper}`
  }
  const written = (b: NamespacePolicyConfig | PolicyConfig) => ({
    allow_privileged: b.allow_privileged,
    allow_caps: b.allow_caps === undefined ? undefined : [...new Set(b.allow_caps.map(capName))],
    allow_runtimes: b.allow_runtimes,
    volumes_enabled: b.volumes?.enabled,
    allowed_devices: b.allowed_devices,
    allow_host_pid: b.allow_host_pid,
    allow_host_network: b.allow_host_network,
    default_seccomp: b.default_seccomp,
    allow_seccomp_unconfined: b.allow_seccomp_unconfined
  })
  const isGlob = (label: string) => /[*?]/.test(label)
  const order = (a: string, b: string) =>
    Number(isGlob(b)) - Number(isGlob(a)) || a.replace(/[*?]/g, "").length - b.replace(/[*?]/g, "").length || (a < b ? -1 : 1)
  const matching = Object.keys(config.namespace_policy).filter((label) => globOracle(label, ns)).sort(order)
  const policy: Record<string, unknown> = { ...written(config), volumes_enabled: config.volumes?.enabled ?? true }
  const sources: Record<string, unknown> = Object.fromEntries(Object.keys(policy).map((setting) => [setting, { _tag: "Node" }]))
  for (const label of matching) {
    for (const [setting, value] of Object.entries(written(config.namespace_policy[label]!))) {
      if (value === undefined) continue
      policy[setting] = value
      sources[setting] = { _tag: "Namespace", block: label }
    }
  }
  return { policy, sources }
}


const nodeDefaults: PolicyConfig = {
  allow_privileged: true,
  allow_caps: ["all"],
  allow_runtimes: ["*"],
  allowed_devices: ["*"],
  allow_host_pid: true,
  allow_host_network: true,
  default_seccomp: false,
  allow_seccomp_unconfined: true,
  namespace_policy: {}
}

const nothing: AskedFor = {
  privileged: false,
  cap_add: [],
  runtime: undefined,
  mounts: [],
  devices: [],
  pid_mode: undefined,
  host_network: false,
  seccomp: undefined
}

// --- the effective policy ------------------------------------------------------------------------------------------

describe("the effective policy of a task", () => {
  it.prop("is the node's when no namespace_policy block matches the task's namespace", [policyConfig, fc.constantFrom(...namespaces)], ([config, ns]) => {
    const unrelated = Object.fromEntries(Object.entries(config.namespace_policy).filter(([label]) => !globOracle(label, ns)))
    const effective = effectivePolicy({ ...config, namespace_policy: unrelated }, ns)
    expect(effective.policy).toEqual(expectedPolicy({ ...config, namespace_policy: {} }, ns).policy)
    expect(Object.values(effective.sources).every((s) => s._tag === "Node")).toBe(true)
  }, fcOptions)

  it.prop("does not change when blocks for other namespaces are added", [policyConfig, fc.constantFrom(...namespaces), fc.dictionary(fc.constantFrom("x-*", "other", "nope?"), namespaceBlock, { maxKeys: 3 })], ([config, ns, extra]) => {
    const more = { ...extra, ...config.namespace_policy }
    expect(effectivePolicy({ ...config, namespace_policy: more }, ns)).toEqual(effectivePolicy(config, ns))
  }, fcOptions)

  it.prop("takes each setting from the most specific matching block that sets it, else from the node", [policyConfig, fc.constantFrom(...namespaces)], ([config, ns]) => {
    const effective = effectivePolicy(config, ns)
    const expected = expectedPolicy(config, ns)
    expect(Object.keys(expected.policy).sort()).toEqual([...settings].sort())
    expect(effective.policy).toEqual(expected.policy)
    expect(effective.sources).toEqual(expected.sources)
  }, fcOptions)

  it("orders blocks: globs before names, fewer literal characters first", () => {
    expect(matchingBlocks({ "team-a": {}, "*": {}, "team-*": {}, "t*": {}, "x": {} }, "team-a")).toEqual(["*", "t*", "team-*", "team-a"])
  })

  it("lets a shared cluster allow privileged for infra only", () => {
    const config = { ...nodeDefaults, allow_privileged: false, namespace_policy: { infra: { allow_privileged: true } } }
    const privileged = taskOf({ ...nothing, privileged: true })
    expect(Either.isRight(admit(effectivePolicy(config, "infra"), privileged, nodeRuntime))).toBe(true)
    const refused = admit(effectivePolicy(config, "default"), privileged, nodeRuntime)
    expect(Either.isLeft(refused) && refused.left.reason).toBe("PrivilegedNotAllowed")
  })
})

// --- admission -----------------------------------------------------------------------------------------------------

describe("a task admitted under a policy", () => {
  it.prop("never gets a setting the policy refuses, whatever the combination of options", [scenario], ([[config, ns, asked]]) => {
    const effective = effectivePolicy(config, ns)
    const { policy } = effective
    const task = taskOf(asked)
    if (Either.isLeft(admit(effective, task, nodeRuntime))) return
    const built = specUnder(policy, task)
    // What fails for reasons of its own (e.g. a device missing on the host) grants nothing either.
    if (Either.isLeft(built)) return
    const { runtime, spec } = built.right
    const namespaceTypes = spec.linux.namespaces.map((n) => n.type)

    if (!policy.allow_privileged) expect(task.privileged).toBe(false)
    if (!task.privileged && !policy.allow_caps.includes("ALL")) {
      for (const cap of spec.process.capabilities?.bounding ?? []) expect(policy.allow_caps).toContain(cap)
    }
    if (!policy.allow_host_pid) expect(namespaceTypes).toContain("pid")
    if (!policy.allow_host_network) expect(namespaceTypes).toContain("network")
    if (!policy.volumes_enabled) {
      for (const m of spec.mounts.filter((m) => m.type === "bind")) {
        const source = m.source ?? ""
        const driverOwn = source.startsWith(`${allocDir}/`) || source.startsWith(`${generatedDir}/`) ||
          ((source === "/etc/resolv.conf" || source === "/etc/hosts") && (m.options ?? []).includes("ro"))
        expect(driverOwn, `bind of ${source}`).toBe(true)
      }
    }
    if (!task.privileged && !policy.allowed_devices.includes("*")) {
      for (const device of spec.linux.devices ?? []) {
        expect(policy.allowed_devices.some((pattern) => globOracle(pattern, device.path)), device.path).toBe(true)
      }
    }
    if (task.runtime !== undefined && task.runtime !== nodeRuntime) {
      expect(policy.allow_runtimes.some((pattern) => globOracle(pattern, task.runtime!))).toBe(true)
      expect(runtime.binaryName ?? runtime.name).toBe(task.runtime)
    }
    if (!policy.allow_seccomp_unconfined || (policy.default_seccomp && task.seccomp !== false)) {
      expect(spec.linux.seccomp).toBeDefined()
    }
  }, fcOptions)

  /** Each route to the host, the setting that closes it, and a task taking it. */
  const routes: ReadonlyArray<{
    readonly reason: PolicyErrorReason
    readonly close: Partial<PolicyConfig>
    readonly take: Partial<AskedFor>
    readonly named: RegExp
  }> = [
    { reason: "PrivilegedNotAllowed", close: { allow_privileged: false }, take: { privileged: true }, named: /privileged.*allow_privileged/ },
    { reason: "CapabilityNotAllowed", close: { allow_caps: ["chown"] }, take: { cap_add: ["ALL"] }, named: /cap_add "ALL".*allow_caps/ },
    { reason: "CapabilityNotAllowed", close: { allow_caps: ["chown"] }, take: { cap_add: ["sys_admin"] }, named: /cap_add "sys_admin".*CAP_SYS_ADMIN.*allow_caps = \["CAP_CHOWN"\]/ },
    { reason: "HostVolumeNotAllowed", close: { volumes: { enabled: false } }, take: { mounts: [{ type: "bind", target: "/host", source: "/", options: ["rbind", "rw"] }] }, named: /host path "\/" at "\/host".*volumes\.enabled = false/ },
    { reason: "HostVolumeNotAllowed", close: { volumes: { enabled: false } }, take: { mounts: [{ type: "tmpfs", target: "/host", source: "/etc", options: ["bind"] }] }, named: /"\/etc".*volumes\.enabled = false/ },
    { reason: "DeviceNotAllowed", close: { allowed_devices: ["/dev/nvidia*"] }, take: { devices: ["/dev/sda"] }, named: /devices "\/dev\/sda".*allowed_devices = \["\/dev\/nvidia\*"\]/ },
    { reason: "DeviceNotAllowed", close: { allowed_devices: ["/dev/nvidia*"] }, take: { devices: ["/dev/nvidia0/../sda"] }, named: /plain absolute path.*allowed_devices/ },
    { reason: "HostPidNotAllowed", close: { allow_host_pid: false }, take: { pid_mode: "HOST" }, named: /pid_mode = "HOST".*allow_host_pid = false/ },
    { reason: "HostNetworkNotAllowed", close: { allow_host_network: false }, take: { host_network: true }, named: /host_network = true.*allow_host_network = false/ },
    { reason: "RuntimeNotAllowed", close: { allow_runtimes: ["runsc"] }, take: { runtime: "sh" }, named: /runtime "sh".*allow_runtimes = \["runsc"\]/ },
    { reason: "SeccompRequired", close: { allow_seccomp_unconfined: false }, take: { seccomp: false }, named: /seccomp = false.*allow_seccomp_unconfined = false/ }
  ]

  for (const route of routes) {
    it.prop(`is refused ${route.reason} for ${JSON.stringify(route.take)} whatever else it asks for, unless a block of its namespace reopens it`, [policyConfig, fc.constantFrom(...namespaces), askedFor], ([config, ns, asked]) => {
      const closed = { ...config, ...route.close }
      const effective = effectivePolicy(closed, ns)
      const result = admit(effective, taskOf({ ...asked, ...route.take }), nodeRuntime)
      const setting = Object.keys(route.close)[0] === "volumes" ? "volumes_enabled" : Object.keys(route.close)[0] as keyof Policy
      const reopened = effective.sources[setting]._tag === "Namespace"
      if (!reopened) {
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          const refusal = result.left.refusals.find((r) => r.reason === route.reason && route.named.test(r.message))
          expect(refusal, result.left.message).toBeDefined()
          expect(refusal!.message).toMatch(/in (the )?plugin config/)
          expect(result.left.recoverable).toBe(false)
        }
      }
    }, fcOptions)
  }

  it("names the namespace_policy block that refused, and the task's namespace", () => {
    const config = { ...nodeDefaults, namespace_policy: { "team-*": { allow_host_network: false, allow_privileged: false } } }
    const asked = { ...nothing, privileged: true, host_network: true }
    const result = admit(effectivePolicy(config, "team-a"), taskOf(asked), nodeRuntime)
    expect(Either.isLeft(result) && result.left.message).toBe(
      "Running privileged jobs is not allowed: privileged = true is refused by allow_privileged = false in namespace_policy " +
        "\"team-*\" (the task's Nomad namespace is \"team-a\"); host_network = true is not allowed: allow_host_network = false " +
        "in namespace_policy \"team-*\" (the task's Nomad namespace is \"team-a\")"
    )
    expect(Either.isRight(admit(effectivePolicy(config, "default"), taskOf(asked), nodeRuntime))).toBe(true)
  })

  it("keeps the original's message for allow_privileged = false in the plugin config", () => {
    const config = { ...nodeDefaults, allow_privileged: false }
    const result = admit(effectivePolicy(config, "default"), taskOf({ ...nothing, privileged: true }), nodeRuntime)
    expect(Either.isLeft(result) && result.left.message).toBe(
      "Running privileged jobs are not allowed. Set allow_privileged to true in plugin config to allow running privileged jobs."
    )
  })

  it("lets relative binds into the task's directories and the node's own runtime through a closed policy", () => {
    const closed = { ...nodeDefaults, volumes: { enabled: false }, allow_runtimes: [] }
    const task = taskOf({
      ...nothing,
      runtime: nodeRuntime,
      mounts: [{ type: "bind", source: "local/conf", target: "/etc/app", options: ["rbind", "ro"] }]
    })
    expect(Either.isRight(admit(effectivePolicy(closed, "default"), task, nodeRuntime))).toBe(true)
    const built = specUnder(nodePolicy(closed), task)
    expect(Either.isRight(built) && built.right.spec.mounts.find((m) => m.destination === "/etc/app")?.source).toBe(`${allocDir}/web/local/conf`)
  })
})

// --- what the policy changes in the spec ---------------------------------------------------------------------------

describe("what a policy changes rather than refuses", () => {
  it("cuts containerd's default capability set down to allow_caps, adding what cap_add names within it", () => {
    const policy = nodePolicy({ ...nodeDefaults, allow_caps: ["chown", "kill", "net_bind_service", "sys_time"] })
    const built = specUnder(policy, taskOf({ ...nothing, cap_add: ["sys_time"] }))
    expect(Either.isRight(built) && built.right.spec.process.capabilities?.bounding).toEqual([
      "CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_SYS_TIME"
    ])
  })

  it("leaves a privileged task every host capability (allow_privileged governs it)", () => {
    const policy = nodePolicy({ ...nodeDefaults, allow_caps: ["chown"] })
    const built = specUnder(policy, taskOf({ ...nothing, privileged: true }))
    expect(Either.isRight(built) && built.right.spec.process.capabilities?.bounding?.length).toBe(knownCapabilities.length)
  })

  it("confines a task without seccomp under default_seccomp, and one with seccomp = false only when allowed", () => {
    const confining = nodePolicy({ ...nodeDefaults, default_seccomp: true })
    const unset = specUnder(confining, taskOf(nothing))
    expect(Either.isRight(unset) && unset.right.spec.linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO")
    const off = specUnder(confining, taskOf({ ...nothing, seccomp: false }))
    expect(Either.isRight(off) && off.right.spec.linux.seccomp).toBeUndefined()
    // allow_seccomp_unconfined = false confines every task, whatever default_seccomp says.
    const strict = specUnder(nodePolicy({ ...nodeDefaults, allow_seccomp_unconfined: false }), taskOf(nothing))
    expect(Either.isRight(strict) && strict.right.spec.linux.seccomp).toBeDefined()
  })

  it("changes nothing under the defaults: the original's behaviour", () => {
    const task = taskOf({ ...nothing, cap_add: ["sys_admin"], privileged: false })
    const withPolicy = specUnder(nodePolicy(nodeDefaults), task)
    const without = buildSpec({ ...specInput(), task, host: { ...specInput().host, seccompProfile: undefined } })
    expect(withPolicy).toEqual(without)
  })
})

// --- operator views ------------------------------------------------------------------------------------------------

describe("what the operator is told", () => {
  it("warns when allow_privileged = false leaves other routes open, naming each setting", () => {
    expect(policyWarnings(nodeDefaults)).toEqual([])
    const [warning] = policyWarnings({ ...nodeDefaults, allow_privileged: false, allow_host_pid: false })
    for (const setting of ["allow_caps", "volumes.enabled", "allowed_devices", "allow_host_network", "allow_runtimes"]) {
      expect(warning).toContain(setting)
    }
    expect(warning).not.toContain("allow_host_pid")
    const hardened = {
      ...nodeDefaults,
      allow_privileged: false,
      allow_caps: ["chown"],
      volumes: { enabled: false },
      allowed_devices: [],
      allow_host_pid: false,
      allow_host_network: false,
      allow_runtimes: []
    }
    expect(openRoutes(nodePolicy(hardened))).toEqual([])
    expect(policyWarnings(hardened)).toEqual([])
  })

  it("shows the node's settings and what each block changes in the doctor table", () => {
    const table = policyTable({ ...nodeDefaults, allow_privileged: false, namespace_policy: { infra: { allow_privileged: true } } })
    expect(table[0]).toMatch(/^setting\s+node\s+namespace infra$/)
    expect(table.find((line) => line.startsWith("allow_privileged "))).toMatch(/^allow_privileged\s+false\s+true$/)
    expect(table.find((line) => line.startsWith("allow_host_pid "))).toMatch(/^allow_host_pid\s+true\s+·$/)
  })
})

// Guard against the generators drifting into samples that make the central property vacuous.
describe("the generators", () => {
  it("admit and build tasks under closed settings often enough for the property to bite", () => {
    const samples = fc.sample(scenario, { numRuns: 1000, seed: 42 })
    const admitted = samples.flatMap(([config, ns, asked]) => {
      const { policy } = effectivePolicy(config, ns)
      const task = taskOf(asked)
      const ok = Either.isRight(admit(effectivePolicy(config, ns), task, nodeRuntime)) && Either.isRight(specUnder(policy, task))
      return ok ? [{ policy, asked }] : []
    })
    const count = (p: (s: { readonly policy: Policy; readonly asked: AskedFor }) => boolean) => admitted.filter(p).length
    expect(count((s) => !s.policy.allow_caps.includes("ALL") && !s.asked.privileged)).toBeGreaterThan(20)
    expect(count((s) => !s.policy.volumes_enabled && s.asked.mounts.length > 0)).toBeGreaterThan(5)
    expect(count((s) => !s.policy.allowed_devices.includes("*") && s.asked.devices.length > 0)).toBeGreaterThan(5)
    expect(count((s) => !s.policy.allow_host_pid && !s.policy.allow_host_network)).toBeGreaterThan(5)
    expect(count((s) => !s.policy.allow_seccomp_unconfined)).toBeGreaterThan(5)
    expect(count((s) => s.asked.runtime !== undefined && s.asked.runtime !== nodeRuntime && !s.policy.allow_runtimes.includes("*"))).toBeGreaterThan(3)
  })
})
