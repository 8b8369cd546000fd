/**
 * Registry service: a Docker registry HTTP API v2 client for pulls — resolve a reference to a descriptor, fetch
 * manifests (digest-verified bytes) and stream blobs (digest- and size-verified as they flow), with anonymous,
 * Bearer-token and Basic authentication, hand-followed redirects, and the hosts containerd's `hosts.toml` files
 * describe: mirrors tried in order before the registry's server, each with its own CAs, client certificates,
 * `skip_verify` and headers (layers/registry/hostsDir.ts, src/image/RegistryHosts.ts). Loopback registries and
 * `insecure_registries` are plain HTTP when nothing else is configured for them.
 *
 * Credentials go only where they are meant for: the `auth` blocks to the registry's own server (and its token
 * service), a mirror only what config.json or a helper holds for the mirror's own name; never to a redirect
 * target on another host, and never in cleartext but to loopback or configured plain-HTTP hosts.
 *
 * Built on node:http/https so redirects, Authorization forwarding, CAs and socket teardown are under our control.
 * Interrupting any returned effect or stream (e.g. the pull's timeout, or `Effect.runPromise(…, { signal })`)
 * destroys its sockets.
 */
import * as http from "node:http"
import * as https from "node:https"
import { Clock, Context, Duration, Effect, Either, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { Credentials } from "./Credentials.js"
import * as Authorizations from "./registry/authorizations.js"
import type { Authorization } from "./registry/authorizations.js"
import { downEarlier, markDown, reportHostFailure } from "./registry/hostFailures.js"
import { loadNamespaceHosts } from "./registry/hostsDir.js"
import { pipeBody } from "./registry/pipeBody.js"
import * as TlsAgents from "./registry/tlsAgents.js"
import { type Credential, fingerprint, staticCredential, type UserPassword } from "../src/image/Credentials.js"
import * as Digest from "../src/image/Digest.js"
import * as Manifest from "../src/image/Manifest.js"
import type { Reference } from "../src/image/Reference.js"
import {
  allHostsFailed,
  apiUrl,
  baseUrlOf,
  type Capability,
  hasCapability,
  type HostAttempt,
  hostFailedWarning,
  hostsFileFor,
  type NamespaceHosts,
  noHostCan,
  type RegistryHost
} from "../src/image/RegistryHosts.js"
import {
  type Challenge,
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
  unauthorized,
  credentialsMissing,
  credentialsRejected
} from "../src/image/RegistryProtocol.js"
import {
  isPlainHttpToHttps,
  isTlsFailureCode,
  showsPeerCertificate,
  speaksHttpsMessage,
  tlsFailureMessage
} from "../src/image/TlsFailure.js"
import * as ByteSource from "../src/stream/ByteSource.js"

export { isRecoverable, RegistryError, type RegistryErrorReason } from "../src/image/RegistryProtocol.js"
export { withHostFailures } from "./registry/hostFailures.js"
export { SYSTEM_CA_FILES } from "./registry/tlsAgents.js"

export interface RegistryConfig {
  /** Registries reached over plain HTTP besides loopback ones: `host`, `host:port` or an IPv4 CIDR. */
  readonly insecureRegistries?: ReadonlyArray<string> | undefined
  /**
   * containerd's hosts directory (`/etc/containerd/certs.d` for the driver): `<host>/hosts.toml` per registry,
   * `_default` for the others. None: every registry is its default server.
   */
  readonly hostsDir?: string | undefined
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
  /** The task's own `auth` block; wins over the driver-level credential sources (for the registry's server). */
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

/**
 * The pull-side API. A failing mirror is told to the pull through `withHostFailures` (exported beside the layer):
 * the ImageStore wraps each pull in it so those messages join the pull's warnings.
 */
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

/** One host of the namespace, as one operation uses it. */
interface Target {
  readonly ref: Reference
  readonly namespace: NamespaceHosts
  readonly host: RegistryHost
  /** The host's API root (`scheme://host/v2`): its origin is where Authorization and `[header]` go. */
  readonly base: URL
  /** The pool for HTTPS with the host's TLS settings (also for its redirects and its token service). */
  readonly agent: https.Agent
  /** The task's `auth`, when the host may get it (the namespace's server). */
  readonly taskAuth: UserPassword | undefined
  /** Authorization cache key: host, pull scope, and which credentials obtained it. */
  readonly cacheKey: string
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
    const hostsDir = config.hostsDir === "" ? undefined : config.hostsDir
    const userAgent = config.userAgent ?? "containerd-driver/0.1.0"
    const requestTimeout = Duration.decode(config.requestTimeout ?? Duration.seconds(30))
    const idleTimeout = Duration.decode(config.idleTimeout ?? Duration.seconds(60))
    const maxRedirects = config.maxRedirects ?? 10

    const agents = yield* TlsAgents.make(config.caFiles ?? TlsAgents.SYSTEM_CA_FILES)
    const httpAgent = yield* Effect.acquireRelease(
      Effect.sync(() => new http.Agent({ keepAlive: true })),
      (agent) => Effect.sync(() => agent.destroy())
    )
    const authorizations = yield* Authorizations.make

    // --- one HTTP exchange ---------------------------------------------------------------------------------

    /** A failed TLS handshake, explained with the certificate the host showed and the setting that fixes it. */
    const tlsFailure = (target: Target, url: URL, code: string, detail: string, subject: string) =>
      Effect.gen(function*() {
        const peer = showsPeerCertificate(code) ? yield* TlsAgents.peerCertificate(url.host) : Option.none()
        const hostsFile = hostsFileOf(target)
        return new RegistryError({
          reason: "Protocol",
          message: tlsFailureMessage({
            host: url.host,
            subject,
            code,
            detail,
            peer: Option.getOrUndefined(peer),
            hostsFile,
            clientCertificateConfigured: target.host.tls.clientPairs.length > 0
          })
        })
      })

    /** Sends one request; the response lives until the enclosing scope closes (then its socket is freed). */
    const exchange = (
      target: Target,
      url: URL,
      method: "GET" | "HEAD" | "POST",
      headers: Record<string, string | ReadonlyArray<string>>,
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
                headers: { "user-agent": userAgent, ...headers } as http.OutgoingHttpHeaders,
                agent: isHttps ? target.agent : httpAgent
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
        const answer = yield* Effect.async<
          Either.Either<http.IncomingMessage, { readonly code: string | undefined; readonly message: string }>
        >((resume) => {
          let settled = false
          request.on("error", (error: NodeJS.ErrnoException) => {
            if (settled) return
            settled = true
            resume(Effect.succeed(Either.left({ code: error.code, message: error.message })))
          })
          request.once("response", (response) => {
            state.response = response
            if (settled) return
            settled = true
            resume(Effect.succeed(Either.right(response)))
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
        if (Either.isLeft(answer)) {
          const { code, message } = answer.left
          if (isHttps && isTlsFailureCode(code)) return yield* Effect.flip(tlsFailure(target, url, code, message, subject))
          return yield* transportFailure(code, message, url.host, subject)
        }
        const response = answer.right
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
          const headers: Record<string, string | ReadonlyArray<string>> = {}
          // The host's own headers (hosts.toml [header]) stay with the host, like its credentials.
          if (current.origin === target.base.origin) for (const [name, values] of target.host.headers) headers[name] = values
          headers["accept"] = acceptHeader(accept)
          if (Option.isSome(authorization) && mayForwardAuthorization(target.base, current)) {
            headers["authorization"] = Redacted.value(authorization.value)
          }
          const response = yield* exchange(target, current, method, headers, subject)
          const location = headerValue(response.headers.location)
          if (!REDIRECT_STATUSES.has(response.status) || location === undefined) return { response, url: current }
          yield* drain(response, subject)
          if (hop >= maxRedirects) {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `registry ${target.host.host} redirected more than ${maxRedirects} times for ${subject}`
            })
          }
          try {
            current = new URL(location, current)
          } catch (cause) {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `registry ${target.host.host} redirected to an invalid location for ${subject}`,
              cause
            })
          }
          if (current.protocol !== "http:" && current.protocol !== "https:") {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `registry ${target.host.host} redirected to a non-HTTP location for ${subject}`
            })
          }
        }
      })

    const lookupCredential = (target: Target, subject: string) =>
      credentials.lookup(target.host.credentialKey, target.taskAuth, { staticAuth: target.host.staticAuth }).pipe(
        Effect.mapError((error) =>
          new RegistryError({
            reason: "Unauthorized",
            message: `cannot obtain credentials for ${target.host.credentialKey} to pull ${subject}: ${error.message}`,
            cause: error
          })
        )
      )

    /** A 401 told apart by whether credentials were sent: none configured, or the ones sent refused. */
    const denied = (
      subject: string,
      host: string,
      credential: Option.Option<Credential>,
      errorBody: Option.Option<RegistryErrorBody>
    ): RegistryError =>
      Option.match(credential, {
        onNone: () => credentialsMissing(subject, host, errorBody),
        onSome: (sent) =>
          credentialsRejected(subject, host, sent._tag === "Basic" ? `user "${sent.username}"` : "an identity token", errorBody)
      })

    /** Credentials travel in cleartext only to this machine, `insecure_registries`, or hosts configured as http://. */
    const mayReceiveCleartext = (target: Target, url: URL): boolean =>
      url.protocol === "https:" || isLoopback(url.host) || isListedInsecure(url.host, insecureRegistries) ||
      target.namespace.hosts.some((host) => host.scheme === "http" && host.host === url.host)

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
                message: `registry ${target.host.host} sent a Bearer challenge without a usable realm ` +
                  `while pulling ${subject}`
              })
            ),
          onSome: Effect.succeed
        })
        if (Option.isSome(credential) && !mayReceiveCleartext(target, url)) {
          return yield* new RegistryError({
            reason: "Protocol",
            message: `registry ${target.host.host} sent a token realm over plain HTTP (${url.host}); ` +
              "credentials are sent in cleartext only to loopback hosts, hosts listed in insecure_registries and " +
              `hosts configured as http:// in hosts.toml, not there (pulling ${subject})`
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
          response = yield* exchange(target, postUrl, "POST", {
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json"
          }, subject, form.toString())
        } else {
          const headers: Record<string, string> = { accept: "application/json" }
          if (Option.isSome(credential) && credential.value._tag === "Basic") {
            headers["authorization"] = Redacted.value(basicHeader(credential.value.username, credential.value.password))
          }
          response = yield* exchange(target, url, "GET", headers, subject)
        }
        const { bytes } = yield* readBody(response, TOKEN_BODY_LIMIT, subject)
        if (response.status === 200) {
          const parsed = parseTokenResponse(bytes.toString("utf8"))
          if (parsed._tag === "Left") {
            return yield* new RegistryError({
              reason: "Protocol",
              message: `token service ${url.host} for ${target.host.host}: ${parsed.left} (pulling ${subject})`
            })
          }
          return parsed.right
        }
        const errorBody = parseErrorBody(bytes.toString("utf8"))
        if (response.status === 401) return yield* denied(subject, target.host.host, credential, errorBody)
        return yield* failureFor(response.status, errorBody, { subject, host: url.host, kind: "token" })
      }))

    /** A Bearer token for the target from the token service the challenge names. */
    const bearerAuthorization = (target: Target, challenge: Challenge, subject: string) =>
      Effect.gen(function*() {
        const credential = yield* lookupCredential(target, subject)
        const token = yield* fetchToken(target, challenge, credential, subject)
        const receivedAt = yield* Clock.currentTimeMillis
        return {
          header: Redacted.make(`Bearer ${token.token}`),
          expiresAt: tokenExpiresAt(receivedAt, token.expiresInSeconds),
          challenge
        } satisfies Authorization
      })

    /** Answers a 401: a Bearer token, or a Basic header when the registry asks for Basic and credentials exist. */
    const authenticate = (
      target: Target,
      challenges: ReadonlyArray<Challenge>,
      subject: string,
      errorBody: Option.Option<RegistryErrorBody>
    ): Effect.Effect<Authorization, RegistryError> =>
      Effect.gen(function*() {
        const bearer = challenges.find((challenge) => challenge.scheme === "bearer")
        if (bearer !== undefined) return yield* bearerAuthorization(target, bearer, subject)
        const basic = challenges.find((challenge) => challenge.scheme === "basic")
        if (basic === undefined) return yield* unauthorized(subject, errorBody)
        const credential = yield* lookupCredential(target, subject)
        if (Option.isSome(credential) && credential.value._tag === "Basic") {
          return {
            header: basicHeader(credential.value.username, credential.value.password),
            expiresAt: Number.POSITIVE_INFINITY,
            challenge: undefined
          }
        }
        // An identity token cannot answer a Basic challenge: nothing usable is sent.
        return yield* credentialsMissing(subject, target.host.host, errorBody)
      })

    /**
     * An authenticated request: the current authorization first (renewed before the request when it ran out); on
     * a 401, a new one once — with the challenge the 401 brings — and the request again.
     */
    const send = (
      target: Target,
      method: "GET" | "HEAD",
      url: URL,
      accept: ReadonlyArray<string>,
      subject: string
    ): Effect.Effect<Response, RegistryError, Scope.Scope> =>
      Effect.gen(function*() {
        let authorization = yield* authorizations.current(
          target.cacheKey,
          (challenge) => bearerAuthorization(target, challenge, subject)
        )
        let challenged = false
        for (;;) {
          const { response, url: answeredBy } = yield* followRedirects(target, method, url, accept, authorization, subject)
          if (response.status !== 401) return response
          const errorBody = yield* readErrorBody(response, subject)
          // A 401 from where a redirect led (e.g. blob storage) must not get the registry's credentials.
          if (answeredBy.origin !== target.base.origin) return yield* unauthorized(subject, errorBody)
          // Refused again with the authorization the challenge asked for: it was obtained with the credentials
          // configured for this registry, if there are any.
          if (challenged) return yield* denied(subject, target.host.host, yield* lookupCredential(target, subject), errorBody)
          challenged = true
          const challenges = parseChallenges(response.wwwAuthenticate)
          authorization = Option.some(
            yield* authorizations.replace(target.cacheKey, authorization, authenticate(target, challenges, subject, errorBody))
          )
        }
      })

    // --- hosts ---------------------------------------------------------------------------------------------

    const targetFor = (
      ref: Reference,
      namespace: NamespaceHosts,
      host: RegistryHost,
      options: RequestOptions | undefined
    ): Effect.Effect<Target, RegistryError> =>
      Effect.gen(function*() {
        const taskAuth = host.staticAuth ? options?.auth : undefined
        const taskCredential = staticCredential(taskAuth, undefined)
        const credentialKey = Option.match(taskCredential, { onNone: () => "driver", onSome: fingerprint })
        // Reference.parse admits only hosts a URL can hold; this guards references built by other means.
        const base = yield* Effect.try({
          try: () => new URL(baseUrlOf(host)),
          catch: (cause) =>
            new RegistryError({ reason: "Protocol", message: `${JSON.stringify(host.host)} is not a usable registry host`, cause })
        })
        const agent = yield* agents.agentFor(host.tls, host.host)
        return {
          ref,
          namespace,
          host,
          base,
          agent,
          taskAuth,
          cacheKey: `${baseUrlOf(host)}\n${ref.pullScope}\n${credentialKey}`
        }
      })

    /**
     * Runs `attempt` against the namespace's hosts that have `capability`, in order, until one succeeds. A mirror
     * that fails is reported to the pull and the next host is tried (one that could not be reached is skipped for
     * the rest of the pull); when the last host fails too, the error names every host tried.
     */
    const acrossHosts = <A>(
      ref: Reference,
      capabilities: ReadonlyArray<Capability>,
      options: RequestOptions | undefined,
      subject: string,
      attempt: (target: Target) => Effect.Effect<A, RegistryError, Scope.Scope>
    ): Effect.Effect<A, RegistryError, Scope.Scope> =>
      Effect.gen(function*() {
        const namespace = yield* loadNamespaceHosts(hostsDir, ref.domain, insecureRegistries)
        const hosts = namespace.hosts.filter((host) => capabilities.every((capability) => hasCapability(host, capability)))
        if (hosts.length === 0) return yield* noHostCan(namespace, capabilities, subject)
        const attempts: Array<HostAttempt> = []
        for (const [index, host] of hosts.entries()) {
          const last = index === hosts.length - 1
          const key = baseUrlOf(host)
          const earlier = last ? Option.none() : yield* downEarlier(key)
          if (Option.isSome(earlier)) {
            attempts.push({ host, error: earlier.value, skipped: true })
            continue
          }
          const result = yield* Effect.either(Effect.flatMap(targetFor(ref, namespace, host, options), attempt))
          if (Either.isRight(result)) return result.right
          const error = result.left
          attempts.push({ host, error, skipped: false })
          if (last) return yield* (attempts.length === 1 ? Effect.fail(error) : Effect.fail(allHostsFailed(ref.domain, subject, attempts)))
          if (error.reason === "Unreachable" || error.reason === "Timeout") yield* markDown(key, error)
          yield* reportHostFailure(key, hostFailedWarning(ref.domain, subject, host, error, hosts[index + 1]!))
        }
        return yield* Effect.die("unreachable: the last host returns or fails")
      })

    // --- API -----------------------------------------------------------------------------------------------

    const manifestUrl = (target: Target, object: string) =>
      apiUrl(target.host, target.ref.domain, target.ref.path, `manifests/${object}`)

    /** The hosts.toml that configures the target's namespace (or would), for messages. */
    const hostsFileOf = (target: Target): string | undefined =>
      hostsDir === undefined ?
        undefined :
        target.namespace.source._tag === "HostsFile" ?
        target.namespace.source.file :
        hostsFileFor(hostsDir, target.namespace.domain)

    /** The error for a non-success answer, from its status and error body. */
    const responseFailure = (target: Target, response: Response, subject: string, kind: "manifest" | "blob") =>
      Effect.gen(function*() {
        const text = yield* readBody(response, ERROR_BODY_LIMIT, subject).pipe(
          Effect.map(({ bytes }) => bytes.toString("utf8")),
          Effect.orElseSucceed(() => "")
        )
        if (response.url.protocol === "http:" && isPlainHttpToHttps(response.status, text)) {
          return new RegistryError({
            reason: "Protocol",
            message: speaksHttpsMessage({ host: response.url.host, subject, hostsFile: hostsFileOf(target) })
          })
        }
        return failureFor(response.status, parseErrorBody(text), { subject, host: response.url.host, kind })
      })

    const failWith = (target: Target, response: Response, subject: string, kind: "manifest" | "blob") =>
      Effect.flatMap(responseFailure(target, response, subject, kind), Effect.fail)

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
        const url = apiUrl(target.host, target.ref.domain, target.ref.path, "tags/list")
        url.searchParams.set("n", "1")
        const response = yield* send(target, "GET", url, ["application/json"], subject)
        const body = yield* readErrorBody(response, subject)
        return response.status === 404 && Option.getOrUndefined(body)?.code === "NAME_UNKNOWN"
      })).pipe(Effect.orElseSucceed(() => false))

    /** Resolution on one host. */
    const resolveOn = (target: Target, subject: string) =>
      Effect.gen(function*() {
        const ref = target.ref
        const url = manifestUrl(target, ref.object)
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
          const failure = yield* responseFailure(target, get, subject, "manifest")
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
      })

    // As containerd: a tag only from hosts trusted to resolve; a digest from any that serves content (it is checked).
    const resolve = (ref: Reference, options?: RequestOptions) =>
      Effect.scoped(
        acrossHosts(ref, ref.digest === undefined ? ["pull", "resolve"] : ["pull"], options, ref.normalized, (target) =>
          resolveOn(target, ref.normalized))
      )
        .pipe(Effect.withSpan("Registry.resolve", { attributes: { ref: ref.normalized } }))

    const fetchManifest = (ref: Reference, descriptor: Manifest.Descriptor, options?: RequestOptions) =>
      Effect.scoped(Effect.gen(function*() {
        const subject = `${ref.name}@${descriptor.digest}`
        const expected = yield* expectDigest(descriptor, subject)
        if (descriptor.size > Manifest.MAX_MANIFEST_BYTES) {
          return yield* new RegistryError({
            reason: "Unsupported",
            message: `the manifest ${subject} is larger than ${Manifest.MAX_MANIFEST_BYTES} bytes`
          })
        }
        return yield* acrossHosts(ref, ["pull"], options, subject, (target) =>
          Effect.gen(function*() {
            const url = manifestUrl(target, descriptor.digest)
            const response = yield* send(target, "GET", url, [descriptor.mediaType, "*/*"], subject)
            if (response.status !== 200) return yield* failWith(target, response, subject, "manifest")
            const announced = contentLength(response.headers)
            if (announced !== undefined && announced !== descriptor.size) return yield* announcedMismatch(announced, descriptor, subject)
            const { bytes } = yield* readBody(response, descriptor.size + 1, subject)
            const verdict = Digest.verify(bytes, expected, descriptor.size)
            if (verdict._tag !== "Match") return yield* mismatch(verdict, subject)
            return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
          }))
      })).pipe(Effect.withSpan("Registry.fetchManifest", { attributes: { digest: descriptor.digest } }))

    const blobSource = (ref: Reference, descriptor: Manifest.Descriptor, options?: BlobOptions) =>
      ByteSource.make((sink) =>
        Effect.scoped(Effect.gen(function*() {
          const subject = `${ref.name}@${descriptor.digest}`
          const expected = yield* expectDigest(descriptor, subject)
          // Another host is tried only until the body starts: bytes given to the sink cannot be taken back.
          const response = yield* acrossHosts(ref, ["pull"], options, subject, (target) =>
            Effect.gen(function*() {
              const url = apiUrl(target.host, ref.domain, ref.path, `blobs/${descriptor.digest}`)
              const response = yield* send(target, "GET", url, [descriptor.mediaType, "*/*"], subject)
              if (response.status !== 200) return yield* failWith(target, response, subject, "blob")
              const announced = contentLength(response.headers)
              if (announced !== undefined && announced !== descriptor.size) return yield* announcedMismatch(announced, descriptor, subject)
              return response
            }))
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
