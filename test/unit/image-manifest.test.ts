// The registry documents as bytes: image manifests and indexes (src/image/Manifest.ts), the image config blob
// (src/image/ImageConfig.ts) and digest strings (src/image/Digest.ts). What is refused and with which message, what
// a body served without a usable Content-Type is taken for, and which config fields count as set.
// Media types and field names are written out from the OCI image-spec (manifest.md, image-index.md, config.md,
// descriptor.md) and Docker's image manifest v2 schema 2; nothing expected here comes from the modules under test.
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as Digest from "../../src/image/Digest.js"
import * as ImageConfig from "../../src/image/ImageConfig.js"
import * as Manifest from "../../src/image/Manifest.js"

const OCI_INDEX = "application/vnd.oci.image.index.v1+json"
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
const DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

/** The digest the document was fetched by; decoding only names it in messages. */
const DIGEST = `sha256:${"d".repeat(64)}`

const bytes = (text: string) => new TextEncoder().encode(text)
const json = (value: unknown) => bytes(JSON.stringify(value))
/** `text` with one byte that can never occur in UTF-8 (0xFF) in place of `@`. */
const withInvalidUtf8 = (text: string): Uint8Array => {
  const [before = "", after = ""] = text.split("@")
  return new Uint8Array([...bytes(before), 0xff, ...bytes(after)])
}

const served = (mediaType: string): Manifest.Descriptor => ({ mediaType, digest: DIGEST, size: 1000 })

const config = { mediaType: OCI_CONFIG, digest: `sha256:${"c".repeat(64)}`, size: 7023 }
const layer = { mediaType: OCI_LAYER, digest: `sha256:${"1".repeat(64)}`, size: 32654 }
const ociManifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }
const ociIndex = {
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  manifests: [{ mediaType: OCI_MANIFEST, digest: `sha256:${"e".repeat(64)}`, size: 7143, platform: { architecture: "amd64", os: "linux" } }]
}

const refusal = <A>(result: Either.Either<A, Manifest.ManifestError>) =>
  Either.isLeft(result) ? { reason: result.left.reason, message: result.left.message } : "decoded"

describe("Manifest.decodeManifest / decodeIndex: the body must be a JSON object", () => {
  for (const body of ["null", "[]", "[{\"schemaVersion\":2}]", "5", "\"manifest\"", "true"]) {
    it(`refuses ${body} as not a JSON object`, () => {
      const expected = { reason: "InvalidJson", message: `${DIGEST} is not a JSON object` }
      expect(refusal(Manifest.decodeManifest(bytes(body), served(OCI_MANIFEST)))).toEqual(expected)
      expect(refusal(Manifest.decodeIndex(bytes(body), served(OCI_INDEX)))).toEqual(expected)
    })
  }

  it("refuses a body that is not JSON", () => {
    const expected = { reason: "InvalidJson", message: `${DIGEST} is not valid UTF-8 JSON` }
    expect(refusal(Manifest.decodeManifest(bytes("<html>not found</html>"), served(OCI_MANIFEST)))).toEqual(expected)
    expect(refusal(Manifest.decodeIndex(bytes("{\"schemaVersion\":2,"), served(OCI_INDEX)))).toEqual(expected)
  })

  it("refuses bytes that are not UTF-8 even where JSON would parse them (inside a string)", () => {
    const manifest = withInvalidUtf8(JSON.stringify({ ...ociManifest, annotations: { "org.opencontainers.image.title": "@" } }))
    const index = withInvalidUtf8(JSON.stringify({ ...ociIndex, annotations: { "org.opencontainers.image.title": "@" } }))
    const expected = { reason: "InvalidJson", message: `${DIGEST} is not valid UTF-8 JSON` }
    expect(refusal(Manifest.decodeManifest(manifest, served(OCI_MANIFEST)))).toEqual(expected)
    expect(refusal(Manifest.decodeIndex(index, served(OCI_INDEX)))).toEqual(expected)
  })
})

describe("Manifest: the embedded mediaType against the one it was served as", () => {
  it("accepts a document without an embedded mediaType (optional in the OCI image-spec)", () => {
    const { mediaType: _m, ...manifest } = ociManifest
    const { mediaType: _i, ...index } = ociIndex
    const decodedManifest = Manifest.decodeManifest(json(manifest), served(OCI_MANIFEST))
    expect(Either.isRight(decodedManifest) && decodedManifest.right.layers.map((l) => l.digest)).toEqual([layer.digest])
    const decodedIndex = Manifest.decodeIndex(json(index), served(OCI_INDEX))
    expect(Either.isRight(decodedIndex) && decodedIndex.right.manifests.length).toBe(1)
  })

  it("refuses a document whose embedded mediaType differs, naming both", () => {
    expect(refusal(Manifest.decodeManifest(json(ociManifest), served(DOCKER_MANIFEST)))).toEqual({
      reason: "MediaTypeMismatch",
      message: `${DIGEST} declares media type application/vnd.oci.image.manifest.v1+json but was served as ` +
        "application/vnd.docker.distribution.manifest.v2+json"
    })
    expect(refusal(Manifest.decodeIndex(json(ociIndex), served(DOCKER_LIST)))).toEqual({
      reason: "MediaTypeMismatch",
      message: `${DIGEST} declares media type application/vnd.oci.image.index.v1+json but was served as ` +
        "application/vnd.docker.distribution.manifest.list.v2+json"
    })
  })
})

describe("Manifest: an index must not carry manifest fields and a manifest no index field", () => {
  const asIndex = {
    reason: "InvalidShape",
    message: `${DIGEST} was served as an index but has "config"/"layers" fields`
  }

  it("refuses an otherwise valid index that also has \"layers\"", () => {
    expect(refusal(Manifest.decodeIndex(json({ ...ociIndex, layers: [] }), served(OCI_INDEX)))).toEqual(asIndex)
  })

  it("refuses an otherwise valid index that also has \"config\"", () => {
    expect(refusal(Manifest.decodeIndex(json({ ...ociIndex, config }), served(OCI_INDEX)))).toEqual(asIndex)
  })

  it("refuses an otherwise valid manifest that also has \"manifests\"", () => {
    expect(refusal(Manifest.decodeManifest(json({ ...ociManifest, manifests: [] }), served(OCI_MANIFEST)))).toEqual({
      reason: "InvalidShape",
      message: `${DIGEST} was served as a manifest but has a "manifests" field`
    })
  })

  it("says which kind of document failed its schema", () => {
    expect(refusal(Manifest.decodeIndex(json({ ...ociIndex, schemaVersion: 1 }), served(OCI_INDEX)))).toEqual({
      reason: "InvalidShape",
      message: `${DIGEST} is not a valid image index: schemaVersion: Expected 2, actual 1`
    })
    expect(refusal(Manifest.decodeManifest(json({ ...ociManifest, schemaVersion: 1 }), served(OCI_MANIFEST)))).toEqual({
      reason: "InvalidShape",
      message: `${DIGEST} is not a valid image manifest: schemaVersion: Expected 2, actual 1`
    })
  })
})

describe("Manifest.sniffMediaType (a body served without a usable Content-Type)", () => {
  it("takes a non-empty embedded mediaType over the shape", () => {
    const dockerManifest = { ...ociManifest, mediaType: DOCKER_MANIFEST }
    expect(Manifest.sniffMediaType(json(dockerManifest))).toBe(DOCKER_MANIFEST)
    expect(Manifest.sniffMediaType(json({ ...ociIndex, mediaType: DOCKER_LIST }))).toBe(DOCKER_LIST)
  })

  it("goes by the shape when mediaType is absent, empty or not a string", () => {
    const { mediaType: _i, ...index } = ociIndex
    const { mediaType: _m, ...manifest } = ociManifest
    expect(Manifest.sniffMediaType(json(index))).toBe(OCI_INDEX)
    expect(Manifest.sniffMediaType(json({ ...index, mediaType: "" }))).toBe(OCI_INDEX)
    expect(Manifest.sniffMediaType(json({ ...index, mediaType: 2 }))).toBe(OCI_INDEX)
    expect(Manifest.sniffMediaType(json(manifest))).toBe(OCI_MANIFEST)
    expect(Manifest.sniffMediaType(json({ ...manifest, mediaType: "" }))).toBe(OCI_MANIFEST)
    expect(Manifest.sniffMediaType(json({ schemaVersion: 1, name: "library/busybox", tag: "latest", fsLayers: [] }))).toBe(
      DOCKER_SCHEMA1
    )
  })

  it("recognises nothing in a body without a known shape", () => {
    expect(Manifest.sniffMediaType(json({ schemaVersion: 2 }))).toBeUndefined()
    expect(Manifest.sniffMediaType(json({ schemaVersion: 2, config: null, layers: [] }))).toBeUndefined()
    expect(Manifest.sniffMediaType(json({ schemaVersion: 2, config: "sha256:abc" }))).toBeUndefined()
    expect(Manifest.sniffMediaType(json({ schemaVersion: 2, manifests: {} }))).toBeUndefined()
    expect(Manifest.sniffMediaType(json([ociManifest]))).toBeUndefined()
    expect(Manifest.sniffMediaType(bytes("null"))).toBeUndefined()
  })
})

describe("Manifest.isSchema1", () => {
  it("knows both Docker schema 1 media types, signed and unsigned, and nothing else", () => {
    expect(Manifest.isSchema1(DOCKER_SCHEMA1)).toBe(true)
    expect(Manifest.isSchema1(DOCKER_SCHEMA1_SIGNED)).toBe(true)
    expect(Manifest.isSchema1(DOCKER_MANIFEST)).toBe(false)
    expect(Manifest.isSchema1(OCI_MANIFEST)).toBe(false)
  })
})

describe("Digest.isWellFormed / parse", () => {
  const hex64 = "0123456789abcdef".repeat(4)

  it("needs the algorithm:hex separator", () => {
    expect(Digest.isWellFormed(`sha256:${hex64}`)).toBe(true)
    // Without the separator even a string that reads as algorithm + hex when cut one short is not a digest.
    expect(Digest.isWellFormed("abcdef0123456789".repeat(4))).toBe(false)
    expect(Digest.isWellFormed(`sha256${hex64}`)).toBe(false)
  })

  it("parses a supported algorithm with lowercase hex of exactly its length", () => {
    expect(Digest.parse(`sha256:${hex64}`)).toEqual(Option.some({ algorithm: "sha256", hex: hex64 }))
    const hex96 = "0123456789abcdef".repeat(6)
    expect(Digest.parse(`sha384:${hex96}`)).toEqual(Option.some({ algorithm: "sha384", hex: hex96 }))
  })

  it("refuses hex of another length than the algorithm's", () => {
    expect(Digest.parse(`sha256:${hex64.slice(1)}`)).toEqual(Option.none())
    expect(Digest.parse(`sha256:${hex64}0`)).toEqual(Option.none())
    expect(Digest.parse(`sha384:${hex64}`)).toEqual(Option.none())
    expect(Digest.parse(`sha512:${hex64}`)).toEqual(Option.none())
  })

  it("refuses a character outside lowercase hex anywhere in the hex", () => {
    expect(Digest.parse(`sha256:A${hex64.slice(1)}`)).toEqual(Option.none())
    expect(Digest.parse(`sha256:${hex64.slice(1)}F`)).toEqual(Option.none())
    expect(Digest.parse(`sha256:${hex64.slice(0, 30)}g${hex64.slice(31)}`)).toEqual(Option.none())
  })
})

describe("ImageConfig.decode", () => {
  const CFG = "sha256:cfg"
  const DIFF_A = `sha256:${"a".repeat(64)}`
  const DIFF_B = `sha256:${"b".repeat(64)}`
  const rootfs = { type: "layers", diff_ids: [DIFF_A, DIFF_B] }
  const decoded = (document: unknown) =>
    Either.getOrThrowWith(ImageConfig.decode(json(document), CFG), (e) => new Error(e.message))
  const refused = (body: Uint8Array) => {
    const result = ImageConfig.decode(body, CFG)
    return Either.isLeft(result) ? result.left.message : "decoded"
  }

  it("refuses a blob that is not JSON, or not UTF-8", () => {
    expect(refused(bytes("{\"rootfs\":"))).toBe("image config sha256:cfg is not valid JSON")
    expect(refused(withInvalidUtf8(JSON.stringify({ architecture: "amd64", os: "linux", author: "@", rootfs }))))
      .toBe("image config sha256:cfg is not valid JSON")
  })

  it("refuses a rootfs type other than \"layers\" (config.md: must be set to layers)", () => {
    expect(refused(json({ os: "linux", architecture: "amd64", rootfs: { type: "overlay", diff_ids: [] } }))).toBe(
      "image config sha256:cfg has rootfs type \"overlay\", expected \"layers\""
    )
  })

  it("refuses diff IDs that are not sha256 digests", () => {
    const sha512 = `sha512:${"a".repeat(128)}`
    expect(refused(json({ os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: [DIFF_A, sha512] } })))
      .toBe(`image config sha256:cfg has an invalid diff ID "${sha512}"`)
    const short = `sha256:${"a".repeat(63)}`
    expect(refused(json({ os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: [short, DIFF_B] } })))
      .toBe(`image config sha256:cfg has an invalid diff ID "${short}"`)
  })

  it("keeps every field the image sets, and the diff IDs in order", () => {
    const document = decoded({
      architecture: "arm",
      os: "linux",
      variant: "v7",
      config: {
        User: "nobody",
        ExposedPorts: { "8080/tcp": {}, "53/udp": {} },
        Env: ["PATH=/usr/bin"],
        Entrypoint: ["/bin/sh", "-c"],
        Cmd: ["echo hi"],
        WorkingDir: "/srv",
        Labels: { "org.opencontainers.image.title": "demo" },
        StopSignal: "SIGQUIT"
      },
      rootfs
    })
    expect(document).toStrictEqual({
      platform: { os: "linux", architecture: "arm", variant: "v7" },
      config: {
        env: ["PATH=/usr/bin"],
        entrypoint: ["/bin/sh", "-c"],
        cmd: ["echo hi"],
        workingDir: "/srv",
        user: "nobody",
        stopSignal: "SIGQUIT",
        labels: { "org.opencontainers.image.title": "demo" },
        exposedPorts: ["8080/tcp", "53/udp"]
      },
      diffIds: [DIFF_A, DIFF_B]
    })
  })

  it("treats null fields (as Docker writes unset ones) as not set", () => {
    const document = decoded({
      architecture: "amd64",
      os: "linux",
      config: {
        User: null,
        ExposedPorts: null,
        Env: null,
        Entrypoint: null,
        Cmd: null,
        WorkingDir: null,
        Labels: null,
        StopSignal: null
      },
      rootfs
    })
    expect(document.config).toStrictEqual({ env: [] })
  })

  it("treats an empty working dir, user and stop signal as not set", () => {
    const document = decoded({
      architecture: "amd64",
      os: "linux",
      config: { WorkingDir: "", User: "", StopSignal: "" },
      rootfs
    })
    expect(document.config).toStrictEqual({ env: [] })
  })

  it("reads a config without a config section as setting nothing", () => {
    expect(decoded({ architecture: "amd64", os: "linux", rootfs }).config).toStrictEqual({ env: [] })
    expect(decoded({ architecture: "amd64", os: "linux", config: null, rootfs }).config).toStrictEqual({ env: [] })
  })

  it("takes the platform from architecture, os, variant and os.version, leaving out an empty variant", () => {
    expect(decoded({ architecture: "amd64", os: "windows", "os.version": "10.0.17763.1040", rootfs }).platform)
      .toStrictEqual({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.1040" })
    expect(decoded({ architecture: "amd64", os: "linux", variant: "", rootfs }).platform)
      .toStrictEqual({ os: "linux", architecture: "amd64" })
    expect(decoded({ architecture: "arm64", os: "linux", variant: "v8", rootfs }).platform)
      .toStrictEqual({ os: "linux", architecture: "arm64", variant: "v8" })
  })

  it("reads a missing os or architecture as empty", () => {
    expect(decoded({ rootfs }).platform).toStrictEqual({ os: "", architecture: "" })
  })
})
