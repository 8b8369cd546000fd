/**
 * The built executable (`containerd-driver pull` and `spec`, and the plugin's StartTask) against the hostile inputs of
 * issue 8, items 2–4: a
 * token service answering a token with CR/LF, references with ports outside 1–65535, and a plain-HTTP Bearer realm
 * at another host. Each run must end within a bounded time with a clear error (no TypeError, no stack trace), and
 * for item 4 no Authorization header may reach the other host. Reads dist/containerd-driver.cjs; builds nothing.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { cleanupNamespace, uniqueNamespace } from "../support/containerdContract.js"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { builtPlugin } from "../support/PluginProcess.js"
import { integrationEnv } from "./env.js"

const namespace = uniqueNamespace("cdd-hostile")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-hostile-"))
const configFile = path.join(dir, "plugin.json")
fs.writeFileSync(configFile, JSON.stringify({ containerd_address: integrationEnv.containerdAddress, namespace }))

/** Longer than any of these runs may take: reaching it is the failure (a hang). */
const BOUND_MS = 60_000

interface Run {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the executable without blocking this process, whose loopback servers must keep answering. */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Run> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [builtPlugin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS)
    child.on("close", (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stdout, stderr })
    })
  })

interface Server {
  readonly host: string
  readonly port: number
  readonly requests: Array<{ readonly path: string; readonly headers: http.IncomingHttpHeaders }>
  readonly close: () => Promise<void>
}

const serve = (handler: (req: http.IncomingMessage, res: http.ServerResponse, self: Server) => void): Promise<Server> =>
  new Promise((resolve) => {
    const requests: Server["requests"] = []
    let self: Server
    const server = http.createServer((req, res) => {
      requests.push({ path: req.url ?? "", headers: req.headers })
      req.resume()
      req.on("end", () => handler(req, res, self))
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      self = {
        host: `127.0.0.1:${port}`,
        port,
        requests,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      }
      resolve(self)
    })
  })

/** A registry that answers every API request 401 with a Bearer challenge naming `realm`. */
const challenging = (realm: () => string) =>
  serve((_req, res) => {
    res.writeHead(401, { "www-authenticate": `Bearer realm="${realm()}",service="hostile"`, "content-type": "application/json" })
    res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }))
  })

const expectClearFailure = (result: Run, image: string) => {
  expect(result.signal).toBeNull() // ended by itself within the bound
  expect(result.status).toBe(1)
  expect(result.stdout).toBe("")
  expect(result.stderr).toContain(`Error in pulling image ${image}: `)
  expect(result.stderr).not.toContain("TypeError")
  expect(result.stderr).not.toMatch(/^\s+at /m)
}

const servers: Array<Server> = []
beforeAll(() => {
  if (!fs.existsSync(builtPlugin)) throw new Error(`${builtPlugin} is missing: run npm run build first`)
})
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()))
  await Effect.runPromise(
    cleanupNamespace(namespace).pipe(Effect.provide(Containerd.layer({ address: integrationEnv.containerdAddress, namespace })))
  )
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("containerd-driver pull against hostile registries (issue 8)", () => {
  it("item 2: a token with CR/LF is a registry error, not a crash", async () => {
    const tokens = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ token: "abc\r\nX-Injected: yes" }))
    })
    const registry = await challenging(() => `http://${tokens.host}/token`)
    servers.push(tokens, registry)
    const image = `${registry.host}/team/app:1`
    const result = await run(["pull", "--config", configFile, image])
    expectClearFailure(result, image)
    expect(result.stderr).toContain(`token service ${tokens.host} for ${registry.host}: the token service answered with a token that cannot be sent in an HTTP header`)
    expect(registry.requests.every((r) => r.headers["x-injected"] === undefined && r.headers.authorization === undefined)).toBe(true)
  }, BOUND_MS + 10_000)

  it("item 3: ports outside 1–65535 are an invalid reference, for pull and for spec", async () => {
    for (const image of ["localhost:99999/x", "localhost:65536/x", "localhost:0/x"]) {
      const result = await run(["pull", "--config", configFile, image])
      expectClearFailure(result, image)
      expect(result.stderr).toContain(`invalid image reference ${JSON.stringify(image)}`)
    }
    const job = path.join(dir, "job.hcl")
    fs.writeFileSync(job, `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config {\n        image = "localhost:99999/x"\n      }\n    }\n  }\n}\n`)
    const spec = await run(["spec", "--config", configFile, job])
    expect(spec.signal).toBeNull()
    expect(spec.status).not.toBe(0)
    expect(spec.stdout).toBe("")
    expect(spec.stderr).toContain("invalid image reference \"localhost:99999/x\"")
    expect(spec.stderr).not.toContain("TypeError")
  }, 4 * BOUND_MS)

  it("item 4: credentials are not sent in cleartext to a plain-HTTP realm at another host", async () => {
    const tokens = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ token: "stolen" }))
    })
    // 0.0.0.0 reaches this machine's listener on Linux, yet is neither a loopback name nor a loopback address.
    const registry = await challenging(() => `http://0.0.0.0:${tokens.port}/token`)
    servers.push(tokens, registry)
    const image = `${registry.host}/team/app:1`
    const withUser = await run(["pull", "--config", configFile, "--user", "alice", image], { CONTAINERD_DRIVER_REGISTRY_PASSWORD: "s3cret" })
    expectClearFailure(withUser, image)
    expect(withUser.stderr).toContain(`sent a token realm over plain HTTP (0.0.0.0:${tokens.port})`)
    expect(withUser.stderr).toContain("insecure_registries")
    expect(withUser.stderr).not.toContain("s3cret")
    // The driver's own credentials (plugin config) are kept from it the same way.
    const driverConfig = path.join(dir, "plugin-auth.json")
    fs.writeFileSync(driverConfig, JSON.stringify({
      containerd_address: integrationEnv.containerdAddress,
      namespace,
      auth: { username: "driver", password: "s3cret" }
    }))
    const withDriverAuth = await run(["pull", "--config", driverConfig, image])
    expectClearFailure(withDriverAuth, image)
    expect(tokens.requests).toEqual([])
  }, 2 * BOUND_MS + 10_000)
})

describe("StartTask against hostile registries (issue 8, the plugin's path)", () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({ prefix: "cdd-hostile-start", containerdAddress: integrationEnv.containerdAddress })
  })
  afterAll(async () => {
    await h?.dispose()
  })

  /** StartTask fails with the pull's message, Nomad may not retry, and the plugin goes on serving. */
  const refused = async (config: Record<string, unknown>) => {
    const failure = await failureOf(h.start({ config }))
    expect(failure.message).toContain(`Error in pulling image ${String(config["image"])}: `)
    expect(failure.message).not.toContain("TypeError")
    expect(await h.probe.state()).toEqual(emptyNamespace)
    const alive = await h.start({ config: { image: `${integrationEnv.registry}/test/busybox:latest`, command: "true" } })
    await h.driver().wait(alive.id)
    await h.driver().destroy(alive.id)
    return failure
  }

  it("item 2: a token with CR/LF fails the start clearly", async () => {
    const tokens = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ token: "abc\r\nX-Injected: yes" }))
    })
    const registry = await challenging(() => `http://${tokens.host}/token`)
    servers.push(tokens, registry)
    const failure = await refused({ image: `${registry.host}/team/app:1` })
    expect(failure.message).toContain("a token that cannot be sent in an HTTP header")
    expect(registry.requests.every((r) => r.headers["x-injected"] === undefined)).toBe(true)
  }, BOUND_MS)

  it("item 3: an image with a port outside 1–65535 is an invalid reference, not recoverable", async () => {
    const failure = await refused({ image: "localhost:99999/x" })
    expect(failure.message).toContain('invalid image reference "localhost:99999/x"')
    expect(failure.recoverable).toBe(false)
  }, BOUND_MS)

  it("item 4: a task's credentials are not sent in cleartext to a plain-HTTP realm at another host", async () => {
    const tokens = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ token: "stolen" }))
    })
    const registry = await challenging(() => `http://0.0.0.0:${tokens.port}/token`)
    servers.push(tokens, registry)
    const failure = await refused({ image: `${registry.host}/team/app:1`, auth: { username: "alice", password: "s3cret" } })
    expect(failure.message).toContain("insecure_registries")
    expect(failure.message).not.toContain("s3cret")
    expect(tokens.requests).toEqual([])
  }, BOUND_MS)
})
