/**
 * The image configuration blob (OCI image-spec config.md, Docker v1 compatible): what a task's process inherits
 * (env, entrypoint, cmd, working dir, user, stop signal, labels, exposed ports), the platform it was built for,
 * and the rootfs diff IDs from which the snapshot chain IDs are computed (config.md, "Layer ChainID").
 */
import { createHash } from "node:crypto"
import { Data, Either, Schema } from "effect"
import * as Digest from "./Digest.js"
import type { Platform } from "./Manifest.js"
import { describeParseError } from "./SchemaIssue.js"

/** The parts of the image config a task uses. Absent fields were not set by the image. */
export interface ImageConfig {
  readonly env: ReadonlyArray<string>
  readonly entrypoint?: ReadonlyArray<string>
  readonly cmd?: ReadonlyArray<string>
  readonly workingDir?: string
  readonly user?: string
  readonly stopSignal?: string
  readonly labels?: Readonly<Record<string, string>>
  /** e.g. `["8080/tcp", "53/udp"]`. */
  readonly exposedPorts?: ReadonlyArray<string>
}

export interface ConfigDocument {
  readonly platform: Platform
  readonly config: ImageConfig
  /** sha256 of each uncompressed layer tar, bottom layer first. */
  readonly diffIds: ReadonlyArray<string>
}

export class ImageConfigError extends Data.TaggedError("ImageConfigError")<{
  readonly digest: string
  readonly message: string
  readonly cause?: unknown
}> {}

const Strings = Schema.NullishOr(Schema.Array(Schema.String))

const RawConfig = Schema.Struct({
  architecture: Schema.optional(Schema.String),
  os: Schema.optional(Schema.String),
  variant: Schema.optional(Schema.String),
  "os.version": Schema.optional(Schema.String),
  config: Schema.optional(Schema.NullOr(Schema.Struct({
    User: Schema.optional(Schema.NullOr(Schema.String)),
    ExposedPorts: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown }))),
    Env: Schema.optional(Strings),
    Entrypoint: Schema.optional(Strings),
    Cmd: Schema.optional(Strings),
    WorkingDir: Schema.optional(Schema.NullOr(Schema.String)),
    Labels: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
    StopSignal: Schema.optional(Schema.NullOr(Schema.String))
  }).annotations({ identifier: "container config" }))),
  rootfs: Schema.Struct({
    type: Schema.String,
    diff_ids: Schema.Array(Schema.String)
  }).annotations({ identifier: "rootfs" })
})

const present = <A>(value: A | null | undefined): value is A => value !== null && value !== undefined

/** Decodes a config blob's bytes (`digest` only names it in errors). */
export const decode = (bytes: Uint8Array, digest: string): Either.Either<ConfigDocument, ImageConfigError> => {
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  } catch (cause) {
    return Either.left(new ImageConfigError({ digest, message: `image config ${digest} is not valid JSON`, cause }))
  }
  return Either.flatMap(
    Either.mapLeft(
      Schema.decodeUnknownEither(RawConfig)(json),
      (cause) =>
        new ImageConfigError({ digest, message: `image config ${digest} is malformed: ${describeParseError(cause, json)}`, cause })
    ),
    (raw) => {
      if (raw.rootfs.type !== "layers") {
        return Either.left(new ImageConfigError({ digest, message: `image config ${digest} has rootfs type ${JSON.stringify(raw.rootfs.type)}, expected "layers"` }))
      }
      const badDiffId = raw.rootfs.diff_ids.find((id) => !id.startsWith("sha256:") || Digest.parse(id)._tag === "None")
      if (badDiffId !== undefined) {
        return Either.left(new ImageConfigError({ digest, message: `image config ${digest} has an invalid diff ID ${JSON.stringify(badDiffId)}` }))
      }
      const c = raw.config ?? {}
      const config: ImageConfig = {
        env: c.Env ?? [],
        ...(present(c.Entrypoint) ? { entrypoint: c.Entrypoint } : {}),
        ...(present(c.Cmd) ? { cmd: c.Cmd } : {}),
        ...(present(c.WorkingDir) && c.WorkingDir !== "" ? { workingDir: c.WorkingDir } : {}),
        ...(present(c.User) && c.User !== "" ? { user: c.User } : {}),
        ...(present(c.StopSignal) && c.StopSignal !== "" ? { stopSignal: c.StopSignal } : {}),
        ...(present(c.Labels) ? { labels: c.Labels } : {}),
        ...(present(c.ExposedPorts) ? { exposedPorts: Object.keys(c.ExposedPorts) } : {})
      }
      const platform: Platform = {
        os: raw.os ?? "",
        architecture: raw.architecture ?? "",
        ...(raw.variant !== undefined && raw.variant !== "" ? { variant: raw.variant } : {}),
        ...(raw["os.version"] !== undefined ? { "os.version": raw["os.version"] } : {})
      }
      return Either.right({ platform, config, diffIds: raw.rootfs.diff_ids })
    }
  )
}

/**
 * Chain IDs of a layer stack: `chain[0] = diffId[0]`, `chain[i] = sha256(chain[i-1] + " " + diffId[i])` over the
 * full `sha256:<hex>` strings. `chain[i]` names the committed snapshot holding layers 0..i.
 */
export const chainIds = (diffIds: ReadonlyArray<string>): ReadonlyArray<string> => {
  const chain: Array<string> = []
  for (const diffId of diffIds) {
    const parent = chain[chain.length - 1]
    chain.push(parent === undefined ? diffId : `sha256:${createHash("sha256").update(`${parent} ${diffId}`).digest("hex")}`)
  }
  return chain
}
