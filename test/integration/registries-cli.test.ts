/**
 * `containerd-driver pull` (the built dist/containerd-driver.cjs) against registries as users have them, all
 * described to it only through a hosts dir (containerd's certs.d): docker.io mirrored by the local registry,
 * offline; an HTTPS registry with a private CA that hands out Bearer tokens; a registry that wants a client
 * certificate. Needs `scripts/test-env.sh up` and a current build (npm run build).
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import { cleanupNamespace, uniqueNamespace } from "../support/containerdContract.js"
import { builtPlugin } from "../support/PluginProcess.js"
import {
  closedPort,
  probeAccount,
  recordingProxy,
  runCli,
  scratchHostsDir,
  tlsEnv,
  tokenRequests
} from "../support/tlsRegistries.js"
import { integrationEnv } from "./env.js"

const namespaces: Array<string> = []
const scratch: Array<string> = []
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-registries-cli-"))

/** A plugin config file for a fresh namespace (so no image is present yet) and this hosts dir. */
const pluginConfig = (hostsDir: string): string => {
  const namespace = uniqueNamespace("cdd-registries")
  namespaces.push(namespace)
  scratch.push(hostsDir)
  const file = path.join(configDir, `${namespace}.json`)
  fs.writeFileSync(file, JSON.stringify({ containerd_address: integrationEnv.containerdAddress, namespace, hosts_dir: hostsDir }))
  return file
}

const pull = (config: string, image: string, user?: { readonly name: string; readonly password: string }) =>
  runCli(
    ["pull", "--config", config, ...(user === undefined ? [] : ["--user", user.name]), image],
    user === undefined ? {} : { CONTAINERD_DRIVER_REGISTRY_PASSWORD: user.password }
  )

/** The digest the local registry holds for `repo:latest`. */
const localDigest = (repo: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const request = http.request(`http://${integrationEnv.registry}/v2/${repo}/manifests/latest`, {
      method: "HEAD",
      headers: { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" }
    }, (response) => {
      response.resume()
      resolve(String(response.headers["docker-content-digest"]))
    })
    request.on("error", reject)
    request.end()
  })

const mirrorOf = (registry: string) => `[host."http://${registry}"]\n  capabilities = ["pull", "resolve"]\n`

beforeAll(() => {
  if (!fs.existsSync(builtPlugin)) throw new Error(`${builtPlugin} is missing: run npm run build first`)
})

afterAll(async () => {
  for (const namespace of namespaces) {
    await Effect.runPromise(
      cleanupNamespace(namespace).pipe(Effect.provide(Containerd.layer({ address: integrationEnv.containerdAddress, namespace })))
    )
  }
  for (const dir of [...scratch, configDir]) fs.rmSync(dir, { recursive: true, force: true })
})

describe("docker.io through a mirror configured only in hosts.toml", () => {
  it("pulls docker.io/library/busybox:latest and busybox offline from the local registry", async () => {
    const digest = await localDigest("library/busybox")
    const hostsDir = scratchHostsDir({ "docker.io": mirrorOf(integrationEnv.registry) })
    for (const image of ["docker.io/library/busybox:latest", "busybox"]) {
      const result = await pull(pluginConfig(hostsDir), image)
      expect(result.stderr).not.toContain("warning")
      expect(result.status).toBe(0)
      // The local registry's digest: Docker Hub's busybox would be another.
      expect(result.stdout).toBe(`docker.io/library/busybox:latest ${digest}\n`)
    }
  }, 120_000)

  it("with the mirror gone, the error names every host tried", async () => {
    const [mirror, server] = [await closedPort(), await closedPort()]
    const config = pluginConfig(scratchHostsDir({
      "docker.io": `server = "https://127.0.0.1:${server}"\n${mirrorOf(`127.0.0.1:${mirror}`)}`
    }))
    const result = await pull(config, "busybox")
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toMatch(new RegExp(
      "^Error in pulling image busybox: no host of docker\\.io could serve docker\\.io/library/busybox:latest; tried in order: " +
        `mirror http://127\\.0\\.0\\.1:${mirror}/v2: cannot reach registry 127\\.0\\.0\\.1:${mirror} .*ECONNREFUSED.*; ` +
        `server https://127\\.0\\.0\\.1:${server}/v2: cannot reach registry 127\\.0\\.0\\.1:${server} .*ECONNREFUSED.*` +
        "; this error is temporary; the pull can be retried \\(temporary: retrying later may succeed\\)\\n$"
    ))
  }, 120_000)

  it("a mirror that fails is reported in the pull's warnings, and the server serves", async () => {
    const mirror = await closedPort()
    const config = pluginConfig(scratchHostsDir({
      "docker.io": `server = "http://${integrationEnv.registry}"\n${mirrorOf(`127.0.0.1:${mirror}`)}`
    }))
    const result = await pull(config, "busybox")
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`docker.io/library/busybox:latest ${await localDigest("library/busybox")}\n`)
    const warnings = result.stderr.split("\n").filter((line) => line.startsWith("warning: "))
    expect(warnings).toEqual([
      `warning: registry mirror http://127.0.0.1:${mirror}/v2 for docker.io failed while pulling docker.io/library/busybox:latest ` +
      `(cannot reach registry 127.0.0.1:${mirror} while pulling docker.io/library/busybox:latest (ECONNREFUSED: connect ECONNREFUSED ` +
      `127.0.0.1:${mirror})); trying server http://${integrationEnv.registry}/v2`
    ])
  }, 120_000)
})

describe("an HTTPS registry with a private CA and Bearer tokens", () => {
  const registry = tlsEnv.tokenRegistry
  const hostsFile = (dir: string) => path.join(dir, registry, "hosts.toml")

  it("pulls with its CA in hosts.toml, fails clearly without it, and pulls with skip_verify", async () => {
    const user = { name: probeAccount(), password: tlsEnv.password }
    const image = `${registry}/test/busybox:latest`
    const withCa = await pull(pluginConfig(scratchHostsDir({ [registry]: `server = "https://${registry}"\nca = "${tlsEnv.ca}"\n` })), image, user)
    expect(withCa.stderr).not.toContain("warning")
    expect(withCa.status).toBe(0)
    expect(withCa.stdout).toBe(`${image} ${await localDigest("test/busybox")}\n`)

    const noCaDir = scratchHostsDir({ [registry]: `server = "https://${registry}"\n` })
    const withoutCa = await pull(pluginConfig(noCaDir), image, user)
    expect(withoutCa.status).toBe(1)
    for (
      const part of [
        `Error in pulling image ${image}: TLS connection to registry ${registry} failed while pulling ${image} (UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
        "subject CN=127.0.0.1; issued by CN=containerd-driver test CA",
        "SHA-256 ",
        `It is not signed by a CA this node trusts: put the certificate of the CA that issued it in a file and name it in ${hostsFile(noCaDir)} as ca = "/path/to/ca.crt"`,
        "skip_verify = true"
      ]
    ) expect(withoutCa.stderr).toContain(part)
    expect(withoutCa.stderr).not.toContain(tlsEnv.password)

    const skip = await pull(pluginConfig(scratchHostsDir({ [registry]: `server = "https://${registry}"\nskip_verify = true\n` })), image, user)
    expect(skip.status).toBe(0)
  }, 120_000)

  it("a loopback HTTPS registry without configuration is asked over HTTP and the error says how to make it HTTPS; Docker's ca.crt does", async () => {
    const image = `${registry}/library/busybox:latest`
    const emptyDir = scratchHostsDir({})
    const plain = await pull(pluginConfig(emptyDir), image)
    expect(plain.status).toBe(1)
    expect(plain.stderr).toContain(
      `Error in pulling image ${image}: registry ${registry} speaks HTTPS but was asked over plain HTTP while pulling ${image}: ` +
        `write server = "https://${registry}" in ${hostsFile(emptyDir)}`
    )
    const legacy = scratchHostsDir({})
    fs.mkdirSync(path.join(legacy, registry))
    fs.copyFileSync(tlsEnv.ca, path.join(legacy, registry, "ca.crt"))
    const result = await pull(pluginConfig(legacy), image)
    expect(result.stderr).not.toContain("Error")
    expect(result.status).toBe(0)
  }, 120_000)

  it("public images get anonymous tokens; private ones need credentials", async () => {
    const config = pluginConfig(scratchHostsDir({ [registry]: `server = "https://${registry}"\nca = "${tlsEnv.ca}"\n` }))
    const anonymous = await pull(config, `${registry}/library/busybox:latest`)
    expect(anonymous.status).toBe(0)
    const denied = await pull(config, `${registry}/test/busybox:latest`)
    expect(denied.status).toBe(1)
    expect(denied.stderr).toContain(
      `Error in pulling image ${registry}/test/busybox:latest: pull access denied, repository does not exist or may require authorization`
    )
    const wrong = await pull(config, `${registry}/test/busybox:latest`, { name: probeAccount(), password: "not-the-password" })
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toContain("pull access denied")
    expect(wrong.stderr).not.toContain("not-the-password")
  }, 120_000)

  it("fetches one token for the pull's scope, and sends the password only to the token service", async () => {
    const proxy = await recordingProxy(registry)
    try {
      const account = probeAccount()
      const image = `${proxy.host}/test/multilayer:latest`
      const config = pluginConfig(scratchHostsDir({ [proxy.host]: `server = "https://${proxy.host}"\nca = "${tlsEnv.ca}"\n` }))
      const result = await pull(config, image, { name: account, password: tlsEnv.password })
      expect(result.status).toBe(0)
      const tokens = await tokenRequests(account)
      expect(tokens).toEqual([{ account, valid: true, scopes: ["repository:test/multilayer:pull"], credentials: "basic", service: "containerd-driver-test", at: expect.any(String) }])
      // The registry saw one request without credentials (answered 401), then only the Bearer token.
      const api = proxy.requests.filter((request) => request.path.startsWith("/v2/test/"))
      expect(api.length).toBeGreaterThan(4)
      expect(api[0]?.authorization).toBeUndefined()
      for (const request of api.slice(1)) expect(request.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
      const basic = Buffer.from(`${account}:${tlsEnv.password}`).toString("base64")
      for (const request of proxy.requests) {
        expect(request.authorization ?? "").not.toContain(basic)
        expect(request.authorization ?? "").not.toContain(tlsEnv.password)
      }
    } finally {
      await proxy.close()
    }
  }, 120_000)
})

describe("a registry that wants a client certificate", () => {
  const registry = tlsEnv.mtlsRegistry
  const image = `${registry}/test/busybox-docker:latest`

  it("pulls with client set in hosts.toml (or Docker's client.cert/client.key), and says what is missing without", async () => {
    const configured = await pull(pluginConfig(scratchHostsDir({
      [registry]: `server = "https://${registry}"\nca = "${tlsEnv.ca}"\nclient = [["${tlsEnv.clientCert}", "${tlsEnv.clientKey}"]]\n`
    })), image)
    expect(configured.status).toBe(0)
    expect(configured.stdout).toBe(`${image} ${await localDigest("test/busybox-docker")}\n`)

    const legacy = scratchHostsDir({})
    fs.mkdirSync(path.join(legacy, registry))
    fs.copyFileSync(tlsEnv.ca, path.join(legacy, registry, "ca.crt"))
    fs.copyFileSync(tlsEnv.clientCert, path.join(legacy, registry, "client.cert"))
    fs.copyFileSync(tlsEnv.clientKey, path.join(legacy, registry, "client.key"))
    expect((await pull(pluginConfig(legacy), image)).status).toBe(0)

    const missingDir = scratchHostsDir({ [registry]: `server = "https://${registry}"\nca = "${tlsEnv.ca}"\n` })
    const missing = await pull(pluginConfig(missingDir), image)
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain(`Error in pulling image ${image}: TLS connection to registry ${registry} failed while pulling ${image}`)
    expect(missing.stderr).toContain(
      `The registry asks for a client certificate: name it and its key in ${path.join(missingDir, registry, "hosts.toml")} as client = `
    )
  }, 120_000)
})
