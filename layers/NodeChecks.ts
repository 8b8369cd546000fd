/**
 * Problems with the plugin config on this node that do not stop it from loading — the original driver only
 * logged them, and a config that loaded there must load here — each a message the operator can act on. The
 * plugin logs them at SetConfig; `doctor` prints them.
 */
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ActiveConfig } from "../src/config/ActiveConfig.js"
import { configWarnings } from "../src/config/DriverConfig.js"
import { parseRuntime } from "../src/oci/Spec.js"

/** `io.containerd.runc.v2` → `containerd-shim-runc-v2`, the binary containerd looks up on its PATH. */
export const shimBinary = (runtime: string): string | undefined => {
  const m = /^io\.containerd\.([^.]+)\.(v\d+)$/.exec(runtime)
  return m ? `containerd-shim-${m[1]}-${m[2]}` : undefined
}

/** Where containerd (started by systemd with a default PATH) and its shims find binaries, beside our own PATH. */
const searchPath = (): ReadonlyArray<string> => [
  ...new Set([...(process.env["PATH"] ?? "").split(":"), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
].filter((dir) => dir !== "")

/** Whether a file exists on the node: the real file system, or a described node in tests. */
export type FileExists = (file: string) => boolean

export const findOnPath = (binary: string, exists: FileExists = fs.existsSync): string | undefined =>
  searchPath().map((dir) => path.join(dir, binary)).find(exists)

/** Why the configured runtime would not run here, if it would not. */
const runtimeWarning = (active: ActiveConfig, exists: FileExists): ReadonlyArray<string> => {
  const parsed = parseRuntime(active.config.containerd_runtime, "containerd_runtime")
  if (Either.isLeft(parsed)) return [parsed.left.message]
  const runtime = parsed.right
  const option = `containerd_runtime ${JSON.stringify(active.config.containerd_runtime)}`
  if (runtime.name.startsWith("/")) {
    return exists(runtime.name) ? [] : [`${option}: there is no shim binary at ${runtime.name}; tasks will fail to start`]
  }
  const shim = shimBinary(runtime.name)
  const missing: Array<string> = []
  if (shim !== undefined && findOnPath(shim, exists) === undefined) {
    missing.push(`${option}: containerd runs it with ${shim}, which is not on this node's PATH; tasks will fail to start`)
  }
  if (runtime.binaryName !== undefined && findOnPath(runtime.binaryName, exists) === undefined) {
    missing.push(
      `${option}: the runc shim would run the binary ${runtime.binaryName}, which is not on this node's PATH; tasks will fail to start`
    )
  }
  return missing
}

const authConfigWarning = (active: ActiveConfig, exists: FileExists): ReadonlyArray<string> => {
  const file = active.config.auth?.config
  if (file === undefined || file === "") return []
  return exists(file) ? [] : [`auth.config ${JSON.stringify(file)} does not exist; registry credentials from it are not available`]
}

export const nodeWarnings = (active: ActiveConfig, exists: FileExists = fs.existsSync): Effect.Effect<ReadonlyArray<string>> =>
  Effect.sync(() => [...configWarnings(active.config), ...runtimeWarning(active, exists), ...authConfigWarning(active, exists)])
