/**
 * What the driver reports to Nomad about this node (FingerprintResponse, proto/plugins/drivers/proto/driver.proto):
 * health, a description a user can act on, and `driver.containerd.*` node attributes. Pure: the facts about
 * containerd and the host are gathered elsewhere.
 */
import type { ActiveConfig } from "../config/ActiveConfig.js"
import { FingerprintResponse_HealthState, type FingerprintResponse } from "../gen/plugins/drivers/proto/driver.js"
import type { Attribute } from "../gen/plugins/shared/structs/proto/attribute.js"

export interface ContainerdFacts {
  readonly version: string
  readonly revision: string
  readonly snapshotters: ReadonlyArray<{ readonly id: string; readonly ok: boolean; readonly error?: string }>
  readonly runtimes: ReadonlyArray<string>
}

export type ContainerdProbe =
  | { readonly _tag: "Reachable"; readonly facts: ContainerdFacts }
  /** `message` says what failed and names the socket, e.g. "containerd is not reachable at ...". */
  | { readonly _tag: "Unreachable"; readonly message: string }

const str = (value: string): Attribute => ({ value: { $case: "stringVal", value } , unit: "" })
const int = (value: number): Attribute => ({ value: { $case: "intVal", value: BigInt(value) }, unit: "" })

export const fingerprint = (active: ActiveConfig, probe: ContainerdProbe): FingerprintResponse => {
  const { config } = active
  if (!config.enabled) {
    return {
      attributes: {},
      health: FingerprintResponse_HealthState.UNDETECTED,
      healthDescription: "disabled in the plugin config (enabled = false)",
      err: ""
    }
  }
  const attributes: Record<string, Attribute> = {
    "driver.containerd.address": str(config.containerd_address),
    "driver.containerd.namespace": str(active.namespace),
    "driver.containerd.runtime": str(config.containerd_runtime),
    "driver.containerd.snapshotter": str(config.snapshotter),
    "driver.containerd.cgroup_version": int(active.cgroupVersion)
  }
  if (probe._tag === "Unreachable") {
    return {
      attributes,
      health: FingerprintResponse_HealthState.UNHEALTHY,
      healthDescription: probe.message,
      err: ""
    }
  }
  const { facts } = probe
  attributes["driver.containerd.containerd_version"] = str(facts.version)
  attributes["driver.containerd.containerd_revision"] = str(facts.revision)
  const snapshotter = facts.snapshotters.find((s) => s.id === config.snapshotter)
  const problem = snapshotter === undefined
    ? `snapshotter ${JSON.stringify(config.snapshotter)} is not available in containerd ` +
      `(available: ${facts.snapshotters.filter((s) => s.ok).map((s) => s.id).join(", ") || "none"}); set the plugin option snapshotter`
    : !snapshotter.ok
    ? `snapshotter ${JSON.stringify(config.snapshotter)} failed to initialise in containerd: ${snapshotter.error ?? "unknown error"}`
    : undefined
  return {
    attributes,
    health: problem === undefined ? FingerprintResponse_HealthState.HEALTHY : FingerprintResponse_HealthState.UNHEALTHY,
    healthDescription: problem ?? "Healthy",
    err: ""
  }
}
