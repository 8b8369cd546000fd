/**
 * The HTTPS side of the test environment (scripts/test-env.sh): where the token registry, its token service and the
 * client-certificate registry listen, the test CA and client certificate, scratch hosts dirs written per test, the
 * token service's request log, a recording HTTPS proxy to see what reaches a registry, and a run of the built CLI.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { builtPlugin } from "./PluginProcess.js"

const fromEnv = (name: string, fallback: string): string => {
  const value = process.env[name]
  return value === undefined || value === "" ? fallback : value
}

const tlsDir = fromEnv("TEST_TLS_DIR", "/var/lib/containerd-driver-test/tls")

export const tlsEnv = {
  /** HTTPS, Bearer tokens from `tokenService`; serves the anonymous registry's images read-only. */
  tokenRegistry: fromEnv("TEST_TOKEN_REGISTRY", "127.0.0.1:5002"),
  tokenService: fromEnv("TEST_TOKEN_SERVICE", "127.0.0.1:5003"),
  /** HTTPS requiring a client certificate from the test CA; same images. */
  mtlsRegistry: fromEnv("TEST_MTLS_REGISTRY", "127.0.0.1:5004"),
  /** The containerd hosts dir test-env.sh writes (docker.io mirrored by the anonymous registry). */
  hostsDir: fromEnv("TEST_HOSTS_DIR", "/var/lib/containerd-driver-test/certs.d"),
  ca: path.join(tlsDir, "ca.crt"),
  clientCert: path.join(tlsDir, "client.cert"),
  clientKey: path.join(tlsDir, "client.key"),
  /** The token service's password for every account. */
  password: fromEnv("TEST_REGISTRY_PASSWORD", "testpassword")
}

/** A hosts dir of `<directory>/hosts.toml` files in a new temporary directory (the caller removes it). */
export const scratchHostsDir = (files: Record<string, string>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-certs.d-"))
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true })
    fs.writeFileSync(path.join(dir, name, "hosts.toml"), text)
  }
  return dir
}

/** An account of the token service whose requests only this test makes; `ttl` seconds of token life. */
export const probeAccount = (ttl?: number): string => `probe-${randomBytes(5).toString("hex")}${ttl === undefined ? "" : `-ttl${ttl}`}`

export interface TokenRequest {
  readonly account: string
  readonly valid: boolean
  readonly scopes: ReadonlyArray<string>
  /** `basic` when the request carried credentials. */
  readonly credentials: "basic" | "none"
}

const getJson = <A>(url: string): Promise<A> =>
  new Promise((resolve, reject) => {
    https.get(url, { ca: fs.readFileSync(tlsEnv.ca), timeout: 5_000 }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as A))
    }).on("error", reject)
  })

/** The token requests the token service received for `account`. */
export const tokenRequests = (account: string): Promise<ReadonlyArray<TokenRequest>> =>
  getJson(`https://${tlsEnv.tokenService}/log?account=${encodeURIComponent(account)}`)

export interface ProxiedRequest {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
}

export interface RecordingProxy {
  /** `127.0.0.1:<port>`: the test CA's server certificate is valid for it. */
  readonly host: string
  readonly requests: Array<ProxiedRequest>
  readonly close: () => Promise<void>
}

/** An HTTPS proxy in front of `target` (an HTTPS registry) that records every request it forwards. */
export const recordingProxy = (target: string): Promise<RecordingProxy> =>
  new Promise((resolve) => {
    const requests: Array<ProxiedRequest> = []
    const ca = fs.readFileSync(tlsEnv.ca)
    const upstream = new https.Agent({ ca, keepAlive: true })
    const server = https.createServer({
      cert: fs.readFileSync(path.join(tlsDir, "server.crt")),
      key: fs.readFileSync(path.join(tlsDir, "server.key"))
    }, (req, res) => {
      requests.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization })
      const headers = { ...req.headers, host: target }
      const forward = https.request(`https://${target}${req.url ?? "/"}`, { method: req.method ?? "GET", headers, agent: upstream }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      forward.on("error", () => res.writeHead(502).end())
      req.pipe(forward)
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        host: `127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise((done) => {
            upstream.destroy()
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** A port nothing listens on: connecting to it is refused. */
export const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

export interface CliRun {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the built executable (dist/containerd-driver.cjs) without blocking this process's servers. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}, boundMs = 120_000): Promise<CliRun> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [builtPlugin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), boundMs)
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
