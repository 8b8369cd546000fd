// The HTTPS side of scripts/test-env.sh, checked directly: the token registry challenges with its token service's
// realm and accepts the JWTs that service signs (only for the scopes they grant), anonymous tokens cover library/*
// only, the client-certificate registry refuses a handshake without one, and the hosts dir and the docker.io mirror
// image are in place. Nothing here skips: a missing environment fails.
import * as fs from "node:fs"
import * as https from "node:https"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { tlsEnv } from "../support/tlsRegistries.js"
import { integrationEnv } from "./env.js"

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | ReadonlyArray<string> | undefined>
  readonly body: string
}

const ca = fs.readFileSync(tlsEnv.ca)

const get = (url: string, options: https.RequestOptions = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = https.request(url, { ca, timeout: 5_000, ...options }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }))
    })
    request.on("error", reject)
    request.end()
  })

const token = async (scope: string, user?: string): Promise<string> => {
  const url = `https://${tlsEnv.tokenService}/token?service=containerd-driver-test&scope=${encodeURIComponent(scope)}`
  const headers = user === undefined ? {} : { authorization: `Basic ${Buffer.from(`${user}:${tlsEnv.password}`).toString("base64")}` }
  const answer = await get(url, { headers })
  expect(answer.status).toBe(200)
  return (JSON.parse(answer.body) as { token: string }).token
}

const manifest = (repo: string, bearer: string, registry = tlsEnv.tokenRegistry) =>
  get(`https://${registry}/v2/${repo}/manifests/latest`, {
    method: "HEAD",
    headers: { authorization: `Bearer ${bearer}`, accept: "application/vnd.oci.image.manifest.v1+json" }
  })

describe("the token registry and its token service", () => {
  it("challenges with the token service's realm", async () => {
    const answer = await get(`https://${tlsEnv.tokenRegistry}/v2/`)
    expect(answer.status).toBe(401)
    expect(answer.headers["www-authenticate"]).toBe(`Bearer realm="https://${tlsEnv.tokenService}/token",service="containerd-driver-test"`)
  })

  it("accepts the RS256 JWTs the service signs with the certificate in x5c, for the scopes they grant", async () => {
    const signed = await token("repository:test/busybox:pull", "testuser")
    const header = JSON.parse(Buffer.from(signed.split(".")[0]!, "base64url").toString("utf8")) as { alg: string; x5c: ReadonlyArray<string> }
    expect(header.alg).toBe("RS256")
    expect(header.x5c).toHaveLength(1)
    expect((await manifest("test/busybox", signed)).status).toBe(200)
    const other = await manifest("test/multilayer", signed)
    expect(other.status).toBe(401)
    expect(String(other.headers["www-authenticate"])).toContain(`error="insufficient_scope"`)
  })

  it("gives anonymous tokens for library/* only, and refuses a wrong password", async () => {
    expect((await manifest("library/busybox", await token("repository:library/busybox:pull"))).status).toBe(200)
    expect((await manifest("test/busybox", await token("repository:test/busybox:pull"))).status).toBe(401)
    const wrong = await get(`https://${tlsEnv.tokenService}/token?service=containerd-driver-test&scope=repository:test/busybox:pull`, {
      headers: { authorization: `Basic ${Buffer.from("testuser:wrong").toString("base64")}` }
    })
    expect(wrong.status).toBe(401)
  })
})

describe("the client-certificate registry", () => {
  it("refuses a handshake without a client certificate and answers with one", async () => {
    await expect(get(`https://${tlsEnv.mtlsRegistry}/v2/`)).rejects.toThrow()
    const answer = await get(`https://${tlsEnv.mtlsRegistry}/v2/`, { cert: fs.readFileSync(tlsEnv.clientCert), key: fs.readFileSync(tlsEnv.clientKey) })
    expect(answer.status).toBe(200)
  })
})

describe("the hosts dir and the docker.io mirror image", () => {
  it("mirror docker.io through the anonymous registry and name the test CA for the HTTPS registries", () => {
    expect(fs.readFileSync(path.join(tlsEnv.hostsDir, "docker.io", "hosts.toml"), "utf8")).toContain(`[host."http://${integrationEnv.registry}"]`)
    expect(fs.readFileSync(path.join(tlsEnv.hostsDir, tlsEnv.tokenRegistry, "hosts.toml"), "utf8")).toContain(`ca = "${tlsEnv.ca}"`)
    expect(fs.readFileSync(path.join(tlsEnv.hostsDir, tlsEnv.mtlsRegistry, "hosts.toml"), "utf8")).toContain(`client = [["${tlsEnv.clientCert}"`)
  })

  it("library/busybox is in the anonymous registry, the same image as test/busybox", async () => {
    const digest = async (repo: string) => {
      const response = await fetch(`http://${integrationEnv.registry}/v2/${repo}/manifests/latest`, {
        method: "HEAD",
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" }
      })
      expect(response.status).toBe(200)
      return response.headers.get("docker-content-digest")
    }
    expect(await digest("library/busybox")).toBe(await digest("test/busybox"))
  })
})
