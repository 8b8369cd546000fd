/**
 * `containerd-driver doctor`: what the fingerprint would report on this node, with the facts
 * behind it, so an operator can see why the driver is unhealthy without a Nomad agent.
 */
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { dropNulls, formatIssues } from "../src/config/Cty.js"
import { DriverConfig } from "../src/config/DriverConfig.js"
import { FingerprintResponse_HealthState } from "../src/gen/plugins/drivers/proto/driver.js"
import { defaultNamespace, fingerprint } from "../src/plugin/Fingerprint.js"
import * as Containerd from "./Containerd.js"
import { socketPath } from "./containerd/ContainerdError.js"
import { readPluginConfig } from "./CliConfig.js"
import { probeContainerd } from "./Driver.js"
import { hostCgroupVersion } from "./HostFacts.js"
import { pluginName, pluginVersion } from "../src/plugin/Version.js"

/** `io.containerd.runc.v2` → `containerd-shim-runc-v2`, the binary containerd looks up on its PATH. */
export const shimBinary = (runtime: string): string | undefined => {
  const m = /^io\.containerd\.([^.]+)\.(v\d+)$/.exec(runtime)
  return m ? `containerd-shim-${m[1]}-${m[2]}` : undefined
}

const findOnPath = (binary: string): string | undefined =>
  (process.env["PATH"] ?? "").split(":").map((dir) => path.join(dir, binary)).find((file) => fs.existsSync(file))

export const program = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const configAt = args.indexOf("--config")
    if (configAt !== -1 && args[configAt + 1] === undefined) {
      process.stderr.write("--config needs a file name\n")
      return 2
    }
    const decoded = readPluginConfig(configAt === -1 ? undefined : args[configAt + 1])
    if (Either.isLeft(decoded)) {
      process.stderr.write(`${decoded.left}\n`)
      return 2
    }
    const config = decoded.right
    const cgroupVersion = hostCgroupVersion()
    const active = { config, cgroupVersion, namespace: config.namespace ?? defaultNamespace(cgroupVersion) }
    const containerd = yield* Containerd.make({ address: config.containerd_address, namespace: active.namespace })
    const result = yield* probeContainerd(containerd)
    const report = fingerprint(config, active, result)
    const shim = shimBinary(config.containerd_runtime)
    const shimPath = shim && findOnPath(shim)
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
      `health:        ${FingerprintResponse_HealthState[report.health]}: ${report.healthDescription}`
    ]
    process.stdout.write(lines.join("\n") + "\n")
    return report.health === FingerprintResponse_HealthState.HEALTHY ? 0 : 1
  }).pipe(Effect.scoped)
