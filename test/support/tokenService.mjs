#!/usr/bin/env node
// A Docker registry token service for the test environment (distribution's docs/spec/auth/token.md), started by
// scripts/test-env.sh next to a docker-registry configured with `auth.token`: it answers
// `GET /token?service=…&scope=repository:<name>:<actions>…` over HTTPS with a JWT signed (RS256) by a key whose
// self-signed certificate is the registry's `rootcertbundle`; the certificate travels in the token's `x5c` header,
// which is how the registry finds the key. Plain Node 20, no npm dependencies.
//
// Accounts (password: $TOKEN_SERVICE_PASSWORD for all of them):
//   testuser             pull on every repository; tokens live $TOKEN_SERVICE_TTL seconds (default 300)
//   probe-<id>           the same, for one test: its requests are listed by GET /log?account=probe-<id>
//   probe-<id>-ttl<N>    the same, with tokens that live N seconds (a test of token renewal)
// Anonymous requests get pull on library/* only (like Docker Hub's official images); other scopes are granted
// nothing, so the registry answers 401 insufficient_scope. A wrong password is a 401 from this service.
//
// Environment: TOKEN_SERVICE_ADDR (127.0.0.1:5003), TOKEN_SERVICE_TLS_DIR (server.crt/.key for HTTPS,
// token-signing.crt/.key for the JWTs), TOKEN_SERVICE_NAME (the registry's `service`), TOKEN_SERVICE_ISSUER,
// TOKEN_SERVICE_PASSWORD, TOKEN_SERVICE_TTL. GET /healthz answers 200 for readiness checks.

import { createSign, randomUUID, X509Certificate } from "node:crypto"
import fs from "node:fs"
import https from "node:https"
import path from "node:path"

const env = (name, fallback) => {
  const value = process.env[name]
  if (value !== undefined && value !== "") return value
  if (fallback === undefined) {
    process.stderr.write(`token-service: ${name} is not set\n`)
    process.exit(2)
  }
  return fallback
}

const [host, portText] = env("TOKEN_SERVICE_ADDR", "127.0.0.1:5003").split(":")
const tlsDir = env("TOKEN_SERVICE_TLS_DIR")
const service = env("TOKEN_SERVICE_NAME", "containerd-driver-test")
const issuer = env("TOKEN_SERVICE_ISSUER", "containerd-driver-test-token-service")
const password = env("TOKEN_SERVICE_PASSWORD")
const defaultTtl = Number(env("TOKEN_SERVICE_TTL", "300"))

const read = (name) => fs.readFileSync(path.join(tlsDir, name))
const signingKey = read("token-signing.key")
const signingCertificate = new X509Certificate(read("token-signing.crt"))
const x5c = [signingCertificate.raw.toString("base64")]

const base64url = (value) => Buffer.from(value).toString("base64url")

const jwt = (claims) => {
  const header = base64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c }))
  const payload = base64url(JSON.stringify(claims))
  const signature = createSign("RSA-SHA256").update(`${header}.${payload}`).sign(signingKey)
  return `${header}.${payload}.${base64url(signature)}`
}

const accountPattern = /^(testuser|probe-[a-z0-9-]+)$/
const ttlOf = (account) => {
  const match = /-ttl(\d+)$/.exec(account)
  return match ? Number(match[1]) : defaultTtl
}

/** `repository:name:pull,push` → { type, name, actions } (names may hold ':' only in the type's class, unused here). */
const parseScope = (scope) => {
  const first = scope.indexOf(":")
  const last = scope.lastIndexOf(":")
  if (first < 0 || last === first) return undefined
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",").filter(Boolean) }
}

const granted = (account, scope) => {
  if (scope.type !== "repository") return []
  const mayPull = account !== "" || scope.name.startsWith("library/")
  return scope.actions.filter((action) => action === "pull" && mayPull)
}

const log = []
const MAX_LOG = 1000

const send = (res, status, body, headers = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

const unauthorized = (res, message) =>
  send(res, 401, { errors: [{ code: "UNAUTHORIZED", message, detail: null }] }, { "www-authenticate": `Basic realm="${service}"` })

/** Who a Basic header claims to be ("" for none), and whether the password is right. */
const authenticate = (header) => {
  if (header === undefined) return { account: "", valid: true }
  if (!header.startsWith("Basic ")) return { account: "(not basic)", valid: false }
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  const user = colon < 0 ? decoded : decoded.slice(0, colon)
  return { account: user, valid: colon >= 0 && accountPattern.test(user) && decoded.slice(colon + 1) === password }
}

const server = https.createServer({ cert: read("server.crt"), key: read("server.key") }, (req, res) => {
  const url = new URL(req.url ?? "/", `https://${req.headers.host ?? "localhost"}`)
  req.resume()
  if (url.pathname === "/healthz") return send(res, 200, { ok: true })
  if (url.pathname === "/log") {
    const account = url.searchParams.get("account") ?? ""
    return send(res, 200, log.filter((entry) => entry.account === account))
  }
  if (url.pathname !== "/token") return send(res, 404, { errors: [{ code: "NOT_FOUND", message: "not found" }] })
  if (req.method !== "GET") return send(res, 405, { errors: [{ code: "UNSUPPORTED", message: "only GET /token" }] })
  const { account, valid } = authenticate(req.headers.authorization)
  const scopes = url.searchParams.getAll("scope").flatMap((value) => value.split(" ")).filter(Boolean)
  log.push({
    account,
    valid,
    scopes,
    service: url.searchParams.get("service"),
    credentials: req.headers.authorization === undefined ? "none" : "basic",
    at: new Date().toISOString()
  })
  if (log.length > MAX_LOG) log.splice(0, log.length - MAX_LOG)
  if (!valid) return unauthorized(res, "invalid username or password")
  if (url.searchParams.get("service") !== service) {
    return send(res, 400, { errors: [{ code: "DENIED", message: `unknown service ${url.searchParams.get("service")}` }] })
  }
  const access = scopes.flatMap((text) => {
    const scope = parseScope(text)
    if (scope === undefined) return []
    return [{ type: scope.type, name: scope.name, actions: granted(account, scope) }]
  })
  const now = Math.floor(Date.now() / 1000)
  const ttl = account === "" ? defaultTtl : ttlOf(account)
  const token = jwt({ iss: issuer, sub: account, aud: service, exp: now + ttl, nbf: now - 1, iat: now, jti: randomUUID(), access })
  return send(res, 200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() })
})

server.listen(Number(portText), host, () => process.stderr.write(`token-service: listening on https://${host}:${portText}\n`))
const stop = () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
