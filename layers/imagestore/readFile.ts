/**
 * Reading one file (e.g. etc/passwd) out of an image without mounting anything: the layer blobs are streamed
 * from the content store (Content.Read), decompressed (gzip or none; zstd is refused clearly) and scanned as tar
 * from the top layer down, honouring whiteouts, opaque directories and symlinks (src/image/LayerLookup.ts).
 */
import * as zlib from "node:zlib"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Either, Option, Stream } from "effect"
import type { ContainerdError, ContainerdService } from "../Containerd.js"
import * as LayerLookup from "../../src/image/LayerLookup.js"
import type { Descriptor } from "../../src/image/Manifest.js"
import * as Tar from "../../src/image/Tar.js"
import { failure, fromTarError, type ImageStoreError } from "./ImageStoreError.js"
import { readStream } from "./contentStore.js"

/** Files larger than this are not read into memory. */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024

type Compression = "gzip" | "none" | "zstd" | "unknown"

const compressionOf = (mediaType: string): Compression => {
  if (/[+.]gzip$/.test(mediaType)) return "gzip"
  if (/[+.]zstd$/.test(mediaType)) return "zstd"
  if (/[.+]tar$/.test(mediaType)) return "none"
  return "unknown"
}

/** The uncompressed tar bytes of a layer blob. */
const layerTar = (
  containerd: ContainerdService,
  image: string,
  layer: Descriptor
): Effect.Effect<Stream.Stream<Uint8Array, ContainerdError | ImageStoreError>, ImageStoreError> => {
  const blob = readStream(containerd, layer.digest)
  switch (compressionOf(layer.mediaType)) {
    case "none":
      return Effect.succeed(blob)
    case "gzip":
      return Effect.succeed(NodeStream.pipeThroughDuplex(
        blob,
        () => zlib.createGunzip(),
        (cause) =>
          failure("read", image, "Corrupt", `layer ${layer.digest} is not valid gzip: ${String(cause)}`, { error: cause })
      ))
    case "zstd":
      return Effect.fail(failure(
        "read",
        image,
        "Unsupported",
        `layer ${layer.digest} is compressed with zstd, which the driver cannot read itself (only gzip and ` +
          "uncompressed layers)"
      ))
    case "unknown":
      return Effect.fail(failure("read", image, "Unsupported", `layer ${layer.digest} has the unknown media type ${layer.mediaType}`))
  }
}

/** What one layer says about `path`. */
const scanLayer = (
  containerd: ContainerdService,
  image: string,
  layer: Descriptor,
  path: string,
  maxBytes: number
): Effect.Effect<LayerLookup.LayerVerdict, ContainerdError | ImageStoreError> =>
  Effect.gen(function*() {
    const scanner = LayerLookup.scanner(path)
    let tooLarge = false
    const decoder = Tar.makeDecoder({
      wantData: (header) => {
        if (!scanner.wantData(header)) return false
        if (header.size <= maxBytes) return true
        tooLarge = true
        return false
      }
    })
    const tar = yield* layerTar(containerd, image, layer)
    yield* Stream.runForEach(tar, (chunk) =>
      Either.match(decoder.write(chunk), {
        onLeft: (error) => Effect.fail(fromTarError(image, layer.digest, error)),
        onRight: (entries) =>
          Effect.sync(() => {
            for (const entry of entries) scanner.observe(entry)
          })
      }))
    const ended = decoder.end()
    if (Either.isLeft(ended)) return yield* fromTarError(image, layer.digest, ended.left)
    const verdict = scanner.verdict()
    if (verdict._tag === "Found" && tooLarge) {
      return yield* failure("read", image, "Unsupported", `/${path} is larger than ${maxBytes} bytes`)
    }
    return verdict
  })

/**
 * The content of `path` in the image whose layers (bottom first) are given, or none when the merged root
 * filesystem has no regular file there.
 */
export const readFile = (
  containerd: ContainerdService,
  image: string,
  layers: ReadonlyArray<Descriptor>,
  path: string,
  maxBytes: number = DEFAULT_MAX_FILE_BYTES
): Effect.Effect<Option.Option<Uint8Array>, ContainerdError | ImageStoreError> =>
  Effect.gen(function*() {
    let target = Tar.normalizePath(path)
    let start = layers.length - 1
    for (let redirects = 0; redirects <= LayerLookup.MAX_REDIRECTS; redirects++) {
      let redirected = false
      for (let index = start; index >= 0 && !redirected; index--) {
        const verdict = yield* scanLayer(containerd, image, layers[index]!, target, maxBytes)
        switch (verdict._tag) {
          case "Found":
            return Option.some(verdict.data)
          case "NotAFile":
          case "Deleted":
            return Option.none()
          case "Absent":
            break
          case "Redirect":
            target = verdict.path
            start = verdict.sameLayer ? index : layers.length - 1
            redirected = true
        }
      }
      if (!redirected) return Option.none()
    }
    return yield* failure("read", image, "Unsupported", `too many levels of symbolic links resolving /${Tar.normalizePath(path)}`)
  })
