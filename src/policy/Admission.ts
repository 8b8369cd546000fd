/**
 * Whether a task may run under its effective policy (Policy.ts): each task option that can reach the host is
 * checked against the setting that governs it. Pure, and run when the task is prepared (before its image is
 * pulled), so StartTask and `containerd-driver spec` refuse alike. What a setting changes rather than refuses —
 * the default capability set cut down to `allow_caps`, seccomp by default — is applied by the spec fold
 * (src/oci/Spec.ts), which gets the same policy.
 */
import * as path from "node:path"
import { Either } from "effect"
import type { TaskConfig } from "../config/TaskConfig.js"
import { isBindMount } from "../oci/Mounts.js"
import { matchesAny } from "./Glob.js"
import { allowsAllCapabilities, describeSource, type EffectivePolicy, type Setting, settingName } from "./Policy.js"
import { capabilityName } from "./PolicyOptions.js"
import { type PolicyError, policyError, type PolicyErrorReason, type Refusal } from "./PolicyError.js"

const list = (values: ReadonlyArray<string>): string => `[${values.map((v) => JSON.stringify(v)).join(", ")}]`

/** The task options a policy governs. */
export type GovernedOptions = Pick<
  TaskConfig,
  "privileged" | "cap_add" | "runtime" | "mounts" | "devices" | "pid_mode" | "host_network" | "seccomp"
>

export const admit = (
  effective: EffectivePolicy,
  task: GovernedOptions,
  /** The node's `containerd_runtime`: a task naming it asks for nothing more than the default. */
  nodeRuntime: string
): Either.Either<void, PolicyError> => {
  const { policy } = effective
  const refusals: Array<Refusal> = []
  const setting = (name: Setting, value: unknown) =>
    `${settingName(name)} = ${typeof value === "string" ? value : JSON.stringify(value)} in ${describeSource(effective, name)}`
  const refuse = (reason: PolicyErrorReason, name: Setting, message: string) =>
    refusals.push({ reason, setting: name, message })

  if (task.privileged && !policy.allow_privileged) {
    refuse(
      "PrivilegedNotAllowed",
      "allow_privileged",
      effective.sources.allow_privileged._tag === "Node"
        ? "Running privileged jobs are not allowed. Set allow_privileged to true in plugin config to allow running privileged jobs."
        : `Running privileged jobs is not allowed: privileged = true is refused by ${setting("allow_privileged", false)}`
    )
  }
  if (task.host_network && !policy.allow_host_network) {
    refuse("HostNetworkNotAllowed", "allow_host_network", `host_network = true is not allowed: ${setting("allow_host_network", false)}`)
  }
  if (task.pid_mode !== undefined && task.pid_mode.toLowerCase() === "host" && !policy.allow_host_pid) {
    refuse(
      "HostPidNotAllowed",
      "allow_host_pid",
      `pid_mode = ${JSON.stringify(task.pid_mode)} is not allowed: ${setting("allow_host_pid", false)}`
    )
  }
  if (!allowsAllCapabilities(policy)) {
    for (const raw of task.cap_add) {
      const name = capabilityName(raw)
      // Unknown names are the spec's to report (UnknownCapability), with the list of valid ones.
      if (name === undefined || policy.allow_caps.includes(name)) continue
      refuse(
        "CapabilityNotAllowed",
        "allow_caps",
        name === "ALL"
          ? `cap_add ${JSON.stringify(raw)} is not allowed: it asks for every capability, which only allow_caps = ["all"] allows; ` +
            `${setting("allow_caps", list(policy.allow_caps))}`
          : `cap_add ${JSON.stringify(raw)} is not allowed: ${name} is not in ${setting("allow_caps", list(policy.allow_caps))}`
      )
    }
  }
  if (!policy.allowed_devices.includes("*")) {
    for (const device of task.devices) {
      const plain = path.posix.isAbsolute(device) && path.posix.normalize(device) === device && !device.endsWith("/")
      if (plain && matchesAny(policy.allowed_devices, device)) continue
      refuse(
        "DeviceNotAllowed",
        "allowed_devices",
        plain
          ? `devices ${JSON.stringify(device)} is not allowed: it matches none of ${setting("allowed_devices", list(policy.allowed_devices))}`
          : `devices ${JSON.stringify(device)} is not allowed: only a plain absolute path (no ".", ".." or repeated "/") ` +
            `is checked against ${setting("allowed_devices", list(policy.allowed_devices))}`
      )
    }
  }
  if (!policy.volumes_enabled) {
    for (const m of task.mounts) {
      if (!isBindMount(m) || m.source === undefined || !path.posix.isAbsolute(m.source)) continue
      refuse(
        "HostVolumeNotAllowed",
        "volumes_enabled",
        `mounts: binding the host path ${JSON.stringify(m.source)} at ${JSON.stringify(m.target)} is not allowed: ` +
          `${setting("volumes_enabled", false)}; only relative sources inside the task's local/, secrets/ or alloc/ can be bound`
      )
    }
  }
  const runtime = task.runtime ?? ""
  if (runtime !== "" && runtime !== nodeRuntime && !matchesAny(policy.allow_runtimes, runtime)) {
    refuse(
      "RuntimeNotAllowed",
      "allow_runtimes",
      `runtime ${JSON.stringify(runtime)} is not allowed: it matches none of ${setting("allow_runtimes", list(policy.allow_runtimes))}; ` +
        `without runtime the task runs with the node's containerd_runtime`
    )
  }
  if (task.seccomp === false && !policy.allow_seccomp_unconfined) {
    refuse(
      "SeccompRequired",
      "allow_seccomp_unconfined",
      `seccomp = false is not allowed: ${setting("allow_seccomp_unconfined", false)}; without it the task runs under the default profile`
    )
  }
  const [first, ...rest] = refusals
  return first === undefined ? Either.void : Either.left(policyError([first, ...rest]))
}
