/**
 * The plugin options (`plugin "containerd-driver" { config { ... } }` in the Nomad client config).
 * The original driver's options keep their names, types and defaults; the others are new.
 */
import { Schema } from "effect"
import { invalidDurationMessage, parseGoDuration } from "./Duration.js"
import * as O from "./Options.js"
import { gc } from "../gc/GcOptions.js"
import { policyWarnings } from "../policy/Policy.js"
import { namespacePolicy, nodePolicyOptions } from "../policy/PolicyOptions.js"
import { defaultExtraLabels, labelIdentifiers } from "../task/TaskIdentity.js"
import { globMatches } from "../policy/Glob.js"

/** containerd's rule for namespace and container identifiers. */
const identifier = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/

export const driverOptions = {
  enabled: O.bool({ default: true, doc: "Set to `false` to report the driver as undetected on this node." }),
  containerd_runtime: O.string({
    default: "io.containerd.runc.v2",
    doc: "containerd runtime for every task: a shim name such as `io.containerd.runsc.v1`, a runtime binary on the " +
      "node's `PATH` such as `runsc` or `crun` (run by the runc v2 shim, like Docker's `--runtime`), or an absolute path of a shim binary."
  }),
  // Any string loads, as in the original: a bad value is a warning (configWarnings) and Nomad's interval is used.
  stats_interval: O.string({
    doc: "Interval of resource usage samples (Go duration, e.g. `\"5s\"`); when unset or invalid, Nomad's collection interval."
  }),
  allow_privileged: O.bool({
    default: true,
    doc: "Allow tasks with `privileged = true`. On its own it does not protect a shared node: see the other `allow_*` " +
      "options and `example/hardened-agent.hcl`."
  }),
  ...nodePolicyOptions,
  namespace_policy: namespacePolicy,
  auth: O.block({
    doc: "Default registry credentials for every pull; a task's `auth` overrides them.",
    options: {
      username: O.string({ doc: "Registry user name (with `password`)." }),
      password: O.string({ doc: "Registry password (with `username`)." }),
      config: O.string({ doc: "New. Path of a Docker `config.json` whose `auths`, `credHelpers` and `credsStore` are used." }),
      helper: O.string({ doc: "New. Credential helper for every registry: `ecr-login` runs `docker-credential-ecr-login`." })
    },
    check: (auth) =>
      (auth.username === undefined) === (auth.password === undefined) ||
      "set both username and password, or neither"
  }),
  containerd_address: O.string({
    default: "/run/containerd/containerd.sock",
    doc: "New. Path of containerd's gRPC socket."
  }),
  namespace: O.string({
    check: Schema.String.pipe(
      Schema.filter((s) =>
        identifier.test(s) && s.length <= 76 ||
        `namespace ${JSON.stringify(s)} is not a valid containerd namespace (letters, digits and single . _ - between them)`
      )
    ),
    doc: "New. containerd namespace for tasks and images; defaults to `nomad` (cgroup v1) or `nomad.slice` (cgroup v2)."
  }),
  snapshotter: O.string({ default: "overlayfs", doc: "New. containerd snapshotter for image layers and task root filesystems." }),
  insecure_registries: O.stringList({
    doc: "New. Registries (`host[:port]`) reached over plain HTTP. Loopback registries always are."
  }),
  hosts_dir: O.string({
    default: "/etc/containerd/certs.d",
    doc: "New. containerd's registry hosts directory: `<host>/hosts.toml` (mirrors, CAs, client certificates, " +
      "`skip_verify`, plain-HTTP hosts) or Docker's `ca.crt`/`*.cert`/`*.key` files, `_default` for the rest. " +
      "`\"\"` ignores it."
  }),
  gc,
  extra_labels: O.stringList({
    default: defaultExtraLabels,
    check: Schema.String.pipe(
      Schema.filter((pattern) =>
        labelIdentifiers.some((name) => globMatches(pattern, name)) ||
        `extra_labels ${JSON.stringify(pattern)} names none of ${labelIdentifiers.join(", ")}`
      )
    ),
    doc: "New. Nomad identifiers each container is labelled with as `com.hashicorp.nomad.<name>` (globs over " +
      `${labelIdentifiers.map((n) => `\`${n}\``).join(", ")}), as the Docker driver's \`extra_labels\`; ` +
      "`com.hashicorp.nomad.alloc_id` is always set."
  })
} satisfies O.Options

export const DriverConfig = O.struct(driverOptions)
export type DriverConfig = typeof DriverConfig.Type

/** The `stats_interval` in milliseconds when it is a positive Go duration; otherwise Nomad's interval applies. */
export const statsInterval = (config: Pick<DriverConfig, "stats_interval">): number | undefined => {
  const ms = config.stats_interval === undefined ? undefined : parseGoDuration(config.stats_interval)
  return ms !== undefined && ms > 0 ? ms : undefined
}

/**
 * Problems in a config that loads anyway (the original driver only logged them), one message each, worded so
 * the operator can fix them. For the plugin's log and `doctor`.
 */
export const configWarnings = (config: DriverConfig): ReadonlyArray<string> => {
  const warnings: Array<string> = []
  const interval = config.stats_interval
  if (interval !== undefined && interval !== "" && statsInterval(config) === undefined) {
    const fallback = "; Nomad's collection interval is used instead"
    warnings.push(
      parseGoDuration(interval) === undefined
        ? `stats_interval ${JSON.stringify(interval)} is not a Go duration (${invalidDurationMessage(interval)})${fallback}`
        : `stats_interval ${JSON.stringify(interval)} is not a positive duration${fallback}`
    )
  }
  warnings.push(...policyWarnings(config))
  return warnings
}
