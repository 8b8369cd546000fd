// Soak: images built to do harm, served by a loopback registry of the test's own, through StartTask of the built
// plugin: a layer whose entries climb out with `..`, name absolute paths, write through symlinks (absolute and
// relative) that point out of the rootfs, and hardlink to a path above the root; a manifest far larger than any real
// one; a config the manifest says is huge; a manifest whose bytes do not match the digest the task names. Each start
// is refused with a clear error or runs with everything inside its rootfs; nothing is written on the host outside
// containerd's own directories, and nothing is left behind.
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { emptyNamespace } from "../support/containerdProbe.js"
import { driverFailure, withHarness } from "../support/driverHarness.js"
import { sha256 } from "../support/fakeImages.js"
import { tar, tarGz } from "../support/tarWriter.js"
import { integrationEnv } from "../integration/env.js"
import { onLoopback, writeFigures } from "./lib/soak.js"

const ociManifest = "application/vnd.oci.image.manifest.v1+json"
const ociConfig = "application/vnd.oci.image.config.v1+json"
const ociLayer = "application/vnd.oci.image.layer.v1.tar+gzip"

const get = (url: string): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    http.get(url, { headers: { accept: ociManifest } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve(Buffer.concat(chunks)))
    }).on("error", reject))

interface Repo {
  /** Manifest bodies by tag or digest. */
  readonly manifests: Map<string, Buffer>
}

/** A registry serving `repos` (name → manifests) and `blobs` (by digest, for every repo). */
const serve = (repos: Map<string, Repo>, blobs: Map<string, Buffer>) =>
  onLoopback(http.createServer((req, res) => {
    if (req.url === "/v2/") return res.end("{}")
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url ?? "")
    const body = m === null ? undefined : m[2] === "blobs" ? blobs.get(m[3]!) : repos.get(m[1]!)?.manifests.get(m[3]!)
    if (body === undefined) {
      res.writeHead(404, { "content-type": "application/json" })
      return res.end(JSON.stringify({ errors: [{ code: m?.[2] === "blobs" ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN", message: "unknown" }] }))
    }
    res.writeHead(200, { "content-type": m![2] === "blobs" ? "application/octet-stream" : ociManifest, "content-length": body.length })
    res.end(req.method === "HEAD" ? undefined : body)
  }))

describe("soak: hostile images", () => {
  it("are refused clearly or kept inside their rootfs; the host is untouched", { timeout: 300_000 }, async () => {
    // Where the hostile layer tries to write, on the host: it must stay empty.
    const marker = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-soak-escape-"))
    const markerRel = marker.replace(/^\/+/, "")
    const up = "../".repeat(12)
    const busyboxBase = `http://${integrationEnv.registry}/v2/test/busybox`
    const busyboxManifest = JSON.parse((await get(`${busyboxBase}/manifests/latest`)).toString()) as {
      config: { digest: string }
      layers: Array<{ mediaType: string; digest: string; size: number }>
    }
    const busyboxConfig = JSON.parse((await get(`${busyboxBase}/blobs/${busyboxManifest.config.digest}`)).toString()) as {
      config: Record<string, unknown>
      rootfs: { type: string; diff_ids: Array<string> }
    }
    const blobs = new Map<string, Buffer>()
    for (const layer of busyboxManifest.layers) blobs.set(layer.digest, await get(`${busyboxBase}/blobs/${layer.digest}`))

    /** Busybox with one more layer on top, and a config that runs `sleep`. */
    const withLayer = (entries: Parameters<typeof tar>[0], configSize?: number) => {
      const raw = Buffer.from(tar(entries))
      const gz = Buffer.from(tarGz(entries))
      blobs.set(sha256(gz), gz)
      const config = Buffer.from(JSON.stringify({
        ...busyboxConfig,
        config: { ...busyboxConfig.config, Cmd: ["sleep", "600"] },
        rootfs: { type: "layers", diff_ids: [...busyboxConfig.rootfs.diff_ids, sha256(raw)] }
      }))
      blobs.set(sha256(config), config)
      return Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: ociManifest,
        config: { mediaType: ociConfig, digest: sha256(config), size: configSize ?? config.length },
        layers: [...busyboxManifest.layers, { mediaType: ociLayer, digest: sha256(gz), size: gz.length }]
      }))
    }
    const escape = withLayer([
      { path: `${up}${markerRel}/dotdot`, data: "climbed\n" },
      { path: `/${markerRel}/absolute`, data: "absolute\n" },
      { path: "abs-link", type: "symlink", linkName: `/${markerRel}` },
      { path: "abs-link/through-absolute-link", data: "link\n" },
      { path: "rel-link", type: "symlink", linkName: `${up}${markerRel}` },
      { path: "rel-link/through-relative-link", data: "link\n" }
    ])
    // A hardlink to a path above the root (resolved inside it, to a file of a lower layer).
    const hardlink = withLayer([{ path: "hard", type: "hardlink", linkName: `${up}etc/passwd` }])
    const harmless = withLayer([{ path: "hello", data: "hi\n" }])
    // Valid JSON, 64 MiB: an annotation no registry would ever carry.
    const huge = Buffer.from(JSON.stringify({ ...JSON.parse(harmless.toString()), annotations: { pad: "x".repeat(64 << 20) } }))
    const hugeConfig = withLayer([{ path: "hello", data: "hi\n" }], 1 << 30)
    // The bytes served for the digest the task names are not those bytes: one more space.
    const liar = Buffer.concat([harmless, Buffer.from(" ")])
    const repos = new Map<string, Repo>([
      ["hostile/escape", { manifests: new Map([["latest", escape]]) }],
      ["hostile/hardlink", { manifests: new Map([["latest", hardlink]]) }],
      ["hostile/huge-manifest", { manifests: new Map([["latest", huge]]) }],
      ["hostile/huge-config", { manifests: new Map([["latest", hugeConfig]]) }],
      ["hostile/liar", { manifests: new Map([[sha256(harmless), liar]]) }]
    ])
    // Each manifest is served by its digest too, as the driver fetches it after resolving the tag (the liar's is not).
    for (const [name, repo] of repos) if (name !== "hostile/liar") for (const body of [...repo.manifests.values()]) repo.manifests.set(sha256(body), body)
    const registry = await serve(repos, blobs)
    const cases = [
      { name: "layer escapes: .., absolute paths, writes through symlinks out", image: `${registry.host}/hostile/escape:latest`, says: /./ },
      { name: "layer hardlinks to ../../etc/passwd", image: `${registry.host}/hostile/hardlink:latest`, says: /link|passwd/ },
      { name: "manifest of 64 MiB", image: `${registry.host}/hostile/huge-manifest:latest`, says: /larger than \d+ bytes/ },
      { name: "config of 1 GiB (as its manifest says)", image: `${registry.host}/hostile/huge-config:latest`, says: /at most \d+ are accepted/ },
      { name: "manifest not matching the digest named", image: `${registry.host}/hostile/liar@${sha256(harmless)}`, says: /match|digest/i }
    ]
    const outcomes: Array<Record<string, unknown>> = []
    try {
      for (const c of cases) {
        await withHarness({ prefix: "cdd-soak-hostile", containerdAddress: integrationEnv.containerdAddress }, async (h) => {
          const { config } = h.prepare({ config: { image: c.image, image_pull_timeout: "60s" } })
          const outcome: Record<string, unknown> = { case: c.name }
          try {
            await h.driver().start(config)
            outcome["start"] = "ran"
            // What the layer wrote, as the task sees it: inside its own rootfs.
            const inside = await h.exec(config.id, ["sh", "-c", `find /${markerRel} -xdev 2>/dev/null | sort; ls -ld /abs-link /rel-link /hard 2>/dev/null`])
            outcome["insideRootfs"] = inside.stdout.trim().split("\n")
            await h.driver().destroy(config.id)
          } catch (error) {
            const failure = driverFailure(error)
            outcome["start"] = "refused"
            outcome["message"] = failure.message
            outcome["recoverable"] = failure.recoverable
            outcome["clear"] = c.says.test(failure.message) && !/TypeError|RangeError|\n\s+at |undefined/.test(failure.message)
            await h.driver().destroy(config.id).catch(() => {})
          }
          outcome["onHost"] = fs.readdirSync(marker)
          outcome["left"] = await h.probe.state()
          outcomes.push(outcome)
        })
      }
    } finally {
      await registry.close()
    }
    const hostPasswdIntact = fs.readFileSync("/etc/passwd", "utf8").startsWith("root:")
    fs.rmSync(marker, { recursive: true, force: true })
    writeFigures("hostile-images", { outcomes, hostPasswdIntact })
    for (const o of outcomes) {
      expect({ case: o["case"], onHost: o["onHost"], left: o["left"] }).toEqual({ case: o["case"], onHost: [], left: emptyNamespace })
      if (o["start"] === "refused") expect({ case: o["case"], clear: o["clear"] }).toEqual({ case: o["case"], clear: true })
    }
    // The three refusals the driver owes whatever containerd does.
    expect(outcomes.slice(2).map((o) => o["start"])).toEqual(["refused", "refused", "refused"])
    expect(hostPasswdIntact).toBe(true)
  })
})
