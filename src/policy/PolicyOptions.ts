/**
 * The operator's policy options: what tasks on this node may ask for (allow-lists in the Docker driver's
 * names, plus the routes to the host Docker has no switch for) and `namespace_policy` blocks that change them for
 * the tasks of some Nomad namespaces. Node defaults are the original driver's: everything allowed.
 * The same settings are declared twice — with defaults for the node, without inside `namespace_policy`, where an
 * absent setting means "the node's".
 */
import { Schema } from "effect"
import * as O from "../config/Options.js"
import { knownCapabilities } from "../oci/Capabilities.js"

/** `chown`, `CAP_CHOWN`, `cap_chown` → `CAP_CHOWN`; `all` → `ALL`; undefined for anything else. */
export const capabilityName = (raw: string): string | undefined => {
  const upper = raw.trim().toUpperCase()
  if (upper === "ALL") return "ALL"
  const name = upper.startsWith("CAP_") ? upper : `CAP_${upper}`
  return knownCapabilities.includes(name) ? name : undefined
}

const capabilityEntry = Schema.String.pipe(
  Schema.filter((raw) =>
    capabilityName(raw) !== undefined ||
    `${JSON.stringify(raw)} is not a Linux capability name (e.g. "chown", "CAP_NET_ADMIN") or "all"`
  )
)

const nonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim() !== "" || "an empty pattern matches nothing; remove it"))

/** Nomad's namespace names (letters, digits, `-`), with the glob wildcards. */
const namespacePattern = /^[A-Za-z0-9*?-]{1,128}$/

const docs = {
  allow_caps: "Capabilities a task may have, as Docker's `allow_caps`: a `cap_add` outside them is refused, and " +
    "containerd's default set is cut down to them; names as in `cap_add`, `\"all\"` allows every one. A privileged " +
    "task is governed by `allow_privileged` alone.",
  allow_runtimes: "Runtimes a task's `runtime` may name (globs, e.g. `[\"runsc\", \"io.containerd.runsc.v1\"]`); `[]` " +
    "lets no task choose. A task without `runtime` uses `containerd_runtime`, which is always allowed.",
  volumes: "Host-path bind mounts, as Docker's `volumes`.",
  volumes_enabled: "Allow task `mounts` (`bind`, `volume`, or any mount with a bind option) of absolute host paths. When " +
    "`false`, only relative sources inside the task's `local/`, `secrets/` or `alloc/` can be bound; Nomad's own " +
    "`volume_mount`s and task directories are not affected.",
  allowed_devices: "Host devices a task's `devices` may name (globs, e.g. `[\"/dev/nvidia*\"]`); `[]` allows none. " +
    "Device-plugin devices Nomad assigns are not affected.",
  allow_host_pid: "Allow `pid_mode = \"host\"` (the host's PID namespace).",
  allow_host_network: "Allow `host_network = true` (the host's network namespace).",
  default_seccomp: "Confine a task that does not set `seccomp` with containerd's default seccomp profile.",
  allow_seccomp_unconfined: "Allow `seccomp = false`. When `false`, every task is confined: one that does not set " +
    "`seccomp` gets the default profile, whatever `default_seccomp` says."
} as const

/** The node's policy settings (beside `allow_privileged`, which the original driver already had). */
export const nodePolicyOptions = {
  allow_caps: O.stringList({ default: ["all"], check: capabilityEntry, doc: `New. ${docs.allow_caps}` }),
  allow_runtimes: O.stringList({ default: ["*"], check: nonEmpty, doc: `New. ${docs.allow_runtimes}` }),
  volumes: O.block({
    doc: `New. ${docs.volumes}`,
    options: { enabled: O.bool({ default: true, doc: docs.volumes_enabled }) }
  }),
  allowed_devices: O.stringList({ default: ["*"], check: nonEmpty, doc: `New. ${docs.allowed_devices}` }),
  allow_host_pid: O.bool({ default: true, doc: `New. ${docs.allow_host_pid}` }),
  allow_host_network: O.bool({ default: true, doc: `New. ${docs.allow_host_network}` }),
  default_seccomp: O.bool({ default: false, doc: `New. ${docs.default_seccomp}` }),
  allow_seccomp_unconfined: O.bool({ default: true, doc: `New. ${docs.allow_seccomp_unconfined}` })
} satisfies O.Options

const override = (setting: string) => `Replaces the node's \`${setting}\` for these namespaces.`

/** The settings of one `namespace_policy` block: each one given replaces the node's. */
export const namespacePolicyOptions = {
  allow_privileged: O.optionalBool({ doc: override("allow_privileged") }),
  allow_caps: O.optionalStringList({ check: capabilityEntry, doc: override("allow_caps") }),
  allow_runtimes: O.optionalStringList({ check: nonEmpty, doc: override("allow_runtimes") }),
  volumes: O.block({
    doc: override("volumes"),
    options: { enabled: O.optionalBool({ doc: override("volumes.enabled") }) }
  }),
  allowed_devices: O.optionalStringList({ check: nonEmpty, doc: override("allowed_devices") }),
  allow_host_pid: O.optionalBool({ doc: override("allow_host_pid") }),
  allow_host_network: O.optionalBool({ doc: override("allow_host_network") }),
  default_seccomp: O.optionalBool({ doc: override("default_seccomp") }),
  allow_seccomp_unconfined: O.optionalBool({ doc: override("allow_seccomp_unconfined") })
} satisfies O.Options

export const namespacePolicy = O.blockMap({
  label: "namespace",
  options: namespacePolicyOptions,
  checkLabel: (label) =>
    namespacePattern.test(label) ||
    `namespace_policy ${JSON.stringify(label)}: a block is labelled with a Nomad namespace name or a glob of ` +
      `names (letters, digits and -, with * and ?), e.g. "infra" or "team-*"`,
  doc: "New. Policy for the tasks of the Nomad namespaces the label names (a name or a glob such as `\"team-*\"`): " +
    "each setting given replaces the node's (a list as a whole), the others stay the node's. Where several blocks " +
    "match, the more specific wins: an exact name over any glob, then the glob with more literal characters."
})

export type NamespacePolicyConfig = Schema.Schema.Type<ReturnType<typeof O.struct<typeof namespacePolicyOptions>>>
