/**
 * Loopback HTTP test doubles for registry tests: a recording server, and a small in-memory registry (optionally
 * proxying to a real one) with Bearer-token or Basic auth, blob redirects to a second host, and a hook to inject
 * misbehaviour. Everything binds to 127.0.0.1 on a free port and closes with the test's scope.
 */
import { createHash, randomUUID } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface TestServer {
  readonly host: string
  readonly url: string
  readonly requests: Array<Recorded>
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

/** An HTTP server on 127.0.0.1:<free port> that records every request (with its body) before handling it. */
export const startServer = (handler: Handler): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; info: TestServer }>((resume) => {
      const requests: Array<Recorded> = []
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body })
          handler(req, res, body)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        const host = `127.0.0.1:${port}`
        resume(Effect.succeed({ server, info: { host, url: `http://${host}`, requests } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map(({ info }) => info))

export const sha256 = (data: Uint8Array): string => `sha256:${createHash("sha256").update(data).digest("hex")}`

export interface StoredDescriptor {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
}

interface Repository {
  readonly manifests: Map<string, { readonly mediaType: string; readonly data: Buffer }>
  readonly blobs: Map<string, Buffer>
}

export type FakeAuth =
  | {
    readonly kind: "bearer"
    /** username → password accepted by the token endpoint; without `requireCredentials` anonymous tokens are issued too */
    readonly users?: Readonly<Record<string, string>>
    readonly requireCredentials?: boolean
    readonly tokenField?: "token" | "access_token"
    readonly expiresIn?: number
    /** refresh tokens accepted by the OAuth2 POST form */
    readonly refreshTokens?: ReadonlyArray<string>
  }
  | { readonly kind: "basic"; readonly users: Readonly<Record<string, string>> }

export interface FakeRegistryOptions {
  readonly auth?: FakeAuth
  /** Blob GETs answer 307 to `<redirectBlobsTo>/storage/<repo>/<digest>`. */
  readonly redirectBlobsTo?: () => string
  /** Requests for content not held in memory are proxied to this real registry (`host:port`, plain HTTP). */
  readonly upstream?: string
  /** Sees every authorised registry API request first; returns true when it answered it. */
  readonly hook?: (req: http.IncomingMessage, res: http.ServerResponse, route: Route) => boolean
}

export interface Route {
  readonly repo: string
  readonly kind: "manifests" | "blobs"
  readonly object: string
}

export interface FakeRegistry extends TestServer {
  /** Requests to the token endpoint only. */
  readonly tokenRequests: () => ReadonlyArray<Recorded>
  readonly putBlob: (repo: string, data: Uint8Array | string, mediaType?: string) => StoredDescriptor
  readonly putManifest: (repo: string, tag: string | undefined, mediaType: string, document: unknown) => StoredDescriptor
  readonly blob: (repo: string, digest: string) => Buffer | undefined
}

const routePattern = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)$/

const sendError = (res: http.ServerResponse, status: number, code: string, message: string, headers = {}) => {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] })
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers })
  res.end(body)
}

const proxy = (upstream: string, req: http.IncomingMessage, res: http.ServerResponse) => {
  const forward = http.request(`http://${upstream}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers: { accept: req.headers.accept ?? "*/*" }
  }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  forward.on("error", () => sendError(res, 502, "UNAVAILABLE", "upstream unreachable"))
  forward.end()
}

export const startFakeRegistry = (options: FakeRegistryOptions = {}): Effect.Effect<FakeRegistry, never, Scope.Scope> =>
  Effect.gen(function*() {
    const repositories = new Map<string, Repository>()
    const issued = new Set<string>()
    const repository = (name: string) => {
      let repo = repositories.get(name)
      if (repo === undefined) {
        repo = { manifests: new Map(), blobs: new Map() }
        repositories.set(name, repo)
      }
      return repo
    }
    let self: TestServer | undefined

    const authorised = (req: http.IncomingMessage): boolean => {
      const auth = options.auth
      if (auth === undefined) return true
      const header = req.headers.authorization ?? ""
      if (auth.kind === "basic") {
        const decoded = Buffer.from(header.replace(/^Basic /, ""), "base64").toString("utf8")
        const colon = decoded.indexOf(":")
        return header.startsWith("Basic ") && auth.users[decoded.slice(0, colon)] === decoded.slice(colon + 1)
      }
      return header.startsWith("Bearer ") && issued.has(header.slice(7))
    }

    const challenge = (route: Route | undefined): Record<string, string> => {
      const auth = options.auth
      if (auth?.kind === "basic") return { "www-authenticate": "Basic realm=\"fake\"" }
      const scope = route !== undefined ? `,scope="repository:${route.repo}:pull"` : ""
      return {
        "www-authenticate": `Bearer realm="${self?.url ?? ""}/token",service="fake-registry"${scope}`
      }
    }

    const issueToken = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
      const auth = options.auth
      if (auth?.kind !== "bearer") return sendError(res, 404, "NOT_FOUND", "no token service")
      if (req.method === "POST") {
        const form = new URLSearchParams(body)
        if (form.get("grant_type") !== "refresh_token" || !(auth.refreshTokens ?? []).includes(form.get("refresh_token") ?? "")) {
          return sendError(res, 401, "UNAUTHORIZED", "bad refresh token")
        }
      } else {
        const header = req.headers.authorization
        if (header !== undefined) {
          const decoded = Buffer.from(header.replace(/^Basic /, ""), "base64").toString("utf8")
          const colon = decoded.indexOf(":")
          if (auth.users?.[decoded.slice(0, colon)] !== decoded.slice(colon + 1)) {
            return sendError(res, 401, "UNAUTHORIZED", "invalid username or password")
          }
        } else if (auth.requireCredentials === true) {
          return sendError(res, 401, "UNAUTHORIZED", "credentials required")
        }
      }
      const token = randomUUID()
      issued.add(token)
      const payload = JSON.stringify({ [auth.tokenField ?? "token"]: token, expires_in: auth.expiresIn ?? 300 })
      res.writeHead(200, { "content-type": "application/json" })
      res.end(payload)
    }

    const server = yield* startServer((req, res, body) => {
      const url = new URL(req.url ?? "/", "http://fake")
      if (url.pathname === "/token") return issueToken(req, res, body)
      if (url.pathname.startsWith("/storage/")) {
        const [, repo, digest] = /^\/storage\/(.+)\/([^/]+)$/.exec(url.pathname) ?? []
        const data = repo !== undefined && digest !== undefined ? repositories.get(repo)?.blobs.get(digest) : undefined
        if (data === undefined) {
          if (options.upstream !== undefined && repo !== undefined && digest !== undefined) {
            req.url = `/v2/${repo}/blobs/${digest}`
            return proxy(options.upstream, req, res)
          }
          return sendError(res, 404, "BLOB_UNKNOWN", "blob unknown")
        }
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length })
        return res.end(data)
      }
      const match = routePattern.exec(url.pathname)
      const route: Route | undefined = match !== null ?
        { repo: match[1]!, kind: match[2] as Route["kind"], object: match[3]! } :
        undefined
      if (!authorised(req)) {
        return sendError(res, 401, "UNAUTHORIZED", "authentication required", challenge(route))
      }
      if (route === undefined) {
        if (url.pathname === "/v2/" || url.pathname === "/v2") {
          res.writeHead(200, { "content-type": "application/json" })
          return res.end("{}")
        }
        return sendError(res, 404, "NOT_FOUND", "not found")
      }
      if (options.hook?.(req, res, route) === true) return
      const repo = repositories.get(route.repo)
      if (route.kind === "blobs" && options.redirectBlobsTo !== undefined) {
        res.writeHead(307, { location: `${options.redirectBlobsTo()}/storage/${route.repo}/${route.object}` })
        return res.end()
      }
      if (repo === undefined) {
        if (options.upstream !== undefined) return proxy(options.upstream, req, res)
        return sendError(res, 404, "NAME_UNKNOWN", "repository name not known to registry")
      }
      if (route.kind === "manifests") {
        const manifest = repo.manifests.get(route.object)
        if (manifest === undefined) return sendError(res, 404, "MANIFEST_UNKNOWN", "manifest unknown")
        res.writeHead(200, {
          "content-type": manifest.mediaType,
          "content-length": manifest.data.length,
          "docker-content-digest": sha256(manifest.data)
        })
        return res.end(req.method === "HEAD" ? undefined : manifest.data)
      }
      const data = repo.blobs.get(route.object)
      if (data === undefined) return sendError(res, 404, "BLOB_UNKNOWN", "blob unknown to registry")
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length })
      return res.end(req.method === "HEAD" ? undefined : data)
    })
    self = server

    const putBlob = (repo: string, data: Uint8Array | string, mediaType = "application/octet-stream") => {
      const bytes = Buffer.from(data)
      const digest = sha256(bytes)
      repository(repo).blobs.set(digest, bytes)
      return { mediaType, digest, size: bytes.length }
    }
    const putManifest = (repo: string, tag: string | undefined, mediaType: string, document: unknown) => {
      const data = Buffer.from(typeof document === "string" ? document : JSON.stringify(document))
      const digest = sha256(data)
      repository(repo).manifests.set(digest, { mediaType, data })
      if (tag !== undefined) repository(repo).manifests.set(tag, { mediaType, data })
      return { mediaType, digest, size: data.length }
    }

    return {
      ...server,
      tokenRequests: () => server.requests.filter((r) => r.path.startsWith("/token")),
      putBlob,
      putManifest,
      blob: (repo: string, digest: string) => repositories.get(repo)?.blobs.get(digest)
    }
  })

/** An OCI image (config + one layer) stored in a fake registry under `repo:tag`. */
export const putSimpleImage = (
  registry: FakeRegistry,
  repo: string,
  tag: string,
  layerBytes: Uint8Array | string = "layer-content",
  mediaType = "application/vnd.oci.image.manifest.v1+json"
) => {
  const config = registry.putBlob(repo, JSON.stringify({ architecture: "amd64", os: "linux" }), "application/vnd.oci.image.config.v1+json")
  const layer = registry.putBlob(repo, layerBytes, "application/vnd.oci.image.layer.v1.tar+gzip")
  const manifest = registry.putManifest(repo, tag, mediaType, { schemaVersion: 2, mediaType, config, layers: [layer] })
  return { config, layer, manifest }
}
