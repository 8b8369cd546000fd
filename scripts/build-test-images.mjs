#!/usr/bin/env node
// Builds the integration-test images offline from the host's static busybox and pushes them to the loopback
// registries with the registry v2 push API. Plain Node 20 ESM, no npm dependencies.
//
// Usage: node scripts/build-test-images.mjs [--build-only | --check]
//   (default)     build (or reuse the cache) and push every image whose tag does not already point at the
//                 expected digest
//   --build-only  only build the blobs into the cache
//   --check       build (or reuse the cache) and verify every tag points at the expected digest; exit 1 otherwise
// Environment: TEST_REGISTRY (127.0.0.1:5000), TEST_AUTH_REGISTRY (127.0.0.1:5001), TEST_REGISTRY_USER (testuser),
//   TEST_REGISTRY_PASSWORD (testpassword), TEST_IMAGES_CACHE (<repo>/.cache/test-images), BUSYBOX (/bin/busybox).
//
// Every layer is a gzipped tar with sorted entries, fixed mtime and owners, and every JSON document is serialised
// with a fixed key order, so digests are stable across runs on the same Node (zlib) version.

import { createCipheriv, createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const scriptPath = fileURLToPath(import.meta.url)
const repoRoot = path.resolve(path.dirname(scriptPath), "..")

const MT = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip"
}
const MANIFEST_ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(", ")

// 2024-01-01T00:00:00Z: every tar entry and every history entry carries this time.
const FIXED_MTIME = 1704067200
const FIXED_CREATED = "2024-01-01T00:00:00Z"
const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
const BIG_LAYER_BYTES = 30 * 1024 * 1024

const fail = (message) => {
  process.stderr.write(`build-test-images: error: ${message}\n`)
  process.exit(1)
}

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex")
const jsonBytes = (value) => Buffer.from(JSON.stringify(value), "utf8")

function hostArchitecture() {
  switch (process.arch) {
    case "x64":
      return "amd64"
    case "arm64":
      return "arm64"
    case "arm":
      return "arm"
    default:
      return fail(`unsupported host architecture ${process.arch}`)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Content-addressed blob cache

class BlobStore {
  constructor(dir) {
    this.dir = path.join(dir, "blobs", "sha256")
    fs.mkdirSync(this.dir, { recursive: true })
  }
  pathOf(digest) {
    return path.join(this.dir, digest.replace(/^sha256:/, ""))
  }
  put(buf) {
    const digest = `sha256:${sha256(buf)}`
    const file = this.pathOf(digest)
    if (!fs.existsSync(file) || fs.statSync(file).size !== buf.length) {
      const tmp = `${file}.tmp-${process.pid}`
      fs.writeFileSync(tmp, buf)
      fs.renameSync(tmp, file)
    }
    return { digest, size: buf.length }
  }
  has({ digest, size }) {
    const file = this.pathOf(digest)
    return fs.existsSync(file) && fs.statSync(file).size === size
  }
  read(digest) {
    return fs.readFileSync(this.pathOf(digest))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic ustar writer

const OWNER_NAMES = new Map([
  [0, "root"],
  [1000, "app"]
])

function writeString(header, offset, length, value) {
  const bytes = Buffer.from(value, "utf8")
  if (bytes.length > length) fail(`tar field too long: ${value}`)
  bytes.copy(header, offset)
}

function writeOctal(header, offset, length, value) {
  const digits = value.toString(8).padStart(length - 1, "0")
  if (digits.length > length - 1) fail(`tar numeric field overflow: ${value}`)
  header.write(`${digits}\0`, offset, "ascii")
}

// entry: { path, type: "dir" | "file" | "symlink" | "hardlink", mode, uid, gid, data?, target? }
function tarHeader(entry) {
  const header = Buffer.alloc(512)
  const name = entry.type === "dir" ? `${entry.path}/` : entry.path
  if (Buffer.byteLength(name) > 99) fail(`tar path too long for ustar: ${name}`)
  const typeFlag = { file: "0", hardlink: "1", symlink: "2", dir: "5" }[entry.type]
  const size = entry.type === "file" ? entry.data.length : 0
  writeString(header, 0, 100, name)
  writeOctal(header, 100, 8, entry.mode)
  writeOctal(header, 108, 8, entry.uid)
  writeOctal(header, 116, 8, entry.gid)
  writeOctal(header, 124, 12, size)
  writeOctal(header, 136, 12, FIXED_MTIME)
  header.fill(0x20, 148, 156) // checksum is computed with its own field set to spaces
  header.write(typeFlag, 156, "ascii")
  writeString(header, 157, 100, entry.target ?? "")
  header.write("ustar\0", 257, "ascii")
  header.write("00", 263, "ascii")
  writeString(header, 265, 32, OWNER_NAMES.get(entry.uid) ?? "")
  writeString(header, 297, 32, OWNER_NAMES.get(entry.gid) ?? "")
  writeOctal(header, 329, 8, 0)
  writeOctal(header, 337, 8, 0)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii")
  return header
}

function buildTar(entries) {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
  const written = new Set()
  for (const entry of sorted) {
    if (written.has(entry.path)) fail(`duplicate tar entry ${entry.path}`)
    // a hard link can only be extracted after its target
    if (entry.type === "hardlink" && !written.has(entry.target)) fail(`hard link ${entry.path} sorts before ${entry.target}`)
    written.add(entry.path)
  }
  const chunks = []
  for (const entry of sorted) {
    chunks.push(tarHeader(entry))
    if (entry.type === "file") {
      chunks.push(entry.data)
      const pad = (512 - (entry.data.length % 512)) % 512
      if (pad > 0) chunks.push(Buffer.alloc(pad))
    }
  }
  chunks.push(Buffer.alloc(1024)) // end-of-archive marker
  return Buffer.concat(chunks)
}

const dir = (p, mode = 0o755, uid = 0, gid = 0) => ({ path: p, type: "dir", mode, uid, gid })
const file = (p, data, mode = 0o644, uid = 0, gid = 0) => ({
  path: p,
  type: "file",
  mode,
  uid,
  gid,
  data: Buffer.isBuffer(data) ? data : Buffer.from(data, "utf8")
})
const symlink = (p, target) => ({ path: p, type: "symlink", mode: 0o777, uid: 0, gid: 0, target })
const hardlink = (p, target, mode = 0o644, uid = 0, gid = 0) => ({ path: p, type: "hardlink", mode, uid, gid, target })
// A whiteout is an empty regular file named .wh.<name> next to the path it deletes.
const whiteout = (p) => file(p, "", 0o644)

function makeLayer(store, entries, { gzipLevel = 6 } = {}) {
  const tar = buildTar(entries)
  const gz = gzipSync(tar, { level: gzipLevel })
  const blob = store.put(gz)
  return { ...blob, diffId: `sha256:${sha256(tar)}` }
}

// ---------------------------------------------------------------------------------------------------------------
// Layers

function busyboxLayer(store, busyboxPath) {
  const busybox = fs.readFileSync(busyboxPath)
  const applets = execFileSync(busyboxPath, ["--list-full"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^(bin|sbin|usr\/bin|usr\/sbin)\/[^/]+$/.test(line) && line !== "bin/busybox")
  if (!applets.includes("bin/sh")) fail(`${busyboxPath} --list-full does not list bin/sh; is it busybox?`)
  const passwd = [
    "root:x:0:0:root:/root:/bin/sh",
    "app:x:1000:1000:app:/home/app:/bin/sh",
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
    ""
  ].join("\n")
  const group = ["root:x:0:", "app:x:1000:", "extra:x:2000:app", "nogroup:x:65534:", ""].join("\n")
  const entries = [
    dir("bin"),
    dir("dev"),
    dir("etc"),
    dir("home"),
    dir("home/app", 0o755, 1000, 1000),
    dir("proc", 0o555),
    dir("root", 0o700),
    dir("sbin"),
    dir("sys", 0o555),
    dir("tmp", 0o1777),
    dir("usr"),
    dir("usr/bin"),
    dir("usr/sbin"),
    dir("var"),
    file("bin/busybox", busybox, 0o755),
    file("etc/passwd", passwd),
    file("etc/group", group),
    ...applets.map((applet) => symlink(applet, "/bin/busybox"))
  ]
  return makeLayer(store, entries)
}

// /data with a file, a hard link, a file the next layer deletes, and a directory the next layer makes opaque.
function dataAddLayer(store) {
  return makeLayer(store, [
    dir("data", 0o755, 1000, 1000),
    file("data/a.txt", "a\n", 0o644, 1000, 1000),
    hardlink("data/link-to-a.txt", "data/a.txt", 0o644, 1000, 1000),
    file("data/deleted.txt", "this file is removed by a whiteout in the next layer\n"),
    dir("data/opaque"),
    file("data/opaque/x.txt", "hidden by an opaque whiteout in the next layer\n")
  ])
}

function dataChangeLayer(store) {
  return makeLayer(store, [
    dir("data", 0o755, 1000, 1000),
    whiteout("data/.wh.deleted.txt"),
    file("data/b.txt", "b\n", 0o644, 1000, 1000),
    dir("data/opaque"),
    whiteout("data/opaque/.wh..wh..opq"),
    file("data/opaque/y.txt", "y\n")
  ])
}

// Incompressible, reproducible content: AES-256-CTR keystream with a key derived from the seed.
function randomLayer(store, seed) {
  const key = createHash("sha256").update(`containerd-driver test image seed ${seed}`).digest()
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16))
  const data = Buffer.concat([cipher.update(Buffer.alloc(BIG_LAYER_BYTES)), cipher.final()])
  return makeLayer(store, [dir("data"), file(`data/random-${seed}.bin`, data)], { gzipLevel: 1 })
}

// ---------------------------------------------------------------------------------------------------------------
// Configs, manifests, indexes

function imageConfig({ platform, config, layers, history }) {
  return {
    created: FIXED_CREATED,
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config,
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    history: history.map((h) => ({ created: FIXED_CREATED, ...h }))
  }
}

function manifestDoc(family, configBlob, layers) {
  const oci = family === "oci"
  return {
    schemaVersion: 2,
    mediaType: oci ? MT.ociManifest : MT.dockerManifest,
    config: { mediaType: oci ? MT.ociConfig : MT.dockerConfig, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((layer) => ({
      mediaType: oci ? MT.ociLayerGzip : MT.dockerLayerGzip,
      digest: layer.digest,
      size: layer.size
    }))
  }
}

// Stores config + manifest; returns the manifest descriptor and the blobs it references.
function singleImage(store, family, { platform, config, layers, history }) {
  const configBlob = store.put(jsonBytes(imageConfig({ platform, config, layers, history })))
  const manifest = manifestDoc(family, configBlob, layers)
  const manifestBlob = store.put(jsonBytes(manifest))
  return {
    descriptor: { mediaType: manifest.mediaType, ...manifestBlob },
    blobs: [configBlob, ...layers.map(({ digest, size }) => ({ digest, size }))]
  }
}

const platformString = (p) => [p.os, p.architecture, p.variant].filter(Boolean).join("/")

function buildPlan(store, busyboxPath) {
  const arch = hostArchitecture()
  const hostPlatform = { os: "linux", architecture: arch }
  const base = busyboxLayer(store, busyboxPath)
  const busyboxHistory = [{ created_by: "build-test-images.mjs: /bin/busybox with applet symlinks, passwd, group" }]
  const busyboxConfig = { Env: [DEFAULT_PATH], Cmd: ["sh"], WorkingDir: "/" }
  const images = []
  const single = (registry, repo, family, spec) => {
    const { descriptor, blobs } = singleImage(store, family, spec)
    images.push({ registry, repo, tag: "latest", root: descriptor, children: [], blobs })
  }

  single("anon", "test/busybox", "oci", {
    platform: hostPlatform,
    config: busyboxConfig,
    layers: [base],
    history: busyboxHistory
  })
  single("anon", "test/busybox-docker", "docker", {
    platform: hostPlatform,
    config: busyboxConfig,
    layers: [base],
    history: busyboxHistory
  })
  // Docker Hub's name for it: docker.io/library/busybox resolves here through a hosts.toml mirror entry.
  single("anon", "library/busybox", "oci", {
    platform: hostPlatform,
    config: busyboxConfig,
    layers: [base],
    history: busyboxHistory
  })

  const added = dataAddLayer(store)
  const changed = dataChangeLayer(store)
  single("anon", "test/multilayer", "oci", {
    platform: hostPlatform,
    config: {
      User: "app",
      ExposedPorts: { "8080/tcp": {}, "5353/udp": {} },
      Env: [DEFAULT_PATH, "FOO=bar"],
      Entrypoint: ["/bin/sh", "-c"],
      Cmd: ["echo hello"],
      WorkingDir: "/data",
      Labels: { "org.opencontainers.image.title": "multilayer", "test.containerd-driver/kind": "multilayer" },
      StopSignal: "SIGQUIT"
    },
    layers: [base, added, changed],
    history: [
      ...busyboxHistory,
      { created_by: "ENV FOO=bar", empty_layer: true },
      { created_by: "build-test-images.mjs: add /data/a.txt, /data/deleted.txt, /data/opaque/x.txt" },
      { created_by: "build-test-images.mjs: whiteout /data/deleted.txt, opaque /data/opaque, add /data/b.txt" }
    ]
  })

  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64", variant: "v8" },
    { os: "linux", architecture: "arm", variant: "v7" }
  ]
  for (const family of ["oci", "docker"]) {
    const children = platforms.map((platform) => {
      const name = platformString(platform)
      const { descriptor, blobs } = singleImage(store, family, {
        platform,
        config: { Env: [DEFAULT_PATH, `PLATFORM=${name}`], Cmd: ["sh"], WorkingDir: "/", Labels: { platform: name } },
        layers: [base],
        history: busyboxHistory
      })
      return { descriptor: { ...descriptor, platform }, blobs }
    })
    const index = {
      schemaVersion: 2,
      mediaType: family === "oci" ? MT.ociIndex : MT.dockerList,
      manifests: children.map((child) => child.descriptor)
    }
    const indexBlob = store.put(jsonBytes(index))
    images.push({
      registry: "anon",
      repo: family === "oci" ? "test/multiarch" : "test/multiarch-docker",
      tag: "latest",
      root: { mediaType: index.mediaType, ...indexBlob },
      children: children.map(({ descriptor }) => ({
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size
      })),
      blobs: children.flatMap((child) => child.blobs)
    })
  }

  single("auth", "test/private", "oci", {
    platform: hostPlatform,
    config: { ...busyboxConfig, Labels: { "test.containerd-driver/kind": "private" } },
    layers: [base],
    history: busyboxHistory
  })

  const randoms = [1, 2, 3].map((seed) => randomLayer(store, seed))
  single("anon", "test/big", "oci", {
    platform: hostPlatform,
    config: busyboxConfig,
    layers: [base, ...randoms],
    history: [
      ...busyboxHistory,
      ...randoms.map((_, i) => ({ created_by: `build-test-images.mjs: ${BIG_LAYER_BYTES} bytes of seeded random data (${i + 1})` }))
    ]
  })

  for (const image of images) {
    const seen = new Set()
    image.blobs = image.blobs.filter((blob) => !seen.has(blob.digest) && seen.add(blob.digest))
  }
  return images
}

// Reuses a cached plan when the busybox binary, this script and the host architecture are unchanged.
function loadOrBuildPlan(cacheDir, busyboxPath) {
  if (!fs.existsSync(busyboxPath)) fail(`${busyboxPath} not found (install busybox-static)`)
  const store = new BlobStore(cacheDir)
  const key = createHash("sha256")
    .update(fs.readFileSync(busyboxPath))
    .update(fs.readFileSync(scriptPath))
    .update(`${process.arch} ${process.versions.zlib}`)
    .digest("hex")
    .slice(0, 16)
  const planFile = path.join(cacheDir, `plan-${key}.json`)
  if (fs.existsSync(planFile)) {
    const images = JSON.parse(fs.readFileSync(planFile, "utf8"))
    const complete = images.every((image) =>
      [image.root, ...image.children, ...image.blobs].every((blob) => store.has(blob))
    )
    if (complete) return { store, images }
  }
  const started = Date.now()
  const images = buildPlan(store, busyboxPath)
  fs.writeFileSync(`${planFile}.tmp-${process.pid}`, JSON.stringify(images, null, 2))
  fs.renameSync(`${planFile}.tmp-${process.pid}`, planFile)
  pruneCache(cacheDir, store, images, planFile)
  process.stderr.write(`build-test-images: built blobs into ${cacheDir} in ${Date.now() - started} ms\n`)
  return { store, images }
}

function pruneCache(cacheDir, store, images, planFile) {
  const keep = new Set(images.flatMap((image) => [image.root, ...image.children, ...image.blobs].map((b) => b.digest)))
  for (const name of fs.readdirSync(store.dir)) {
    if (!keep.has(`sha256:${name}`)) fs.rmSync(path.join(store.dir, name), { force: true })
  }
  for (const name of fs.readdirSync(cacheDir)) {
    if (/^plan-.*\.json$/.test(name) && path.join(cacheDir, name) !== planFile) fs.rmSync(path.join(cacheDir, name))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Registry v2 push

class Registry {
  constructor(host, credentials) {
    this.host = host
    this.base = `http://${host}`
    this.authorization = credentials
      ? `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`
      : undefined
  }

  async request(method, urlOrPath, { headers = {}, body } = {}) {
    const url = new URL(urlOrPath, this.base)
    const allHeaders = { ...headers }
    if (this.authorization) allHeaders.Authorization = this.authorization
    let response
    try {
      response = await fetch(url, { method, headers: allHeaders, body, redirect: "manual" })
    } catch (cause) {
      fail(`${method} ${url}: ${cause.cause?.message ?? cause.message} (is the registry running? try scripts/test-env.sh up)`)
    }
    if (response.status === 401) {
      fail(`${method} ${url}: 401 unauthorized — ${this.authorization ? "credentials rejected" : "registry needs credentials"}`)
    }
    return response
  }

  async expect(method, urlOrPath, okStatuses, options) {
    const response = await this.request(method, urlOrPath, options)
    if (!okStatuses.includes(response.status)) {
      const text = await response.text().catch(() => "")
      fail(`${method} ${new URL(urlOrPath, this.base)}: HTTP ${response.status} ${text.slice(0, 500)}`)
    }
    return response
  }

  async manifestDigest(repo, reference) {
    const response = await this.request("HEAD", `/v2/${repo}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT }
    })
    if (response.status === 404) return undefined
    if (response.status !== 200) fail(`HEAD ${this.host}/v2/${repo}/manifests/${reference}: HTTP ${response.status}`)
    return {
      digest: response.headers.get("docker-content-digest") ?? undefined,
      mediaType: response.headers.get("content-type")?.split(";")[0]
    }
  }

  async hasBlob(repo, digest) {
    const response = await this.request("HEAD", `/v2/${repo}/blobs/${digest}`)
    if (response.status === 200) return true
    if (response.status === 404) return false
    return fail(`HEAD ${this.host}/v2/${repo}/blobs/${digest}: HTTP ${response.status}`)
  }

  async pushBlob(repo, digest, data) {
    const started = await this.expect("POST", `/v2/${repo}/blobs/uploads/`, [202])
    const location = started.headers.get("location")
    if (!location) fail(`POST ${this.host}/v2/${repo}/blobs/uploads/ answered 202 without a Location header`)
    const target = new URL(location, this.base)
    target.searchParams.set("digest", digest)
    await this.expect("PUT", target.toString(), [201], {
      headers: { "Content-Type": "application/octet-stream" },
      body: data
    })
  }

  async pushManifest(repo, reference, mediaType, data, expectedDigest) {
    const response = await this.expect("PUT", `/v2/${repo}/manifests/${reference}`, [201], {
      headers: { "Content-Type": mediaType },
      body: data
    })
    const stored = response.headers.get("docker-content-digest")
    if (stored && stored !== expectedDigest) {
      fail(`registry stored ${repo}:${reference} as ${stored}, expected ${expectedDigest}`)
    }
  }
}

async function pushImage(registry, store, image) {
  const present = await registry.manifestDigest(image.repo, image.tag)
  if (present?.digest === image.root.digest) return "present"
  for (const blob of image.blobs) {
    if (!(await registry.hasBlob(image.repo, blob.digest))) {
      await registry.pushBlob(image.repo, blob.digest, store.read(blob.digest))
    }
  }
  for (const child of image.children) {
    await registry.pushManifest(image.repo, child.digest, child.mediaType, store.read(child.digest), child.digest)
  }
  await registry.pushManifest(image.repo, image.tag, image.root.mediaType, store.read(image.root.digest), image.root.digest)
  return "pushed"
}

const totalSize = (image) => [image.root, ...image.children, ...image.blobs].reduce((sum, blob) => sum + blob.size, 0)
const formatSize = (bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`)

async function main() {
  const args = new Set(process.argv.slice(2))
  for (const arg of args) {
    if (!["--build-only", "--check"].includes(arg)) fail(`unknown argument ${arg}`)
  }
  const cacheDir = path.resolve(process.env.TEST_IMAGES_CACHE ?? path.join(repoRoot, ".cache", "test-images"))
  const busyboxPath = process.env.BUSYBOX ?? "/bin/busybox"
  const { store, images } = loadOrBuildPlan(cacheDir, busyboxPath)
  if (args.has("--build-only")) {
    for (const image of images) {
      console.log(`${image.repo}:${image.tag}  ${image.root.digest}  ${image.root.mediaType}  ${formatSize(totalSize(image))}`)
    }
    return
  }
  const registries = {
    anon: new Registry(process.env.TEST_REGISTRY ?? "127.0.0.1:5000"),
    auth: new Registry(process.env.TEST_AUTH_REGISTRY ?? "127.0.0.1:5001", {
      user: process.env.TEST_REGISTRY_USER ?? "testuser",
      password: process.env.TEST_REGISTRY_PASSWORD ?? "testpassword"
    })
  }
  let missing = 0
  for (const image of images) {
    const registry = registries[image.registry]
    let state
    if (args.has("--check")) {
      const present = await registry.manifestDigest(image.repo, image.tag)
      state = present === undefined ? "MISSING" : present.digest === image.root.digest ? "present" : `STALE (${present.digest})`
      if (state !== "present") missing++
    } else {
      state = await pushImage(registry, store, image)
    }
    console.log(
      `${registry.host}/${image.repo}:${image.tag}  ${image.root.digest}  ${image.root.mediaType}  ${formatSize(totalSize(image))}  ${state}`
    )
  }
  if (missing > 0) {
    process.stderr.write(`build-test-images: ${missing} image(s) missing or stale; run scripts/test-env.sh up\n`)
    process.exit(1)
  }
}

await main()
