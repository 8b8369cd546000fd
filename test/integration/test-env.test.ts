// The environment from scripts/test-env.sh, checked the way the other integration tests use it: containerd answers,
// the anonymous and the basic-auth loopback registries behave as configured, and every test image is stored with the
// media types, platforms and layer digests the tests rely on. Nothing here skips: a missing environment fails with
// the command that provides it.
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { promisify } from "node:util"
import { gunzipSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { basicAuthorization, integrationEnv, setupHint } from "./env.js"

const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip"
} as const

const manifestAccept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(
  ", "
)

const env = integrationEnv
const credentials = basicAuthorization(env.registryUser, env.registryPassword)
const hostArchitecture = process.arch === "x64" ? "amd64" : process.arch

interface Descriptor {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string }
}
interface Manifest {
  readonly schemaVersion: number
  readonly mediaType?: string
  readonly config: Descriptor
  readonly layers: ReadonlyArray<Descriptor>
}
interface Index {
  readonly schemaVersion: number
  readonly mediaType?: string
  readonly manifests: ReadonlyArray<Descriptor>
}
interface ImageConfig {
  readonly architecture: string
  readonly variant?: string
  readonly os: string
  readonly config: {
    readonly Env?: ReadonlyArray<string>
    readonly Cmd?: ReadonlyArray<string>
    readonly Entrypoint?: ReadonlyArray<string>
    readonly User?: string
    readonly WorkingDir?: string
    readonly StopSignal?: string
    readonly ExposedPorts?: Record<string, unknown>
    readonly Labels?: Record<string, string>
  }
  readonly rootfs: { readonly type: string; readonly diff_ids: ReadonlyArray<string> }
  readonly history?: ReadonlyArray<unknown>
}

interface RegistryResponse {
  readonly url: string
  readonly status: number
  readonly headers: Headers
  readonly body: Buffer
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

async function request(
  host: string,
  path: string,
  options: { readonly method?: "GET" | "HEAD"; readonly accept?: string; readonly authorization?: string } = {}
): Promise<RegistryResponse> {
  const url = `http://${host}${path}`
  const method = options.method ?? "GET"
  const headers: Record<string, string> = {}
  if (options.accept !== undefined) headers["Accept"] = options.accept
  if (options.authorization !== undefined) headers["Authorization"] = options.authorization
  let response: Response
  try {
    response = await fetch(url, { method, headers, signal: AbortSignal.timeout(20_000) })
  } catch (cause) {
    const reason = cause instanceof Error && cause.cause instanceof Error ? cause.cause.message : String(cause)
    throw new Error(`${method} ${url} failed (${reason}): registry not reachable; ${setupHint}`)
  }
  return { url, status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
}

// A 200 response whose body has the digest the registry claims (and, for blobs, the one asked for).
async function fetchVerified(
  host: string,
  path: string,
  options: { readonly accept?: string; readonly authorization?: string; readonly digest?: string } = {}
): Promise<RegistryResponse> {
  const response = await request(host, path, options)
  expect(response.status, `GET ${response.url} should answer 200; ${setupHint}`).toBe(200)
  const claimed = response.headers.get("docker-content-digest")
  if (claimed !== null) expect(sha256(response.body), `digest header of ${response.url}`).toBe(claimed)
  if (options.digest !== undefined) expect(sha256(response.body), `content of ${response.url}`).toBe(options.digest)
  return response
}

const contentType = (response: RegistryResponse): string | undefined =>
  response.headers.get("content-type")?.split(";")[0]?.trim()

const parse = <A>(response: RegistryResponse): A => JSON.parse(response.body.toString("utf8")) as A

const platformName = (p: NonNullable<Descriptor["platform"]>): string =>
  [p.os, p.architecture, p.variant].filter((part) => part !== undefined && part !== "").join("/")

interface SingleImage {
  readonly host: string
  readonly repo: string
  readonly family: "oci" | "docker"
  readonly layers: number
  readonly authorization?: string
}

const singleImages: ReadonlyArray<SingleImage> = [
  { host: env.registry, repo: "test/busybox", family: "oci", layers: 1 },
  { host: env.registry, repo: "test/busybox-docker", family: "docker", layers: 1 },
  { host: env.registry, repo: "test/multilayer", family: "oci", layers: 3 },
  { host: env.registry, repo: "test/big", family: "oci", layers: 4 },
  { host: env.authRegistry, repo: "test/private", family: "oci", layers: 1, authorization: credentials }
]

const expectedTypes = (family: "oci" | "docker") =>
  family === "oci"
    ? { manifest: MediaType.ociManifest, config: MediaType.ociConfig, layer: MediaType.ociLayerGzip }
    : { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig, layer: MediaType.dockerLayerGzip }

async function loadImage(image: Pick<SingleImage, "host" | "repo" | "authorization">, reference = "latest") {
  const auth = image.authorization === undefined ? {} : { authorization: image.authorization }
  const manifestResponse = await fetchVerified(image.host, `/v2/${image.repo}/manifests/${reference}`, {
    accept: manifestAccept,
    ...auth
  })
  const manifest = parse<Manifest>(manifestResponse)
  const configResponse = await fetchVerified(image.host, `/v2/${image.repo}/blobs/${manifest.config.digest}`, {
    digest: manifest.config.digest,
    ...auth
  })
  return { manifestResponse, manifest, config: parse<ImageConfig>(configResponse) }
}

describe("containerd", () => {
  it(`answers at ${env.containerdAddress}`, async () => {
    const run = promisify(execFile)
    const result = await run(
      "ctr",
      ["--address", env.containerdAddress, "--connect-timeout", "2s", "--timeout", "5s", "version"],
      { timeout: 15_000 }
    ).catch((cause: unknown) => {
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new Error(`containerd does not answer at ${env.containerdAddress} (${reason}); ${setupHint}`)
    })
    expect(result.stdout).toMatch(/Server:\s+Version:\s+\S+/)
  })
})

describe("registries", () => {
  it(`anonymous registry ${env.registry} answers GET /v2/ with 200`, async () => {
    const response = await request(env.registry, "/v2/")
    expect(response.status, `GET ${response.url}; ${setupHint}`).toBe(200)
  })

  it(`auth registry ${env.authRegistry} challenges with Basic and answers 401 without credentials`, async () => {
    const response = await request(env.authRegistry, "/v2/")
    expect(response.status, `GET ${response.url} without credentials; ${setupHint}`).toBe(401)
    expect(response.headers.get("www-authenticate") ?? "").toMatch(/^Basic realm=/i)
  })

  it(`auth registry ${env.authRegistry} answers 200 with the test credentials and 401 with a wrong password`, async () => {
    const good = await request(env.authRegistry, "/v2/", { authorization: credentials })
    expect(good.status, `GET ${good.url} as ${env.registryUser}; ${setupHint}`).toBe(200)
    const bad = await request(env.authRegistry, "/v2/", {
      authorization: basicAuthorization(env.registryUser, `${env.registryPassword}-wrong`)
    })
    expect(bad.status).toBe(401)
  })

  it("auth registry refuses the private image's manifest without credentials", async () => {
    const response = await request(env.authRegistry, "/v2/test/private/manifests/latest", {
      method: "HEAD",
      accept: manifestAccept
    })
    expect(response.status).toBe(401)
  })
})

describe("single-platform test images", () => {
  it.each(singleImages)("$repo:latest on $host is a $family manifest with $layers layer(s)", async (image) => {
    const types = expectedTypes(image.family)
    const { manifestResponse, manifest, config } = await loadImage(image)
    expect(contentType(manifestResponse)).toBe(types.manifest)
    expect(manifest.schemaVersion).toBe(2)
    expect(manifest.mediaType).toBe(types.manifest)
    expect(manifest.config.mediaType).toBe(types.config)
    expect(manifest.layers.map((layer) => layer.mediaType)).toEqual(Array(image.layers).fill(types.layer))
    expect(config.os).toBe("linux")
    expect(config.architecture).toBe(hostArchitecture)
    expect(config.rootfs.type).toBe("layers")
    expect(config.rootfs.diff_ids).toHaveLength(image.layers)
  })

  it.each(singleImages.filter((image) => image.repo !== "test/big"))(
    "$repo layers are gzipped tars whose digests and diff_ids match",
    async (image) => {
      const { manifest, config } = await loadImage(image)
      const auth = image.authorization === undefined ? {} : { authorization: image.authorization }
      for (const [i, layer] of manifest.layers.entries()) {
        const blob = await fetchVerified(image.host, `/v2/${image.repo}/blobs/${layer.digest}`, {
          digest: layer.digest,
          ...auth
        })
        expect(blob.body.length).toBe(layer.size)
        expect(sha256(gunzipSync(blob.body))).toBe(config.rootfs.diff_ids[i])
      }
    }
  )

  it("test/busybox runs sh from a PATH that reaches the applets", async () => {
    const { config } = await loadImage({ host: env.registry, repo: "test/busybox" })
    expect(config.config.Cmd).toEqual(["sh"])
    expect(config.config.WorkingDir).toBe("/")
    expect(config.config.Env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  })

  it("test/multilayer carries entrypoint, cmd, user, workdir, stop signal, ports and labels", async () => {
    const { config } = await loadImage({ host: env.registry, repo: "test/multilayer" })
    expect(config.config.Entrypoint).toEqual(["/bin/sh", "-c"])
    expect(config.config.Cmd).toEqual(["echo hello"])
    expect(config.config.Env).toContain("FOO=bar")
    expect(config.config.User).toBe("app")
    expect(config.config.WorkingDir).toBe("/data")
    expect(config.config.StopSignal).toBe("SIGQUIT")
    expect(Object.keys(config.config.ExposedPorts ?? {}).length).toBeGreaterThan(0)
    expect(Object.keys(config.config.Labels ?? {}).length).toBeGreaterThan(0)
  })

  it("test/big is about 90 MB in 4 layers", async () => {
    const { manifest } = await loadImage({ host: env.registry, repo: "test/big" })
    const total = manifest.layers.reduce((sum, layer) => sum + layer.size, 0)
    expect(total).toBeGreaterThan(90_000_000)
    for (const layer of manifest.layers) {
      const head = await request(env.registry, `/v2/test/big/blobs/${layer.digest}`, { method: "HEAD" })
      expect(head.status, `HEAD ${head.url}`).toBe(200)
      expect(Number(head.headers.get("content-length"))).toBe(layer.size)
    }
  })
})

describe("multi-platform test images", () => {
  const indexes = [
    { repo: "test/multiarch", indexType: MediaType.ociIndex, family: "oci" as const },
    { repo: "test/multiarch-docker", indexType: MediaType.dockerList, family: "docker" as const }
  ]

  it.each(indexes)("$repo:latest is an $indexType with linux/amd64, linux/arm64/v8 and linux/arm/v7", async (image) => {
    const response = await fetchVerified(env.registry, `/v2/${image.repo}/manifests/latest`, { accept: manifestAccept })
    expect(contentType(response)).toBe(image.indexType)
    const index = parse<Index>(response)
    expect(index.schemaVersion).toBe(2)
    expect(index.mediaType).toBe(image.indexType)
    const platforms = index.manifests.map((descriptor) =>
      descriptor.platform === undefined ? "(none)" : platformName(descriptor.platform)
    )
    expect([...platforms].sort()).toEqual(["linux/amd64", "linux/arm/v7", "linux/arm64/v8"])
  })

  it.each(indexes)("$repo children are $family manifests whose configs name their own platform", async (image) => {
    const types = expectedTypes(image.family)
    const index = parse<Index>(
      await fetchVerified(env.registry, `/v2/${image.repo}/manifests/latest`, { accept: manifestAccept })
    )
    for (const descriptor of index.manifests) {
      expect(descriptor.mediaType).toBe(types.manifest)
      const platform = descriptor.platform
      if (platform === undefined) throw new Error(`${image.repo}: manifest ${descriptor.digest} has no platform`)
      const { manifestResponse, manifest, config } = await loadImage(
        { host: env.registry, repo: image.repo },
        descriptor.digest
      )
      expect(sha256(manifestResponse.body)).toBe(descriptor.digest)
      expect(manifest.config.mediaType).toBe(types.config)
      expect(config.os).toBe(platform.os)
      expect(config.architecture).toBe(platform.architecture)
      expect(config.variant).toBe(platform.variant)
      expect(config.config.Env).toContain(`PLATFORM=${platformName(platform)}`)
    }
  })
})
