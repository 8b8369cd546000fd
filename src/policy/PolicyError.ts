/**
 * The one error of policy checks: a task asks for something the operator's policy refuses. Never recoverable —
 * the same task would be refused again — and the message names the task option and its value, the setting that
 * refused it and where that setting was made (the plugin config or a `namespace_policy` block), so both the job
 * author and the operator know what to change.
 */
import { Data } from "effect"
import type { Setting } from "./Policy.js"

export type PolicyErrorReason =
  | "PrivilegedNotAllowed"
  | "CapabilityNotAllowed"
  | "RuntimeNotAllowed"
  | "HostVolumeNotAllowed"
  | "DeviceNotAllowed"
  | "HostPidNotAllowed"
  | "HostNetworkNotAllowed"
  | "SeccompRequired"

export interface Refusal {
  readonly reason: PolicyErrorReason
  readonly setting: Setting
  readonly message: string
}

export class PolicyError extends Data.TaggedError("PolicyError")<{
  /** The first refusal's reason. */
  readonly reason: PolicyErrorReason
  /** Every refusal, in the order the options are checked. */
  readonly refusals: ReadonlyArray<Refusal>
  readonly message: string
  readonly recoverable: false
}> {}

export const policyError = (refusals: readonly [Refusal, ...Array<Refusal>]): PolicyError =>
  new PolicyError({
    reason: refusals[0].reason,
    refusals,
    message: refusals.map((r) => r.message).join("; "),
    recoverable: false
  })
