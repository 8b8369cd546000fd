/**
 * Decoding of Nomad's config bytes: cty values marshalled with msgpack (zclconf/go-cty
 * cty/msgpack/marshal.go), then validated against an option Schema. Absent attributes arrive as nil; numbers in
 * any msgpack int form, as float64, or as a decimal string; map-like options as lists of maps.
 */
import { decode } from "@msgpack/msgpack"
import { Data, Either, ParseResult, Schema } from "effect"

export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly reason: "Malformed" | "Invalid"
  readonly message: string
}> {}

/**
 * The plain JS value of cty msgpack bytes. Empty bytes (Nomad sends none when there is no config)
 * decode to null. Unknown values and stray extension types are rejected: Nomad never sends them.
 */
export const decodeCtyMsgpack = (bytes: Uint8Array): Either.Either<unknown, ConfigError> => {
  if (bytes.length === 0) return Either.right(null)
  return Either.try({
    try: () => normalise(decode(bytes, { useBigInt64: true })),
    catch: (cause) =>
      new ConfigError({
        reason: "Malformed",
        message: `config is not valid cty msgpack: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })
}

/** Unwraps cty's typed-`any` form ([json type, value]) and refuses values cty marks unknown. */
const normalise = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  if (value instanceof Uint8Array) throw new Error("unexpected binary value")
  if (Array.isArray(value)) {
    if (value.length === 2 && value[0] instanceof Uint8Array) return normalise(value[1])
    return value.map(normalise)
  }
  if (value.constructor !== Object) throw new Error("unknown (not yet known) value in config")
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = normalise(v)
  return out
}

/** cty sends every attribute of an object, nil when absent; drop those so defaults apply. */
export const dropNulls = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(dropNulls)
  if (value === null || typeof value !== "object") return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v)
  return out
}

const typeName = (value: unknown): string =>
  Array.isArray(value) ? "a list" : typeof value === "string" ? "a string" : typeof value === "boolean" ? "a bool" : "a number"

/** Decodes config bytes against an option Schema; the error lists every problem by option path. */
export const decodeConfig = <A, I>(
  schema: Schema.Schema<A, I>,
  what: string
) => {
  const decodeValue = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  return (bytes: Uint8Array): Either.Either<A, ConfigError> =>
    Either.flatMap(decodeCtyMsgpack(bytes), (value) =>
      // A config block is a map of options; anything else (which no Nomad client sends) is said so plainly.
      value !== null && (typeof value !== "object" || Array.isArray(value)) ?
        Either.left(new ConfigError({ reason: "Invalid", message: `invalid ${what}: expected a block of options, not ${typeName(value)}` })) :
        decodeValue(dropNulls(value ?? {})).pipe(
          Either.mapLeft((error) => new ConfigError({ reason: "Invalid", message: `invalid ${what}: ${formatIssues(error)}` }))
        )
    )
}

/** `image: is missing; mounts.0.target: expected a string` — short enough for a Nomad task event. */
export const formatIssues = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    // An optional option is `T | undefined` underneath; its "not undefined" branch says nothing useful.
    .filter((issue) => !issue.message.startsWith("Expected undefined, actual"))
    .map((issue) => {
      const path = issue.path.join(".")
      const message = issue._tag === "Unexpected" ? "is not a known option" : issue.message
      return path === "" ? message : `${path}: ${message}`
    })
    .join("; ")
