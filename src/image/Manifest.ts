/**
 * OCI / Docker image documents: media types, descriptors, indexes (manifest lists) and manifests, decoded from
 * the exact bytes fetched from a registry with the structural checks the containerd Go client applies.
 */
import { Data, Either, type ParseResult, Schema } from "effect"
import { describeParseError } from "./SchemaIssue.js"

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerSchema1Manifest: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1SignedManifest: "application/vnd.docker.distribution.manifest.v1+prettyjws"
} as const

export const indexMediaTypes: ReadonlyArray<string> = [MediaType.ociIndex, MediaType.dockerManifestList]
export const manifestMediaTypes: ReadonlyArray<string> = [MediaType.ociManifest, MediaType.dockerManifest]

export const isIndex = (mediaType: string): boolean => indexMediaTypes.includes(mediaType)
export const isManifest = (mediaType: string): boolean => manifestMediaTypes.includes(mediaType)
export const isSchema1 = (mediaType: string): boolean =>
  mediaType === MediaType.dockerSchema1Manifest || mediaType === MediaType.dockerSchema1SignedManifest

/** Accept header for tag resolution, in the Go client's order (schema1 deliberately absent). */
export const resolveAccept: ReadonlyArray<string> = [
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.ociIndex,
  "*/*"
]

/** Go's `maxManifestSize` (4*1048*1048): manifests and indexes larger than this are refused. */
export const MAX_MANIFEST_BYTES = 4 * 1048 * 1048

export const Platform = Schema.Struct({
  architecture: Schema.String,
  os: Schema.String,
  "os.version": Schema.optional(Schema.String),
  "os.features": Schema.optional(Schema.Array(Schema.String)),
  variant: Schema.optional(Schema.String)
}).annotations({ identifier: "platform" })
export type Platform = typeof Platform.Type

export const Descriptor = Schema.Struct({
  mediaType: Schema.String,
  digest: Schema.String,
  size: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  urls: Schema.optional(Schema.Array(Schema.String)),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  platform: Schema.optional(Platform),
  artifactType: Schema.optional(Schema.String),
  data: Schema.optional(Schema.String)
}).annotations({ identifier: "descriptor" })
export type Descriptor = typeof Descriptor.Type

export const ImageIndex = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.optional(Schema.String),
  manifests: Schema.Array(Descriptor),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type ImageIndex = typeof ImageIndex.Type

export const ImageManifest = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.optional(Schema.String),
  config: Descriptor,
  layers: Schema.Array(Descriptor),
  subject: Schema.optional(Descriptor),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type ImageManifest = typeof ImageManifest.Type

export class ManifestError extends Data.TaggedError("ManifestError")<{
  readonly reason: "InvalidJson" | "InvalidShape" | "MediaTypeMismatch" | "Unsupported"
  readonly digest: string
  readonly message: string
  readonly cause?: unknown
}> {}

const decodeJson = (bytes: Uint8Array, digest: string): Either.Either<Record<string, unknown>, ManifestError> => {
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return Either.right(value as Record<string, unknown>)
    }
    return Either.left(
      new ManifestError({ reason: "InvalidJson", digest, message: `${digest} is not a JSON object` })
    )
  } catch (cause) {
    return Either.left(
      new ManifestError({ reason: "InvalidJson", digest, message: `${digest} is not valid UTF-8 JSON`, cause })
    )
  }
}

const checkEmbeddedMediaType = (
  json: Record<string, unknown>,
  expected: string,
  digest: string
): Either.Either<void, ManifestError> =>
  json["mediaType"] !== undefined && json["mediaType"] !== expected ?
    Either.left(
      new ManifestError({
        reason: "MediaTypeMismatch",
        digest,
        message: `${digest} declares media type ${String(json["mediaType"])} but was served as ${expected}`
      })
    ) :
    Either.void

const shapeError = (digest: string, what: string, json: unknown) => (cause: ParseResult.ParseError) =>
  new ManifestError({
    reason: "InvalidShape",
    digest,
    message: `${digest} is not a valid ${what}: ${describeParseError(cause, json)}`,
    cause
  })

/** Decodes an index / manifest list; rejects bodies that carry manifest fields. */
export const decodeIndex = (bytes: Uint8Array, descriptor: Descriptor): Either.Either<ImageIndex, ManifestError> =>
  Either.gen(function*() {
    const json = yield* decodeJson(bytes, descriptor.digest)
    yield* checkEmbeddedMediaType(json, descriptor.mediaType, descriptor.digest)
    if ("config" in json || "layers" in json) {
      return yield* Either.left(
        new ManifestError({
          reason: "InvalidShape",
          digest: descriptor.digest,
          message: `${descriptor.digest} was served as an index but has "config"/"layers" fields`
        })
      )
    }
    return yield* Schema.decodeUnknownEither(ImageIndex)(json).pipe(
      Either.mapLeft(shapeError(descriptor.digest, "image index", json))
    )
  })

/** Decodes an image manifest; rejects bodies that carry index fields. */
export const decodeManifest = (
  bytes: Uint8Array,
  descriptor: Descriptor
): Either.Either<ImageManifest, ManifestError> =>
  Either.gen(function*() {
    const json = yield* decodeJson(bytes, descriptor.digest)
    yield* checkEmbeddedMediaType(json, descriptor.mediaType, descriptor.digest)
    if ("manifests" in json) {
      return yield* Either.left(
        new ManifestError({
          reason: "InvalidShape",
          digest: descriptor.digest,
          message: `${descriptor.digest} was served as a manifest but has a "manifests" field`
        })
      )
    }
    return yield* Schema.decodeUnknownEither(ImageManifest)(json).pipe(
      Either.mapLeft(shapeError(descriptor.digest, "image manifest", json))
    )
  })

/**
 * Works out the media type of a manifest body served without a usable Content-Type: the embedded `mediaType`
 * if any, else the shape (`manifests` → OCI index, `config` → OCI manifest, `schemaVersion: 1` → schema1).
 */
export const sniffMediaType = (bytes: Uint8Array): string | undefined => {
  const json = Either.getOrUndefined(decodeJson(bytes, "manifest"))
  if (json === undefined) return undefined
  if (typeof json["mediaType"] === "string" && json["mediaType"].length > 0) return json["mediaType"]
  if (json["schemaVersion"] === 1) return MediaType.dockerSchema1Manifest
  if (Array.isArray(json["manifests"])) return MediaType.ociIndex
  if (typeof json["config"] === "object" && json["config"] !== null) return MediaType.ociManifest
  return undefined
}
