/**
 * The plugin config for the operator commands (doctor, pull, spec): the `config` block of the
 * agent's `plugin "containerd-driver"` stanza written as JSON, decoded with the same Schema the
 * plugin uses, so a command sees exactly the namespace, socket and registries the plugin would.
 */
import { Either, Schema } from "effect"
import * as fs from "node:fs"
import { dropNulls, formatIssues } from "../src/config/Cty.js"
import { DriverConfig } from "../src/config/DriverConfig.js"
import { defaultNamespace } from "../src/plugin/Fingerprint.js"
import { hostCgroupVersion } from "./HostFacts.js"

/** The plugin config in `file`, or the defaults without one; Left is a message for the user. */
export const readPluginConfig = (file: string | undefined): Either.Either<DriverConfig, string> => {
  if (file === undefined) return Either.right(Schema.decodeUnknownSync(DriverConfig)({}))
  let json: unknown
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    return Either.left(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
  return Schema.decodeUnknownEither(DriverConfig, { errors: "all", onExcessProperty: "error" })(dropNulls(json)).pipe(
    Either.mapLeft((error) => `invalid plugin config in ${file}: ${formatIssues(error)}`)
  )
}

/** The containerd namespace the plugin would use with this config on this host. */
export const pluginNamespace = (config: DriverConfig): string => config.namespace ?? defaultNamespace(hostCgroupVersion())
