/**
 * The policy a task runs under: the node's settings with the `namespace_policy` blocks matching the task's Nomad
 * namespace laid over them — one pure function, so the plugin, `containerd-driver spec` and `doctor` agree. Every
 * setting remembers where its value came from, so a refusal can name it.
 *
 * Blocks apply from the least to the most specific: globs before exact names, a glob with fewer literal
 * characters before one with more (ties in name order); each replaces the settings it gives.
 */
import { globMatches, isGlob, literalLength } from "./Glob.js"
import { capabilityName, type NamespacePolicyConfig } from "./PolicyOptions.js"

export interface Policy {
  readonly allow_privileged: boolean
  /** Normalised capability names (`CAP_*`), or `ALL`. */
  readonly allow_caps: ReadonlyArray<string>
  /** Globs over a task's `runtime`. */
  readonly allow_runtimes: ReadonlyArray<string>
  readonly volumes_enabled: boolean
  /** Globs over a task's `devices`. */
  readonly allowed_devices: ReadonlyArray<string>
  readonly allow_host_pid: boolean
  readonly allow_host_network: boolean
  readonly default_seccomp: boolean
  readonly allow_seccomp_unconfined: boolean
}

export type Setting = keyof Policy

export const settings: ReadonlyArray<Setting> = [
  "allow_privileged",
  "allow_caps",
  "allow_runtimes",
  "volumes_enabled",
  "allowed_devices",
  "allow_host_pid",
  "allow_host_network",
  "default_seccomp",
  "allow_seccomp_unconfined"
]

/** A setting as the operator writes it. */
export const settingName = (setting: Setting): string => (setting === "volumes_enabled" ? "volumes.enabled" : setting)

/** The original driver's behaviour: nothing is refused, nothing confined beyond containerd's defaults. */
export const permissivePolicy: Policy = {
  allow_privileged: true,
  allow_caps: ["ALL"],
  allow_runtimes: ["*"],
  volumes_enabled: true,
  allowed_devices: ["*"],
  allow_host_pid: true,
  allow_host_network: true,
  default_seccomp: false,
  allow_seccomp_unconfined: true
}

export type PolicySource = { readonly _tag: "Node" } | { readonly _tag: "Namespace"; readonly block: string }

export interface EffectivePolicy {
  /** The Nomad namespace of the task. */
  readonly namespace: string
  readonly policy: Policy
  readonly sources: Readonly<Record<Setting, PolicySource>>
}

/** The policy options of the plugin config (see PolicyOptions.ts and DriverConfig.ts). */
export interface PolicyConfig {
  readonly allow_privileged: boolean
  readonly allow_caps: ReadonlyArray<string>
  readonly allow_runtimes: ReadonlyArray<string>
  readonly volumes?: { readonly enabled: boolean } | undefined
  readonly allowed_devices: ReadonlyArray<string>
  readonly allow_host_pid: boolean
  readonly allow_host_network: boolean
  readonly default_seccomp: boolean
  readonly allow_seccomp_unconfined: boolean
  readonly namespace_policy: Readonly<Record<string, NamespacePolicyConfig>>
}

const capabilities = (names: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set(names.map((name) => capabilityName(name) ?? name.trim().toUpperCase()))
]

/** The settings one block (or the node) gives; absent ones are not given. */
const given = (block: NamespacePolicyConfig): Partial<Policy> => ({
  ...(block.allow_privileged === undefined ? {} : { allow_privileged: block.allow_privileged }),
  ...(block.allow_caps === undefined ? {} : { allow_caps: capabilities(block.allow_caps) }),
  ...(block.allow_runtimes === undefined ? {} : { allow_runtimes: block.allow_runtimes }),
  ...(block.volumes?.enabled === undefined ? {} : { volumes_enabled: block.volumes.enabled }),
  ...(block.allowed_devices === undefined ? {} : { allowed_devices: block.allowed_devices }),
  ...(block.allow_host_pid === undefined ? {} : { allow_host_pid: block.allow_host_pid }),
  ...(block.allow_host_network === undefined ? {} : { allow_host_network: block.allow_host_network }),
  ...(block.default_seccomp === undefined ? {} : { default_seccomp: block.default_seccomp }),
  ...(block.allow_seccomp_unconfined === undefined ? {} : { allow_seccomp_unconfined: block.allow_seccomp_unconfined })
})

export const nodePolicy = (config: PolicyConfig): Policy => ({
  allow_privileged: config.allow_privileged,
  allow_caps: capabilities(config.allow_caps),
  allow_runtimes: config.allow_runtimes,
  volumes_enabled: config.volumes?.enabled ?? true,
  allowed_devices: config.allowed_devices,
  allow_host_pid: config.allow_host_pid,
  allow_host_network: config.allow_host_network,
  default_seccomp: config.default_seccomp,
  allow_seccomp_unconfined: config.allow_seccomp_unconfined
})

/** Orders blocks by how specific their label is: globs before names, fewer literal characters first, then by name. */
const bySpecificity = (a: string, b: string): number =>
  Number(!isGlob(a)) - Number(!isGlob(b)) || literalLength(a) - literalLength(b) || (a < b ? -1 : a > b ? 1 : 0)

/** The labels of the blocks that apply to `namespace`, least specific first. */
export const matchingBlocks = (blocks: Readonly<Record<string, unknown>>, namespace: string): ReadonlyArray<string> =>
  Object.keys(blocks).filter((label) => globMatches(label, namespace)).sort(bySpecificity)

export const effectivePolicy = (config: PolicyConfig, namespace: string): EffectivePolicy => {
  let policy = nodePolicy(config)
  const sources = Object.fromEntries(settings.map((s) => [s, { _tag: "Node" }])) as Record<Setting, PolicySource>
  for (const label of matchingBlocks(config.namespace_policy, namespace)) {
    const values = given(config.namespace_policy[label]!)
    policy = { ...policy, ...values }
    for (const setting of Object.keys(values) as Array<Setting>) sources[setting] = { _tag: "Namespace", block: label }
  }
  return { namespace, policy, sources }
}

/** Where a setting's value comes from, for messages: `the plugin config` or `namespace_policy "team-*" (...)`. */
export const describeSource = (effective: EffectivePolicy, setting: Setting): string => {
  const source = effective.sources[setting]
  return source._tag === "Node"
    ? "the plugin config"
    : `namespace_policy ${JSON.stringify(source.block)} (the task's Nomad namespace is ${JSON.stringify(effective.namespace)})`
}

/** Whether the task is confined by seccomp: its own `seccomp`, else the policy's default. */
export const seccompEnabled = (seccomp: boolean | undefined, policy: Policy | undefined): boolean =>
  seccomp ?? (policy !== undefined && (policy.default_seccomp || !policy.allow_seccomp_unconfined))

/** Whether the list allows every capability. */
export const allowsAllCapabilities = (policy: Pick<Policy, "allow_caps">): boolean => policy.allow_caps.includes("ALL")

/**
 * The routes from a task to the host a policy leaves open, each as the setting that would close it: what an operator
 * who set `allow_privileged = false` may believe closed.
 */
export const openRoutes = (policy: Policy): ReadonlyArray<string> => [
  ...(policy.allow_caps.includes("ALL") ? ["allow_caps (cap_add = [\"ALL\"] gives every capability)"] : []),
  ...(policy.volumes_enabled ? ["volumes.enabled (mounts can bind any host path, / included, read-write)"] : []),
  ...(policy.allowed_devices.includes("*") ? ["allowed_devices (devices can expose any host device)"] : []),
  ...(policy.allow_host_pid ? ["allow_host_pid (pid_mode = \"host\")"] : []),
  ...(policy.allow_host_network ? ["allow_host_network (host_network = true)"] : []),
  ...(policy.allow_runtimes.includes("*") ? ["allow_runtimes (runtime can run any binary on the node's PATH as the OCI runtime)"] : [])
]

/** The warning for a node that refuses privileged tasks but leaves other routes to the host open. */
export const policyWarnings = (config: PolicyConfig): ReadonlyArray<string> => {
  const policy = nodePolicy(config)
  const open = openRoutes(policy)
  if (policy.allow_privileged || open.length === 0) return []
  return [
    `allow_privileged = false, yet tasks can still reach the host through ${open.join(", ")}; ` +
    "close them as example/hardened-agent.hcl does, or allow them per Nomad namespace with namespace_policy"
  ]
}
