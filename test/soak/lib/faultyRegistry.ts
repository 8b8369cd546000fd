/**
 * A loopback proxy in front of the test registry that misbehaves on demand, as registries and the networks to them
 * do: it stalls (every request, or a layer blob after its first bytes), cuts a layer blob short, answers 500 (always,
 * or once), flips a byte of a layer blob (its digest no longer matches), or demands credentials the task does not
 * have. `heal` makes it a faithful proxy, for the retry that must then succeed.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type Fault = "pass" | "stall" | "stall-blob" | "truncate-blob" | "500-blob" | "500-once" | "corrupt-blob" | "auth"

export const proxyUser = { username: "soak", password: "right" }

export interface FaultyRegistry {
  readonly host: string
  readonly port: number
  /** Method and path of every request, in order. */
  readonly requests: Array<string>
  readonly heal: () => void
  readonly close: () => Promise<void>
}

/** A layer is the large blob; configs are a few hundred bytes. */
const isLayer = (body: Buffer) => body.length > 10_000

export const faultyRegistry = (upstream: string, fault: Fault, port = 0): Promise<FaultyRegistry> =>
  new Promise((resolve, reject) => {
    let mode: Fault = fault
    let failedOnce = false
    const requests: Array<string> = []
    const [upHost, upPort] = upstream.split(":") as [string, string]
    const server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`)
      if (mode === "stall") return // never answered
      if (mode === "auth") {
        const expected = `Basic ${Buffer.from(`${proxyUser.username}:${proxyUser.password}`).toString("base64")}`
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { "www-authenticate": 'Basic realm="soak"', "content-type": "application/json" })
          res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }))
          return
        }
      }
      const blob = req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "")
      if (blob && (mode === "500-blob" || (mode === "500-once" && !failedOnce))) {
        failedOnce = true
        res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ errors: [{ code: "UNKNOWN", message: "injected failure" }] }))
        return
      }
      const { authorization: _a, host: _h, ...headers } = req.headers
      const up = http.request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: { ...headers, host: upstream } }, (upRes) => {
        const chunks: Array<Buffer> = []
        upRes.on("data", (c: Buffer) => chunks.push(c))
        upRes.on("end", () => {
          const body = Buffer.concat(chunks)
          const faulty = blob && upRes.statusCode === 200 && isLayer(body)
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          if (faulty && mode === "truncate-blob") {
            res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy())
          } else if (faulty && mode === "stall-blob") {
            res.write(body.subarray(0, body.length >> 2)) // and nothing more
          } else if (faulty && mode === "corrupt-blob") {
            const copy = Buffer.from(body)
            const middle = copy.length >> 1
            copy[middle] = copy[middle]! ^ 0xff
            res.end(copy)
          } else {
            res.end(body)
          }
        })
      })
      up.on("error", () => res.destroy())
      req.pipe(up)
    })
    server.on("error", reject)
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as AddressInfo
      resolve({
        host: `127.0.0.1:${bound}`,
        port: bound,
        requests,
        heal: () => {
          mode = "pass"
        },
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r())
            server.closeAllConnections()
          })
      })
    })
  })

/** A loopback port with nothing listening on it (bound, then released). */
export const refusingPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
