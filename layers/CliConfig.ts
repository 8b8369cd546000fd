/**
 * The plugin config for the operator commands (doctor, pull, spec): the `config` block of the
 * agent's `plugin "containerd-driver"` stanza written as JSON, decoded with the same Schema the
 * plugin uses and resolved for this host as SetConfig resolves it, so a command sees exactly the
 * namespace, socket and registries the plugin would.
 */
import { Effect, Either, Schema } from "effect"
import { type ActiveConfig, activeConfig } from "../src/config/ActiveConfig.js"
import { dropNulls, formatIssues } from "../src/config/Cty.js"
import { DriverConfig } from "../src/config/DriverConfig.js"
import { readBoundedFile } from "./boundedFile.js"
import { hostCgroupVersion } from "./HostFacts.js"

/** A plugin config of more than this is not a plugin config. */
const maxConfigBytes = 1024 * 1024

const decodePluginConfig = (file: string, text: string): Either.Either<DriverConfig, string> => {
  const json = Either.try(() => JSON.parse(text) as unknown)
  if (Either.isLeft(json)) return Either.left(`cannot read ${file}: ${(json.left as Error).message}`)
  return Schema.decodeUnknownEither(DriverConfig, { errors: "all", onExcessProperty: "error" })(dropNulls(json.right)).pipe(
    Either.mapLeft((error) => `invalid plugin config in ${file}: ${formatIssues(error)}`)
  )
}

/**
 * The plugin config in `file` (the defaults without one) as the plugin would have it in force on this host;
 * the failure is a message for the user. The file is read only if it is a regular file of sensible size.
 */
export const loadActiveConfig = (file: string | undefined): Effect.Effect<ActiveConfig, string> =>
  Effect.gen(function*() {
    if (file === undefined) return activeConfig(Schema.decodeUnknownSync(DriverConfig)({}), hostCgroupVersion())
    const bytes = yield* readBoundedFile(file, maxConfigBytes).pipe(Effect.mapError((error) => error.message))
    const config = yield* decodePluginConfig(file, bytes.toString("utf8"))
    return activeConfig(config, hostCgroupVersion())
  })
