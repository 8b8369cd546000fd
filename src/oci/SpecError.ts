/**
 * The one error of runtime-spec generation. `reason` says which rule failed; `message` is shown to the user as
 * the task's failure, so it names the option, the offending value and what to do. Where the original Go driver
 * had a message for the same situation (Roblox/nomad-driver-containerd containerd/containerd.go,
 * containerd/driver.go) the wording is kept.
 */
import { Data } from "effect"

export type SpecErrorReason =
  | "CommandAndEntrypoint"
  | "InvalidEntrypoint"
  | "NoCommand"
  | "InvalidCwd"
  | "PrivilegedNotAllowed"
  | "InvalidPidMode"
  | "InvalidShmSize"
  | "InvalidSysctl"
  | "SeccompProfileWithoutSeccomp"
  | "InvalidSeccompProfile"
  | "HostNetworkWithGroupNetwork"
  | "UnknownCapability"
  | "CapabilityNotAvailable"
  | "InvalidMount"
  | "InvalidMountSource"
  | "MountSourceEscapes"
  | "InvalidPropagation"
  | "InvalidExtraHost"
  | "DeviceNotFound"
  | "InvalidDevice"
  | "UnknownUser"
  | "UnknownGroup"
  | "InvalidUser"
  | "InvalidUlimit"
  | "InvalidCpuset"
  | "InvalidCpuPeriod"
  | "MissingCpuShare"
  | "InvalidRuntime"
  | "InvalidHostname"
  | "MissingHostFact"

export class SpecError extends Data.TaggedError("SpecError")<{
  readonly reason: SpecErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}

export const specError = (reason: SpecErrorReason, message: string): SpecError => new SpecError({ reason, message })
