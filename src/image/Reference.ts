/**
 * Docker image references: parsing and normalisation the way Docker/nerdctl do it (distribution/reference
 * `ParseDockerRef`), so `redis` means `docker.io/library/redis:latest`.
 *
 * Pure; failures are `ReferenceError` values, never exceptions.
 */
import { isIPv6 } from "node:net"
import { Data, Either } from "effect"
import * as Digest from "./Digest.js"

export const DOCKER_HUB_DOMAIN = "docker.io"
/** The API host that serves `docker.io` repositories. */
export const DOCKER_HUB_REGISTRY_HOST = "registry-1.docker.io"
const LEGACY_DOCKER_HUB_DOMAIN = "index.docker.io"
const OFFICIAL_REPOSITORY_PREFIX = "library/"
const DEFAULT_TAG = "latest"

/** Limit on `domain/path` (distribution's NameTotalLengthMax). */
export const NAME_MAX_LENGTH = 255
export const TAG_MAX_LENGTH = 128
/** Anything longer cannot be a valid reference; rejected before any pattern matching. */
const INPUT_MAX_LENGTH = NAME_MAX_LENGTH + 1 + TAG_MAX_LENGTH + 1 + 7 + 128

const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
const domainPattern = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[([a-fA-F0-9:]+)\\])(?::([0-9]+))?$`)
/** Highest TCP port; 0 is not a port a registry listens on (an HTTP client would silently use 80). */
const MAX_PORT = 65535
const pathComponentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const tagPattern = /^[\w][\w.-]{0,127}$/
const hexNamePattern = /^[a-f0-9]{64}$/

export type ReferenceErrorReason =
  | "Empty"
  | "TooLong"
  | "InvalidFormat"
  | "InvalidDomain"
  | "Uppercase"
  | "HexName"
  | "InvalidTag"
  | "InvalidDigest"

export class ReferenceError extends Data.TaggedError("ReferenceError")<{
  readonly reason: ReferenceErrorReason
  readonly input: string
  readonly message: string
}> {}

interface ReferenceFields {
  /** Registry domain as written (`docker.io` for Docker Hub, `index.docker.io` folded into it). */
  readonly domain: string
  /** Repository path inside the registry, e.g. `library/redis`. */
  readonly path: string
  readonly tag?: string
  readonly digest?: string
}

/**
 * A parsed reference. Equality is structural (`Equal.equals`). A reference may carry both a tag and a digest;
 * the digest is what gets fetched.
 */
export class Reference extends Data.Class<ReferenceFields> {
  /** The repository name the registry API uses (`/v2/<repository>/...`). */
  get repository(): string {
    return this.path
  }

  /** `domain/path` */
  get name(): string {
    return `${this.domain}/${this.path}`
  }

  /**
   * Canonical form used as the image record name: `domain/path@digest` when a digest is known (the tag is then
   * only informational and dropped), else `domain/path:tag` with `latest` as the default tag.
   */
  get normalized(): string {
    return this.digest !== undefined ? `${this.name}@${this.digest}` : `${this.name}:${this.tag ?? DEFAULT_TAG}`
  }

  /** Shortest form a Docker user would write (`redis:alpine`, `user/app`), keeping tag and digest as given. */
  get familiar(): string {
    return `${familiarName(this)}${suffix(this)}`
  }

  /** What the registry is asked for: the digest if present, else the tag (default `latest`). */
  get object(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG
  }

  /** Scope for registry token requests. */
  get pullScope(): string {
    return `repository:${this.path}:pull`
  }

  override toString(): string {
    return this.normalized
  }
}

const suffix = (ref: ReferenceFields): string =>
  `${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`

const looksLikeDomain = (component: string): boolean =>
  component.includes(".") || component.includes(":") || component === "localhost" ||
  component.toLowerCase() !== component

const familiarName = (ref: ReferenceFields): string => {
  if (ref.domain !== DOCKER_HUB_DOMAIN) return `${ref.domain}/${ref.path}`
  const official = ref.path.startsWith(OFFICIAL_REPOSITORY_PREFIX) ?
    ref.path.slice(OFFICIAL_REPOSITORY_PREFIX.length) :
    undefined
  if (official !== undefined && !official.includes("/")) return official
  // A first path component that itself looks like a domain would be read back as one: keep the domain then.
  const first = ref.path.split("/")[0] ?? ""
  return looksLikeDomain(first) ? `${ref.domain}/${ref.path}` : ref.path
}

/** Lossless string form: `domain/path[:tag][@digest]`. `parse(format(r))` equals `r`. */
export const format = (ref: Reference): string => `${ref.name}${suffix(ref)}`

/** Builds a reference from parts, omitting absent tag/digest so structural equality is not affected. */
export const make = (fields: {
  readonly domain: string
  readonly path: string
  readonly tag?: string | undefined
  readonly digest?: string | undefined
}): Reference =>
  new Reference({
    domain: fields.domain,
    path: fields.path,
    ...(fields.tag !== undefined ? { tag: fields.tag } : {}),
    ...(fields.digest !== undefined ? { digest: fields.digest } : {})
  })

/** Whether the registry URL built from this host can exist (the registry client builds `scheme://host/v2/…`). */
const isUrlHost = (hostPort: string): boolean => {
  try {
    new URL(`http://${hostPort}/`)
    return true
  } catch {
    return false
  }
}

const invalid = (reason: ReferenceErrorReason, input: string, detail: string) =>
  Either.left(
    new ReferenceError({
      reason,
      input,
      message: `invalid image reference ${JSON.stringify(input)}: ${detail}`
    })
  )

/**
 * Parses a user-supplied image reference with Docker's normalisation: a missing domain means `docker.io`, a
 * single-component Docker Hub path gets `library/`, `index.docker.io` becomes `docker.io`.
 */
export const parse = (input: string): Either.Either<Reference, ReferenceError> => {
  if (input.length === 0) return invalid("Empty", input, "the image name is empty")
  if (input.length > INPUT_MAX_LENGTH) {
    return invalid("TooLong", input, `a reference cannot be longer than ${INPUT_MAX_LENGTH} characters`)
  }
  if (hexNamePattern.test(input)) {
    return invalid(
      "HexName",
      input,
      "a 64-character hexadecimal string is an image ID, not a repository name; use \"name@sha256:<hex>\""
    )
  }

  const at = input.indexOf("@")
  const namePart = at >= 0 ? input.slice(0, at) : input
  const digest = at >= 0 ? input.slice(at + 1) : undefined

  const slash = namePart.indexOf("/")
  const first = slash >= 0 ? namePart.slice(0, slash) : undefined
  const hasDomain = first !== undefined && looksLikeDomain(first)
  const writtenDomain = hasDomain ? first : DOCKER_HUB_DOMAIN
  const rest = hasDomain ? namePart.slice(slash + 1) : namePart

  // Past the domain a ':' can only introduce the tag.
  const colon = rest.indexOf(":")
  let path = colon >= 0 ? rest.slice(0, colon) : rest
  const tag = colon >= 0 ? rest.slice(colon + 1) : undefined

  const domainParts = domainPattern.exec(writtenDomain)
  if (domainParts === null) {
    return invalid("InvalidDomain", input, `${JSON.stringify(writtenDomain)} is not a valid registry host[:port]`)
  }
  const [, ipv6, port] = domainParts
  if (ipv6 !== undefined && !isIPv6(ipv6)) {
    return invalid("InvalidDomain", input, `${JSON.stringify(writtenDomain)} does not hold a valid IPv6 address`)
  }
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= MAX_PORT)) {
    return invalid("InvalidDomain", input, `port ${port} of ${JSON.stringify(writtenDomain)} is not between 1 and ${MAX_PORT}`)
  }
  if (!isUrlHost(writtenDomain)) {
    // e.g. 999.1.1.1 or a.1: a last label of digits makes URL parsing read the host as an IPv4 address.
    return invalid("InvalidDomain", input, `${JSON.stringify(writtenDomain)} is not a valid registry host (not a usable IP address or name)`)
  }
  const domain = writtenDomain === LEGACY_DOCKER_HUB_DOMAIN ? DOCKER_HUB_DOMAIN : writtenDomain
  if (path.length === 0) return invalid("InvalidFormat", input, "the repository name is missing")
  if (domain === DOCKER_HUB_DOMAIN && !path.includes("/")) path = `${OFFICIAL_REPOSITORY_PREFIX}${path}`

  if (path.toLowerCase() !== path) {
    return invalid("Uppercase", input, "the repository name must be lowercase")
  }
  if (!path.split("/").every((component) => pathComponentPattern.test(component))) {
    return invalid(
      "InvalidFormat",
      input,
      "repository path components may only contain lowercase letters, digits and single separators (. _ __ -), " +
        "separated by \"/\""
    )
  }
  if (tag !== undefined && !tagPattern.test(tag)) {
    return invalid(
      "InvalidTag",
      input,
      `tag ${JSON.stringify(tag)} must be 1-${TAG_MAX_LENGTH} characters of [A-Za-z0-9_.-], not starting with "." or "-"`
    )
  }
  if (digest !== undefined) {
    if (!Digest.isWellFormed(digest)) {
      return invalid("InvalidDigest", input, `digest ${JSON.stringify(digest)} is not of the form algorithm:hex`)
    }
    if (Digest.parse(digest)._tag === "None") {
      return invalid(
        "InvalidDigest",
        input,
        `digest ${JSON.stringify(digest)} is not supported: use sha256 (64), sha384 (96) or sha512 (128) lowercase hex digits`
      )
    }
  }
  const name = `${domain}/${path}`
  if (name.length > NAME_MAX_LENGTH) {
    return invalid("TooLong", input, `the repository name ${name} is longer than ${NAME_MAX_LENGTH} characters`)
  }
  return Either.right(make({ domain, path, tag, digest }))
}

/** `parse(input).normalized`: e.g. `redis` → `docker.io/library/redis:latest`. Idempotent. */
export const normalize = (input: string): Either.Either<string, ReferenceError> =>
  Either.map(parse(input), (ref) => ref.normalized)

/**
 * The reference as it is pulled and recorded: a digest wins over a tag (tag dropped); neither means `:latest`.
 */
export const canonical = (ref: Reference): Reference =>
  ref.digest !== undefined ?
    make({ domain: ref.domain, path: ref.path, digest: ref.digest }) :
    make({ domain: ref.domain, path: ref.path, tag: ref.tag ?? DEFAULT_TAG })
