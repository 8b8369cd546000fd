/**
 * Registry HTTP API v2, pure part: the registry error, host → endpoint mapping (scheme choice), authentication
 * challenges, token responses and their lifetime, error bodies, and the mapping of failed responses to errors
 * with user-facing messages.
 */
import { isIP } from "node:net"
import { Data, Either, Option } from "effect"
import { DOCKER_HUB_DOMAIN, DOCKER_HUB_REGISTRY_HOST } from "./Reference.js"

export type RegistryErrorReason =
  | "Unauthorized"
  | "NotFound"
  | "ManifestUnknown"
  | "Unreachable"
  | "Timeout"
  | "DigestMismatch"
  | "Unsupported"
  | "Protocol"

export class RegistryError extends Data.TaggedError("RegistryError")<{
  readonly reason: RegistryErrorReason
  readonly message: string
  readonly cause?: unknown
}> {
  /** Temporary conditions (network, timeouts, registry overload): retrying the pull later may succeed. */
  get recoverable(): boolean {
    return isRecoverable(this)
  }
}

export const isRecoverable = (error: RegistryError): boolean =>
  error.reason === "Unreachable" || error.reason === "Timeout"

// --- endpoints ---------------------------------------------------------------------------------------------

export interface Endpoint {
  readonly scheme: "http" | "https"
  /** `host[:port]` as used in URLs (IPv6 in brackets). */
  readonly host: string
}

/** Splits `host[:port]` / `[v6]:port` into hostname (brackets removed) and port. */
export const splitHostPort = (hostPort: string): { readonly hostname: string; readonly port?: string } => {
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]")
    const hostname = hostPort.slice(1, close < 0 ? undefined : close)
    const rest = close < 0 ? "" : hostPort.slice(close + 1)
    return rest.startsWith(":") ? { hostname, port: rest.slice(1) } : { hostname }
  }
  const colon = hostPort.lastIndexOf(":")
  if (colon >= 0 && hostPort.indexOf(":") === colon) {
    return { hostname: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) }
  }
  return { hostname: hostPort }
}

const ipv4ToNumber = (ip: string): number =>
  ip.split(".").reduce((acc, octet) => acc * 256 + Number.parseInt(octet, 10), 0)

/** `localhost`, 127.0.0.0/8 and ::1 (also IPv4-mapped), with or without a port — Go's `isLocalHost`. */
export const isLoopback = (hostPort: string): boolean => {
  const hostname = splitHostPort(hostPort).hostname.toLowerCase()
  if (hostname === "localhost") return true
  if (isIP(hostname) === 4) return hostname.startsWith("127.")
  if (isIP(hostname) === 6) {
    // WHATWG URL parsing canonicalises IPv6 (`0:0::1` → `::1`, `::ffff:127.0.0.1` → `::ffff:7f00:1`).
    const canonical = new URL(`http://[${hostname}]/`).hostname
    return canonical === "[::1]" || canonical.startsWith("[::ffff:7f")
  }
  return false
}

/**
 * Whether `hostPort` is covered by an `insecure_registries` entry: `host:port` matches exactly, a bare `host`
 * matches any port, and an IPv4 CIDR (`10.0.0.0/8`) matches IPv4 literals inside it.
 */
export const isListedInsecure = (hostPort: string, entries: ReadonlyArray<string>): boolean => {
  const target = splitHostPort(hostPort.toLowerCase())
  return entries.some((raw) => {
    const entry = raw.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/+$/, "")
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(entry)
    if (cidr?.[1] !== undefined && cidr[2] !== undefined) {
      if (isIP(target.hostname) !== 4 || isIP(cidr[1]) !== 4) return false
      const bits = Number.parseInt(cidr[2], 10)
      if (bits > 32) return false
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
      return ((ipv4ToNumber(target.hostname) & mask) >>> 0) === ((ipv4ToNumber(cidr[1]) & mask) >>> 0)
    }
    const listed = splitHostPort(entry)
    if (listed.hostname !== target.hostname) return false
    return listed.port === undefined || listed.port === target.port
  })
}

/**
 * Where the registry API for a reference domain lives: Docker Hub is served by `registry-1.docker.io`; loopback
 * hosts and listed insecure registries use plain HTTP, everything else HTTPS.
 */
export const endpointFor = (domain: string, insecureRegistries: ReadonlyArray<string>): Endpoint => {
  const host = domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : domain
  const plain = isLoopback(host) || isListedInsecure(host, insecureRegistries) ||
    (domain !== host && isListedInsecure(domain, insecureRegistries))
  return { scheme: plain ? "http" : "https", host }
}

export const baseUrl = (endpoint: Endpoint): string => `${endpoint.scheme}://${endpoint.host}`

/** Redirects to another host (or port, or scheme) must not carry the registry's Authorization header. */
export const mayForwardAuthorization = (registry: URL, target: URL): boolean =>
  registry.protocol === target.protocol && registry.host === target.host

// --- authentication challenges -----------------------------------------------------------------------------

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, ... */
  readonly scheme: string
  /** Parameters with lower-cased keys (`realm`, `service`, `scope`, `error`). */
  readonly params: Readonly<Record<string, string>>
}

/**
 * Parses `WWW-Authenticate` header values (RFC 7235): each value may hold several challenges, each a scheme
 * followed by comma-separated `key=value` / `key="quoted value"` parameters.
 */
export const parseChallenges = (values: ReadonlyArray<string>): ReadonlyArray<Challenge> => {
  const challenges: Array<{ scheme: string; params: Record<string, string> }> = []
  for (const value of values) {
    let i = 0
    const n = value.length
    const skipSpace = () => {
      while (i < n && (value[i] === " " || value[i] === "\t")) i++
    }
    const readToken = () => {
      const start = i
      while (i < n && !/[\s,=";]/.test(value[i] ?? "")) i++
      return value.slice(start, i)
    }
    let current: { scheme: string; params: Record<string, string> } | undefined
    while (i < n) {
      skipSpace()
      if (value[i] === ",") {
        i++
        continue
      }
      const token = readToken()
      if (token === "") {
        i++
        continue
      }
      skipSpace()
      if (value[i] === "=" && current !== undefined) {
        i++
        skipSpace()
        let param = ""
        if (value[i] === "\"") {
          i++
          while (i < n && value[i] !== "\"") {
            if (value[i] === "\\" && i + 1 < n) i++
            param += value[i]
            i++
          }
          i++
        } else {
          param = readToken()
        }
        current.params[token.toLowerCase()] = param
      } else {
        current = { scheme: token.toLowerCase(), params: {} }
        challenges.push(current)
      }
    }
  }
  return challenges
}

/** The scopes to request: the challenge's own (space separated) merged with the pull scope, deduplicated. */
export const tokenScopes = (challenge: Challenge, pullScope: string): ReadonlyArray<string> => {
  const fromChallenge = (challenge.params["scope"] ?? "").split(" ").filter((scope) => scope !== "")
  return [...new Set([...fromChallenge, pullScope])]
}

/** `GET <realm>?service=…&scope=…` (one scope parameter per scope), or none when the realm is not a URL. */
export const tokenUrl = (challenge: Challenge, scopes: ReadonlyArray<string>): Option.Option<URL> => {
  const realm = challenge.params["realm"]
  if (realm === undefined) return Option.none()
  let url: URL
  try {
    url = new URL(realm)
  } catch {
    return Option.none()
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return Option.none()
  const service = challenge.params["service"]
  if (service !== undefined) url.searchParams.set("service", service)
  for (const scope of scopes) url.searchParams.append("scope", scope)
  return Option.some(url)
}

/**
 * Whether a value taken from a server can be sent back as a credential in a header: visible ASCII only (RFC 6750's
 * b64token and the JWTs registries hand out are a subset). CR/LF would split the header, and Node refuses such a
 * value by throwing.
 */
export const isHeaderToken = (value: string): boolean => /^[\x21-\x7e]+$/.test(value)

/**
 * A media type as it may appear in an `Accept` header: `type/subtype` of RFC 6838 name characters. Media types come
 * from manifests, i.e. from the registry; anything else is not repeated in a request.
 */
export const isMediaTypeToken = (value: string): boolean =>
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(value)

export interface TokenResponse {
  readonly token: string
  readonly expiresInSeconds: number
}

/** Default token lifetime when the token service does not say (Go's client assumes 60 s). */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60

/** Decodes `{token | access_token, expires_in?}`. */
export const parseTokenResponse = (body: string): Either.Either<TokenResponse, string> => {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return Either.left("the token service answered with something that is not JSON")
  }
  if (typeof json !== "object" || json === null) return Either.left("the token service answered with no JSON object")
  const record = json as Record<string, unknown>
  const token = typeof record["token"] === "string" && record["token"] !== "" ?
    record["token"] :
    typeof record["access_token"] === "string" && record["access_token"] !== "" ?
    record["access_token"] :
    undefined
  if (token === undefined) return Either.left("the token service answered without a token")
  if (!isHeaderToken(token)) {
    return Either.left(
      "the token service answered with a token that cannot be sent in an HTTP header (it holds spaces, control " +
        "characters such as CR/LF, or non-ASCII characters)"
    )
  }
  const expires = record["expires_in"]
  const expiresInSeconds = typeof expires === "number" && Number.isFinite(expires) && expires > 0 ?
    expires :
    DEFAULT_TOKEN_LIFETIME_SECONDS
  return Either.right({ token, expiresInSeconds })
}

/** When a token received at `receivedAt` (ms) stops being used: a few seconds early, to absorb request latency. */
export const tokenExpiresAt = (receivedAt: number, expiresInSeconds: number): number =>
  receivedAt + Math.max(0, expiresInSeconds - Math.min(5, expiresInSeconds / 10)) * 1000

// --- responses ---------------------------------------------------------------------------------------------

/** `Content-Type` without parameters, lower-cased; empty when absent. */
export const mediaTypeOf = (contentType: string | undefined): string =>
  (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? ""

export interface RegistryErrorBody {
  readonly code: string
  readonly message: string
}

/** First entry of `{"errors":[{"code","message","detail"}]}`, if the body has that shape. */
export const parseErrorBody = (body: string): Option.Option<RegistryErrorBody> => {
  try {
    const json = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> }
    const first = Array.isArray(json.errors) ? json.errors[0] : undefined
    if (first === undefined || typeof first.code !== "string") return Option.none()
    return Option.some({ code: first.code, message: typeof first.message === "string" ? first.message : "" })
  } catch {
    return Option.none()
  }
}

export const TEMPORARY_HINT = "this error is temporary; the pull can be retried"

/** Keeps the original driver's wording (its users and tests grep for it). */
export const PULL_ACCESS_DENIED = "pull access denied, repository does not exist or may require authorization"

const serverMessage = (body: Option.Option<RegistryErrorBody>): string =>
  Option.match(body, {
    onNone: () => "",
    onSome: ({ code, message }) => `: server message: ${code.toLowerCase()}${message !== "" ? `: ${message}` : ""}`
  })

export const unauthorized = (subject: string, body: Option.Option<RegistryErrorBody> = Option.none()) =>
  new RegistryError({ reason: "Unauthorized", message: `${PULL_ACCESS_DENIED}: ${subject}${serverMessage(body)}` })

/**
 * A 401 to a pull that sent no credentials: the registry wants some (or the name is wrong, which a registry
 * hides behind the same answer).
 */
export const credentialsMissing = (subject: string, host: string, body: Option.Option<RegistryErrorBody> = Option.none()) =>
  new RegistryError({
    reason: "Unauthorized",
    message: `${PULL_ACCESS_DENIED}: ${subject}${serverMessage(body)}: no credentials were sent to ${host}, which asks ` +
      "for them (HTTP 401): give a user name and password in the task's auth block or the plugin's auth block " +
      "(or its Docker config or credential helper), or check the image name"
  })

/** A 401 to a pull that sent credentials: the registry (or its token service) refused them for this image. */
export const credentialsRejected = (
  subject: string,
  host: string,
  username: string,
  body: Option.Option<RegistryErrorBody> = Option.none()
) =>
  new RegistryError({
    reason: "Unauthorized",
    message: `${PULL_ACCESS_DENIED}: ${subject}${serverMessage(body)}: ${host} refused the credentials sent for ` +
      `${username} (HTTP 401): check the user name and password, and that this user may pull the image`
  })

export const repositoryNotFound = (subject: string, host: string) =>
  new RegistryError({
    reason: "NotFound",
    message: `repository does not exist: ${subject} (registry ${host} does not know this name)`
  })

export interface FailureContext {
  /** What was asked for, e.g. `docker.io/library/redis:latest` or `name@sha256:…`. */
  readonly subject: string
  /** The host that answered. */
  readonly host: string
  /** `manifest` or `blob`: picks the wording of a 404. */
  readonly kind: "manifest" | "blob" | "token"
}

/** Maps a non-success HTTP status (other than a handled 401) and its error body to a RegistryError. */
export const failureFor = (
  status: number,
  body: Option.Option<RegistryErrorBody>,
  context: FailureContext
): RegistryError => {
  const code = Option.getOrUndefined(body)?.code.toUpperCase()
  if (status === 401 || status === 403 || code === "DENIED" || code === "UNAUTHORIZED") {
    return unauthorized(context.subject, body)
  }
  if (status === 404 || code === "MANIFEST_UNKNOWN" || code === "NAME_UNKNOWN" || code === "BLOB_UNKNOWN") {
    if (code === "NAME_UNKNOWN") return repositoryNotFound(context.subject, context.host)
    if (code === "BLOB_UNKNOWN" || context.kind === "blob") {
      return new RegistryError({ reason: "NotFound", message: `blob unknown: ${context.subject}` })
    }
    if (context.kind === "manifest") {
      return new RegistryError({ reason: "ManifestUnknown", message: `manifest unknown: ${context.subject}` })
    }
    return new RegistryError({ reason: "NotFound", message: `not found: ${context.subject}` })
  }
  if (status === 429 || code === "TOOMANYREQUESTS") {
    return new RegistryError({
      reason: "Unreachable",
      message: `registry ${context.host} is rate limiting requests (HTTP ${status}) while pulling ${context.subject}; ` +
        TEMPORARY_HINT
    })
  }
  if (status === 408 || status === 502 || status === 503 || status === 504 || status >= 500) {
    return new RegistryError({
      reason: "Unreachable",
      message: `registry ${context.host} answered HTTP ${status} while pulling ${context.subject}` +
        `${serverMessage(body)}; ${TEMPORARY_HINT}`
    })
  }
  return new RegistryError({
    reason: "Protocol",
    message: `unexpected HTTP ${status} from registry ${context.host} while pulling ${context.subject}` +
      serverMessage(body)
  })
}

/** Low-level transport failure codes that mean "could not talk to the host right now". */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET"
])

/** Maps a socket/TLS error (by its Node error code) to a RegistryError naming the host. */
export const transportFailure = (
  code: string | undefined,
  detail: string,
  host: string,
  subject: string
): RegistryError => {
  if (code !== undefined && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || code.includes("CERT") ||
    code === "EPROTO" || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" || code === "SELF_SIGNED_CERT_IN_CHAIN")) {
    return new RegistryError({
      reason: "Protocol",
      message: `TLS connection to registry ${host} failed while pulling ${subject} (${code}: ${detail}); if the ` +
        "registry speaks plain HTTP list it in insecure_registries, if it uses a private CA add that CA to the " +
        "system trust store"
    })
  }
  if (code === undefined || networkCodes.has(code) || code.startsWith("E")) {
    return new RegistryError({
      reason: "Unreachable",
      message: `cannot reach registry ${host} while pulling ${subject} (${code ?? "network error"}: ${detail}); ` +
        TEMPORARY_HINT
    })
  }
  return new RegistryError({
    reason: "Protocol",
    message: `talking to registry ${host} failed while pulling ${subject} (${code}: ${detail})`
  })
}
