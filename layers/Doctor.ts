/**
 * `containerd-driver doctor`: what the fingerprint would report on this node, with the facts
 * behind it, so an operator can see why the driver is unhealthy without a Nomad agent.
 */
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import { FingerprintResponse_HealthState } from "../src/gen/plugins/drivers/proto/driver.js"
import { fingerprint } from "../src/plugin/Fingerprint.js"
import * as Containerd from "./Containerd.js"
import { socketPath } from "./containerd/ContainerdError.js"
import { loadActiveConfig } from "./CliConfig.js"
import { probeContainerd } from "./Fingerprinter.js"
import { findOnPath, nodeWarnings, shimBinary } from "./NodeChecks.js"
import { pluginName, pluginVersion } from "../src/plugin/Version.js"
import { policyTable } from "../src/policy/PolicyTable.js"
import { hostsReport } from "./registry/hostsReport.js"

export interface DoctorArgs {
  readonly configFile: string | undefined
  /** Also show which registry hosts a pull of this image would try. */
  readonly image: string | undefined
}

export const program = (args: DoctorArgs) =>
  Effect.gen(function*() {
    const decoded = yield* Effect.either(loadActiveConfig(args.configFile))
    if (Either.isLeft(decoded)) {
      process.stderr.write(`${decoded.left}\n`)
      return 2
    }
    const active = decoded.right
    const { cgroupVersion, config } = active
    const containerd = yield* Containerd.make({ address: config.containerd_address, namespace: active.namespace })
    const result = yield* probeContainerd(containerd)
    const report = fingerprint(active, result)
    const shim = shimBinary(config.containerd_runtime)
    const shimPath = shim && findOnPath(shim)
    const warnings = yield* nodeWarnings(active)
    const lines = [
      `${pluginName} v${pluginVersion}`,
      `socket:        ${config.containerd_address}${fs.existsSync(socketPath(config.containerd_address)) ? "" : " (does not exist)"}`,
      result._tag === "Reachable"
        ? `containerd:    ${result.facts.version} (revision ${result.facts.revision})`
        : `containerd:    not reachable`,
      `namespace:     ${active.namespace}`,
      `cgroup:        v${cgroupVersion}`,
      `runtime:       ${config.containerd_runtime}` +
      (shim === undefined ? "" : shimPath ? ` (${shimPath})` : ` (${shim} not found on this PATH)`),
      `snapshotter:   ${config.snapshotter}`,
      ...(result._tag === "Reachable"
        ? [
          `snapshotters:  ${result.facts.snapshotters.filter((s) => s.ok).map((s) => s.id).join(", ")}` +
          ` (not usable here: ${result.facts.snapshotters.filter((s) => !s.ok).map((s) => s.id).join(", ") || "none"})`
        ]
        : []),
      `health:        ${FingerprintResponse_HealthState[report.health]}: ${report.healthDescription}` +
      (warnings.length === 0 ? "" : ` (${warnings.length} warning${warnings.length === 1 ? "" : "s"})`),
      ...warnings.map((warning) => `warning:       ${warning}`),
      ...(args.image === undefined ? [] : yield* hostsReport(config, args.image)),
      ...policyTable(config).map((line, i) => `${i === 0 ? "policy:" : ""}`.padEnd(15) + line)
    ]
    process.stdout.write(lines.join("\n") + "\n")
    return report.health === FingerprintResponse_HealthState.HEALTHY ? 0 : 1
  }).pipe(Effect.scoped)
