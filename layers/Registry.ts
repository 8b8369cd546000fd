/**
 * Registry service: a Docker registry HTTP API v2 client for pulls — resolve a reference to a descriptor, fetch
 * manifests (digest-verified bytes) and stream blobs (digest- and size-verified as they flow), with anonymous,
 * Bearer-token and Basic authentication, hand-followed redirects and plain HTTP for loopback/insecure hosts.
 *
 * Built on node:http/https so redirects, Authorization forwarding, CAs and socket teardown are under our control.
 * Interrupting any returned effect or stream (e.g. the pull's timeout, or `Effect.runPromise(…, { signal })`)
 * destroys its sockets.
 */
import { readFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as tls from "node:tls"
import { Clock, Context, Duration, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { Credentials } from "./Credentials.js"
import { pipeBody } from "./registry/pipeBody.js"
import { type Credential, fingerprint, staticCredential, type UserPassword } from "../src/image/Credentials.js"
import * as Digest from "../src/image/Digest.js"
import * as Manifest from "../src/image/Manifest.js"
import type { Reference } from "../src/image/Reference.js"
import * as ByteSource from "../src/stream/ByteSource.js"
import {
  baseUrl,
  type Challenge,
  endpointFor,
  type Endpoint,
  failureFor,
  isListedInsecure,
  isLoopback,
  isMediaTypeToken,
  mayForwardAuthorization,
  mediaTypeOf,
  parseChallenges,
  parseErrorBody,
  parseTokenResponse,
  RegistryError,
  type RegistryErrorBody,
  repositoryNotFound,
  TEMPORARY_HINT,
  tokenExpiresAt,
  tokenScopes,
  tokenUrl,
  transportFailure,
  unauthorized
} from "../src/image/RegistryProtocol.js"

export { isRecoverable, RegistryError, type RegistryErrorReason } from "../src/image/RegistryProtocol.js"

export interface RegistryConfig {
  /** Registries reached over plain HTTP besides loopback ones: `host`, `host:port` or an IPv4 CIDR. */
  readonly insecureRegistries?: ReadonlyArray<string> | undefined
  readonly userAgent?: string | undefined
  /** Bound on waiting for a response's headers (default 30 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** Bound on a pause between two chunks of a blob body (default 60 s). */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** PEM bundles trusted in addition to Node's roots (default: the distribution's system CA bundle). */
  readonly caFiles?: ReadonlyArray<string> | undefined
  readonly maxRedirects?: number | undefined
}

export interface RequestOptions {
  /** The task's own `auth` block; wins over the driver-level credential sources. */
  readonly auth?: UserPassword | undefined
}

export interface BlobOptions extends RequestOptions {
  /**
   * Hash the bytes and check them against the descriptor's digest (default true). Off when the consumer checks the
   * digest itself — containerd's content store does on commit — so every byte is not hashed twice. The size is
   * checked either way.
   */
  readonly verifyDigest?: boolean | undefined
}

export class Registry extends Context.Tag("containerd-driver/Registry")<Registry, {
  /** Resolves a tag (or digest) reference to the root descriptor (index or manifest). */
  readonly resolve: (
    ref: Reference,
    options?: RequestOptions
  ) => Effect.Effect<Manifest.Descriptor, RegistryError>
  /** Fetches a manifest or index by descriptor; the bytes are verified against its digest and size. */
  readonly fetchManifest: (
    ref: Reference,
    descriptor: Manifest.Descriptor,
    options?: RequestOptions
  ) => Effect.Effect<Uint8Array, RegistryError>
  /**
   * Streams a blob. Bytes are emitted as they arrive; the stream fails with `DigestMismatch` as soon as more
   * bytes than the descriptor's size arrive, and at the end if size or digest differ — so only a stream that
   * completes successfully delivered the right content (its digest unchecked with `verifyDigest: false`).
   */
  readonly fetchBlob: (
    ref: Reference,
    descriptor: Manifest.Descriptor,
    options?: BlobOptions
  ) => Stream.Stream<Uint8Array, RegistryError>
  /**
   * The same bytes, checked the same way, pushed into a sink as the socket delivers them (no Stream step per
   * read): for large blobs written straight into containerd.
   */
  readonly blobSource: (
    ref: Reference,
    descriptor: Manifest.Descriptor,
    options?: BlobOptions
  ) => ByteSource.ByteSource<RegistryError>
}>() {}

/** Common CA bundle locations (Debian/Ubuntu, RHEL/Fedora, openSUSE, Alpine). */
export const SYSTEM_CA_FILES: ReadonlyArray<string> = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/ssl/cert.pem"
]

const ERROR_BODY_LIMIT = 64 * 1024
const TOKEN_BODY_LIMIT = 1024 * 1024
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
/** Bytes of a blob body waiting for fetchBlob's consumer before the socket is paused. */
const BODY_HIGH_WATER_MARK = 1 << 20

interface Response {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly wwwAuthenticate: ReadonlyArray<string>
  readonly body: http.IncomingMessage
  readonly url: URL
}

interface Target {
  readonly ref: Reference
  readonly endpoint: Endpoint
  readonly base: URL
  readonly taskAuth: UserPassword | undefined
  /** Token cache key: registry host, pull scope, and which credentials obtained it. */
  readonly cacheKey: string
}

interface CachedAuthorization {
  readonly header: Redacted.Redacted<string>
  readonly expiresAt: number
}

/** Checks only the size (as Digest.verifier does), for content whose digest the consumer checks. */
const sizeVerifier = (expectedSize: number): Pick<Digest.Verifier, "update" | "finish"> => {
  let seen = 0
  return {
    update: (chunk) => {
      seen += chunk.byteLength
      return seen > expectedSize ? Option.some({ _tag: "SizeMismatch", expected: expectedSize, actual: seen }) : Option.none()
    },
    finish: () => (seen === expectedSize ? { _tag: "Match" } : { _tag: "SizeMismatch", expected: expectedSize, actual: seen })
  }
}

const loadCaBundles = (files: ReadonlyArray<string>): ReadonlyArray<string> =>
  files.flatMap((file) => {
    try {
      return [readFileSync(file, "utf8")]
    } catch {
      return []
    }
  })

const headerValue = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

const contentLength = (headers: http.IncomingHttpHeaders): number | undefined => {
  const raw = headers["content-length"]
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined
  return Number.parseInt(raw, 10)
}

/** The Accept header: media types that came from a manifest are repeated only when they are well-formed. */
const acceptHeader = (accept: ReadonlyArray<string>): string => {
  const valid = accept.filter((mediaType) => mediaType === "*/*" || isMediaTypeToken(mediaType))
  return (valid.length > 0 ? valid : ["*/*"]).join(", ")
}

const basicHeader = (username: string, password: Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.make(`Basic ${Buffer.from(`${username}:${Redacted.value(password)}`, "utf8").toString("base64")}`)

export const make = (
  config: RegistryConfig = {}
): Effect.Effect<Registry["Type"], never, Scope.Scope | Credentials> =>
  Effect.gen(function*() {
    const credentials = yield* Credentials
    const insecureRegistries = config.insecureRegistries ?? []
    const userAgent = config.userAgent ?? "containerd-driver/0.1.0"
    const requestTimeout = Duration.decode(config.requestTimeout ?? Duration.seconds(30))
    const idleTimeout = Duration.decode(config.idleTimeout ?? Duration.seconds(60))
    const maxRedirects = config.maxRedirects ?? 10

    const extraCas = loadCaBundles(config.caFiles ?? SYSTEM_CA_FILES)
    const httpAgent = yield* Effect.acquireRelease(
      Effect.sync(() => new http.Agent({ keepAlive: true })),
      (agent) => Effect.sync(() => agent.destroy())
    )
    const httpsAgent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new https.Agent({
          keepAlive: true,
          ...(extraCas.length > 0 ? { ca: [...tls.rootCertificates, ...extraCas] } : {})
        })
      ),
      (agent) => Effect.sync(() => agent.destroy())
    )

    const authorizations = new Map<string, CachedAuthorization>()
    const remember = (key: string, entry: CachedAuthorization, now: number) => {
      // Entries are keyed by host, repository and credential: drop expired ones so the map stays small.
      if (authorizations.size >= 256) {
        for (const [other, cached] of authorizations) if (now >= cached.expiresAt) authorizations.delete(other)
      }
      authorizations.set(key, entry)
    }

    // --- one HTTP exchange ---------------------------------------------------------------------------------

    /** Sends one request; the response lives until the enclosing scope closes (then its socket is freed). */
    const exchange = (
      url: URL,
      method: "GET" | "HEAD" | "POST",
      headers: Record<string, string>,
      subject: string,
      body?: string
    ): Effect.Effect<Response, RegistryError, Scope.Scope> =>
      Effect.gen(function*() {
        const state: { response?: http.IncomingMessage } = {}
        const isHttps = url.protocol === "https:"
        const request = yield* Effect.acquireRelease(
          // Node throws at once on a header value it cannot send; such a value came from a server (or a credential
          // source) and is a failed request, never a crash.
          Effect.try({
            try: () =>
              (isHttps ? https : http).request(url, {
                method,
                headers: { "user-agent": userAgent, ...headers },
                agent: isHttps ? httpsAgent : httpAgent
              }),
            catch: (cause) =>
              new RegistryError({
                reason: "Protocol",
                message: `cannot send a request to ${url.host} while pulling ${subject}: ${
                  cause instanceof Error ? cause.message : String(cause)
                }`,
                cause
              })
          }),
          (request) =>
            Effect.sync(() => {
              if (state.response === undefined) request.destroy()
              else if (!state.response.complete) state.response.destroy()
            })
        )
        const response = yield* Effect.async<http.IncomingMessage, RegistryError>((resume) => {
          let settled = false
          request.on("error", (error: NodeJS.ErrnoException) => {
            if (settled) return
            settled = true
            resume(Effect.fail(transportFailure(error.code, error.message, url.host, subject)))
          })
          request.once("response", (response) => {
            state.response = response
            if (settled) return
            settled = true
            resume(Effect.succeed(response))
          })
          request.end(body)
          return Effect.sync(() => request.destroy())
        }).pipe(
          Effect.timeoutFail({
            duration: requestTimeout,
            onTimeout: () =>
              new RegistryError({
                reason: "Timeout",
                message: `registry ${url.host} did not answer within ${Duration.format(requestTimeout)} while ` +
                  `pulling ${subject}; ${TEMPORARY_HINT}`
              })
          })
        )
        const distinct = response.headersDistinct["www-authenticate"] ?? []
        return {
          status: response.statusCode ?? 0,
          headers: response.headers,
          wwwAuthenticate: distinct,
          body: response,
          url
        }
      })

    /** Reads a small body completely, up to `limit` bytes (`truncated` when there was more). */
    const readBody = (response: Response, limit: number, subject: string) =>
      Effect.async<{ readonly bytes: Buffer; readonly truncated: boolean }, RegistryError>((resume) => {
        const chunks: Array<Buffer> = []
        let size = 0
        let settled = false
        const body = response.body
        const settle = (effect: Effect.Effect<{ readonly bytes: Buffer; readonly truncated: boolean }, RegistryError>) => {
          if (settled) return
          settled = true
          resume(effect)
        }
        body.on("data", (chunk: Buffer) => {
          if (settled) return
          size += chunk.length
          if (size > limit) {
            chunks.push(chunk.subarray(0, chunk.length - (size - limit)))
            body.destroy()
            settle(Effect.succeed({ bytes: Buffer.concat(chunks), truncated: true }))
            return
          }
          chunks.push(chunk)
        })
        body.once("end", () => settle(Effect.succeed({ bytes: Buffer.concat(chunks), truncated: false })))
        body.once("error", (error: NodeJS.ErrnoException) =>
          settle(Effect.fail(transportFailure(error.code, error.message, response.url.host, subject)))
        )
        body.once("close", () => {
          if (!body.complete) {
            settle(Effect.fail(transportFailure("ECONNRESET", "connection closed early", response.url.host, subject)))
          }
        })
        return Effect.sync(() => body.destroy())
      }).pipe(
        Effect.timeoutFail({
          duration: idleTimeout,
          onTimeout: () =>
            new RegistryError({
              reason: "Timeout",
              message: `registry ${response.url.host} stalled while sending ${subject}; ${TEMPORARY_HINT}`
            })
        })
      )

    const readErrorBody = (response: Response, subject: string): Effect.Effect<Option.Option<RegistryErrorBody>> =>
      readBody(response, ERROR_BODY_LIMIT, subject).pipe(
        Effect.map(({ bytes }) => parseErrorBody(bytes.toString("utf8"))),
        Effect.orElseSucceed(() => Option.none())
      )

    /** Lets a finished-with response return its socket to the pool (or drops it if it misbehaves). */
    const drain = (response: Response, subject: string): Effect.Effect<void> =>
      Effect.ignore(readBody(response, ERROR_BODY_LIMIT, subject))

    // --- redirects and authentication ----------------------------------------------------------------------

    const followRedirects = (
      target: Target,
      method: "GET" | "HEAD",
      url: URL,
      accept: ReadonlyArray<string>,
      authorization: Option.Option<Redacted.Redacted<string>>,
      subject: string
    ) =>
      Effect.gen(function*() {
        let current = url
        for (let hop = 0;; hop++) {
          const headers: Record<string, string> = { accept: acceptHeader(accept) }
          if (Option.isSome(authorization) && mayForwardAuthorization(target.base, current)) {
            headers["authorization"] = Redacted.value(authorization.value)
          }
          const response = yield* exchange(current, method, headers, subject)
          const location = headerValue(response.headers.location)
          if (!REDIRECT_STATUSES.has(response.status) || location === undefined) return { response, url: current }
          yield* drain(response, subject)
          if (hop >= maxRedirects) {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `registry ${target.endpoint.host} redirected more than ${maxRedirects} times for ${subject}`
            })
          }
          try {
            current = new URL(location, current)
          } catch (cause) {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `registry ${target.endpoint.host} redirected to an invalid location for ${subject}`,
              cause
            })
          }
          if (current.protocol !== "http:" && current.protocol !== "https:") {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `registry ${target.endpoint.host} redirected to a non-HTTP location for ${subject}`
            })
          }
        }
      })

    const lookupCredential = (target: Target, subject: string) =>
      credentials.lookup(target.ref.domain, target.taskAuth).pipe(
        Effect.mapError((error) =>
          new RegistryError({
            reason: "Unauthorized",
            message: `cannot obtain credentials for ${target.ref.domain} to pull ${subject}: ${error.message}`,
            cause: error
          })
        )
      )

    const fetchToken = (
      target: Target,
      challenge: Challenge,
      credential: Option.Option<Credential>,
      subject: string
    ) =>
      Effect.scoped(Effect.gen(function*() {
        const scopes = tokenScopes(challenge, target.ref.pullScope)
        const url = yield* Option.match(tokenUrl(challenge, scopes), {
          onNone: () =>
            Effect.fail(
              new RegistryError({
                reason: "Protocol",
                message: `registry ${target.endpoint.host} sent a Bearer challenge without a usable realm ` +
                  `while pulling ${subject}`
              })
            ),
          onSome: Effect.succeed
        })
        // Credentials travel in cleartext over plain HTTP: only to this machine or to a host the operator listed.
        if (
          Option.isSome(credential) && url.protocol === "http:" && !isLoopback(url.host) &&
          !isListedInsecure(url.host, insecureRegistries)
        ) {
          return yield* new RegistryError({
            reason: "Protocol",
            message: `registry ${target.endpoint.host} sent a token realm over plain HTTP (${url.host}); ` +
              "credentials are sent in cleartext only to loopback hosts and hosts listed in insecure_registries, " +
              `not there (pulling ${subject})`
          })
        }
        let response: Response
        if (Option.isSome(credential) && credential.value._tag === "IdentityToken") {
          // OAuth2 refresh-token grant: the only way to use an identity token.
          const form = new URLSearchParams({
            grant_type: "refresh_token",
            refresh_token: Redacted.value(credential.value.token),
            client_id: "containerd-driver",
            scope: scopes.join(" ")
          })
          const service = challenge.params["service"]
          if (service !== undefined) form.set("service", service)
          const postUrl = new URL(url)
          postUrl.search = ""
          response = yield* exchange(postUrl, "POST", {
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json"
          }, subject, form.toString())
        } else {
          const headers: Record<string, string> = { accept: "application/json" }
          if (Option.isSome(credential) && credential.value._tag === "Basic") {
            headers["authorization"] = Redacted.value(basicHeader(credential.value.username, credential.value.password))
          }
          response = yield* exchange(url, "GET", headers, subject)
        }
        const { bytes } = yield* readBody(response, TOKEN_BODY_LIMIT, subject)
        if (response.status === 200) {
          const parsed = parseTokenResponse(bytes.toString("utf8"))
          if (parsed._tag === "Left") {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `token service ${url.host} for ${target.endpoint.host}: ${parsed.left} (pulling ${subject})`
            })
          }
          return parsed.right
        }
        return yield* failureFor(response.status, parseErrorBody(bytes.toString("utf8")), {
          subject,
          host: url.host,
          kind: "token"
        })
      }))

    /** Answers a 401: obtains a Bearer token or Basic header for the target and caches it. */
    const authenticate = (
      target: Target,
      challenges: ReadonlyArray<Challenge>,
      subject: string,
      errorBody: Option.Option<RegistryErrorBody>
    ) =>
      Effect.gen(function*() {
        const bearer = challenges.find((challenge) => challenge.scheme === "bearer")
        const basic = challenges.find((challenge) => challenge.scheme === "basic")
        if (bearer === undefined && basic === undefined) return yield* unauthorized(subject, errorBody)
        const credential = yield* lookupCredential(target, subject)
        const now = yield* Clock.currentTimeMillis
        if (bearer !== undefined) {
          const token = yield* fetchToken(target, bearer, credential, subject)
          const header = Redacted.make(`Bearer ${token.token}`)
          remember(target.cacheKey, { header, expiresAt: tokenExpiresAt(now, token.expiresInSeconds) }, now)
          return header
        }
        if (Option.isSome(credential) && credential.value._tag === "Basic") {
          const header = basicHeader(credential.value.username, credential.value.password)
          remember(target.cacheKey, { header, expiresAt: Number.POSITIVE_INFINITY }, now)
          return header
        }
        return yield* unauthorized(subject, errorBody)
      })

    const cachedAuthorization = (target: Target) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = authorizations.get(target.cacheKey)
        if (entry === undefined) return Option.none<Redacted.Redacted<string>>()
        if (now >= entry.expiresAt) {
          authorizations.delete(target.cacheKey)
          return Option.none<Redacted.Redacted<string>>()
        }
        return Option.some(entry.header)
      })

    /** An authenticated request: cached authorization first; on 401 authenticate once and retry. */
    const send = (
      target: Target,
      method: "GET" | "HEAD",
      url: URL,
      accept: ReadonlyArray<string>,
      subject: string
    ): Effect.Effect<Response, RegistryError, Scope.Scope> =>
      Effect.gen(function*() {
        let authorization = yield* cachedAuthorization(target)
        let challenged = false
        for (;;) {
          const { response, url: answeredBy } = yield* followRedirects(target, method, url, accept, authorization, subject)
          if (response.status !== 401) return response
          const errorBody = yield* readErrorBody(response, subject)
          // A 401 from where a redirect led (e.g. blob storage) must not get the registry's credentials.
          if (challenged || answeredBy.origin !== target.base.origin) return yield* unauthorized(subject, errorBody)
          challenged = true
          authorizations.delete(target.cacheKey)
          authorization = Option.some(
            yield* authenticate(target, parseChallenges(response.wwwAuthenticate), subject, errorBody)
          )
        }
      })

    // --- API -----------------------------------------------------------------------------------------------

    const targetFor = (ref: Reference, options: RequestOptions | undefined): Effect.Effect<Target, RegistryError> =>
      Effect.gen(function*() {
        const endpoint = endpointFor(ref.domain, insecureRegistries)
        const taskCredential = staticCredential(options?.auth, undefined)
        const credentialKey = Option.match(taskCredential, { onNone: () => "driver", onSome: fingerprint })
        // Reference.parse admits only hosts a URL can hold; this guards references built by other means.
        const base = yield* Effect.try({
          try: () => new URL(baseUrl(endpoint)),
          catch: (cause) =>
            new RegistryError({ reason: "Protocol", message: `${JSON.stringify(endpoint.host)} is not a usable registry host`, cause })
        })
        return { ref, endpoint, base, taskAuth: options?.auth, cacheKey: `${endpoint.host}\n${ref.pullScope}\n${credentialKey}` }
      })

    const apiUrl = (target: Target, kind: "manifests" | "blobs", object: string) =>
      new URL(`/v2/${target.ref.path}/${kind}/${object}`, target.base)

    const failWith = (response: Response, subject: string, kind: "manifest" | "blob") =>
      Effect.flatMap(
        readErrorBody(response, subject),
        (body) => Effect.fail(failureFor(response.status, body, { subject, host: response.url.host, kind }))
      )

    const expectDigest = (descriptor: Manifest.Descriptor, subject: string) =>
      Option.match(Digest.parse(descriptor.digest), {
        onNone: () =>
          Effect.fail(
            new RegistryError({
              reason: "Unsupported",
              message: `unsupported or malformed digest ${JSON.stringify(descriptor.digest)} in ${subject}`
            })
          ),
        onSome: Effect.succeed
      })

    const mismatch = (verdict: Digest.Verdict, subject: string) =>
      new RegistryError({
        reason: "DigestMismatch",
        message: verdict._tag === "SizeMismatch" ?
          `content of ${subject} has the wrong size: expected ${verdict.expected} bytes, received ` +
            `${verdict.actual === verdict.expected + 1 ? "more" : verdict.actual}` :
          verdict._tag === "DigestMismatch" ?
          `content of ${subject} does not match its digest (received ${verdict.actual})` :
          `content of ${subject} could not be verified`
      })

    /** The response's Content-Length differs from the descriptor's size: nothing of it is read. */
    const announcedMismatch = (announced: number, descriptor: Manifest.Descriptor, subject: string) =>
      new RegistryError({
        reason: "DigestMismatch",
        message: `registry announced ${announced} bytes (Content-Length) for ${subject}, whose descriptor says ` +
          `${descriptor.size} bytes`
      })

    const unsupportedMediaType = (mediaType: string, subject: string) =>
      Manifest.isSchema1(mediaType) ?
        new RegistryError({
          reason: "Unsupported",
          message: `${subject} is a Docker schema 1 image, which is no longer supported; push it again with a ` +
            "current Docker or OCI tool to convert it to schema 2"
        }) :
        new RegistryError({
          reason: "Unsupported",
          message: `${subject} is not a container image: unsupported manifest media type ` +
            `${JSON.stringify(mediaType === "" ? "(none)" : mediaType)}`
        })

    /** Whether the registry says the repository itself is unknown (tags/list → NAME_UNKNOWN). */
    const repositoryMissing = (target: Target, subject: string): Effect.Effect<boolean> =>
      Effect.scoped(Effect.gen(function*() {
        const url = new URL(`/v2/${target.ref.path}/tags/list?n=1`, target.base)
        const response = yield* send(target, "GET", url, ["application/json"], subject)
        const body = yield* readErrorBody(response, subject)
        return response.status === 404 && Option.getOrUndefined(body)?.code === "NAME_UNKNOWN"
      })).pipe(Effect.orElseSucceed(() => false))

    const resolve = (ref: Reference, options?: RequestOptions) =>
      Effect.scoped(Effect.gen(function*() {
        const target = yield* targetFor(ref, options)
        const subject = ref.normalized
        const url = apiUrl(target, "manifests", ref.object)
        const head = yield* send(target, "HEAD", url, Manifest.resolveAccept, subject)
        yield* drain(head, subject)
        if (head.status === 200) {
          const mediaType = mediaTypeOf(headerValue(head.headers["content-type"]))
          if (Manifest.isSchema1(mediaType)) return yield* unsupportedMediaType(mediaType, subject)
          const digest = ref.digest ?? headerValue(head.headers["docker-content-digest"])
          const size = contentLength(head.headers)
          if (
            (Manifest.isIndex(mediaType) || Manifest.isManifest(mediaType)) && digest !== undefined &&
            Option.isSome(Digest.parse(digest)) && size !== undefined
          ) {
            return { mediaType, digest, size } satisfies Manifest.Descriptor
          }
          // Not enough from HEAD (no digest/length, or a generic Content-Type): GET and look at the body.
        } else if (head.status !== 404 && head.status !== 405 && head.status !== 400) {
          // A HEAD response has no body, so there is no error code to read.
          return yield* failureFor(head.status, Option.none(), {
            subject,
            host: head.url.host,
            kind: "manifest"
          })
        }
        const get = yield* send(target, "GET", url, Manifest.resolveAccept, subject)
        if (get.status !== 200) {
          const body = yield* readErrorBody(get, subject)
          const failure = failureFor(get.status, body, { subject, host: get.url.host, kind: "manifest" })
          // Some registries (distribution 2.x) answer MANIFEST_UNKNOWN for a missing repository too.
          if (failure.reason === "ManifestUnknown" && (yield* repositoryMissing(target, subject))) {
            return yield* repositoryNotFound(subject, get.url.host)
          }
          return yield* failure
        }
        const { bytes, truncated } = yield* readBody(get, Manifest.MAX_MANIFEST_BYTES, subject)
        if (truncated) {
          return yield* new RegistryError({
            reason: "Unsupported",
            message: `the manifest of ${subject} is larger than ${Manifest.MAX_MANIFEST_BYTES} bytes`
          })
        }
        const served = mediaTypeOf(headerValue(get.headers["content-type"]))
        const mediaType = Manifest.isIndex(served) || Manifest.isManifest(served) || Manifest.isSchema1(served) ?
          served :
          Manifest.sniffMediaType(bytes) ?? served
        if (!Manifest.isIndex(mediaType) && !Manifest.isManifest(mediaType)) {
          return yield* unsupportedMediaType(mediaType, subject)
        }
        if (ref.digest !== undefined) {
          const expected = yield* expectDigest({ mediaType, digest: ref.digest, size: bytes.length }, subject)
          const verdict = Digest.verify(bytes, expected, bytes.length)
          if (verdict._tag !== "Match") return yield* mismatch(verdict, subject)
          return { mediaType, digest: ref.digest, size: bytes.length } satisfies Manifest.Descriptor
        }
        return { mediaType, digest: Digest.of(bytes), size: bytes.length } satisfies Manifest.Descriptor
      })).pipe(Effect.withSpan("Registry.resolve", { attributes: { ref: ref.normalized } }))

    const fetchManifest = (ref: Reference, descriptor: Manifest.Descriptor, options?: RequestOptions) =>
      Effect.scoped(Effect.gen(function*() {
        const target = yield* targetFor(ref, options)
        const subject = `${ref.name}@${descriptor.digest}`
        const expected = yield* expectDigest(descriptor, subject)
        if (descriptor.size > Manifest.MAX_MANIFEST_BYTES) {
          return yield* new RegistryError({
            reason: "Unsupported",
            message: `the manifest ${subject} is larger than ${Manifest.MAX_MANIFEST_BYTES} bytes`
          })
        }
        const url = apiUrl(target, "manifests", descriptor.digest)
        const response = yield* send(target, "GET", url, [descriptor.mediaType, "*/*"], subject)
        if (response.status !== 200) return yield* failWith(response, subject, "manifest")
        const announced = contentLength(response.headers)
        if (announced !== undefined && announced !== descriptor.size) return yield* announcedMismatch(announced, descriptor, subject)
        const { bytes } = yield* readBody(response, descriptor.size + 1, subject)
        const verdict = Digest.verify(bytes, expected, descriptor.size)
        if (verdict._tag !== "Match") return yield* mismatch(verdict, subject)
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      })).pipe(Effect.withSpan("Registry.fetchManifest", { attributes: { digest: descriptor.digest } }))

    const blobSource = (ref: Reference, descriptor: Manifest.Descriptor, options?: BlobOptions) =>
      ByteSource.make((sink) =>
        Effect.scoped(Effect.gen(function*() {
          const target = yield* targetFor(ref, options)
          const subject = `${ref.name}@${descriptor.digest}`
          const expected = yield* expectDigest(descriptor, subject)
          const url = apiUrl(target, "blobs", descriptor.digest)
          const response = yield* send(target, "GET", url, [descriptor.mediaType, "*/*"], subject)
          if (response.status !== 200) return yield* failWith(response, subject, "blob")
          const announced = contentLength(response.headers)
          if (announced !== undefined && announced !== descriptor.size) return yield* announcedMismatch(announced, descriptor, subject)
          const verifier = options?.verifyDigest === false ? sizeVerifier(descriptor.size) : Digest.verifier(expected, descriptor.size)
          const host = response.url.host
          yield* pipeBody(response.body, sink, {
            idleMillis: Duration.toMillis(idleTimeout),
            check: (bytes) => Option.getOrUndefined(Option.map(verifier.update(bytes), (verdict) => mismatch(verdict, subject))),
            atEnd: () => {
              const verdict = verifier.finish()
              return verdict._tag === "Match" ? undefined : mismatch(verdict, subject)
            },
            onTransportError: (code, message, received) =>
              transportFailure(code, `${message} after ${received} of ${descriptor.size} bytes`, host, subject),
            onStall: () =>
              new RegistryError({
                reason: "Timeout",
                message: `registry ${host} sent no data for ${Duration.format(idleTimeout)} while downloading ` +
                  `${subject}; ${TEMPORARY_HINT}`
              })
          })
        })).pipe(Effect.withSpan("Registry.fetchBlob", { attributes: { digest: descriptor.digest } }))
      )

    const fetchBlob = (ref: Reference, descriptor: Manifest.Descriptor, options?: BlobOptions) =>
      ByteSource.toStream(blobSource(ref, descriptor, options), { highWaterMark: BODY_HIGH_WATER_MARK })

    return Registry.of({ resolve, fetchManifest, fetchBlob, blobSource })
  })

export const layer = (config: RegistryConfig = {}): Layer.Layer<Registry, never, Credentials> =>
  Layer.scoped(Registry, make(config))
