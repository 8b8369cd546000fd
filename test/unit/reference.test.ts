import { describe, expect, it } from "@effect/vitest"
import { Either, Equal } from "effect"
import * as fc from "fast-check"
import * as Reference from "../../src/image/Reference.js"

const sha256 = "sha256:" + "0123456789abcdef".repeat(4)

const parseOrThrow = (input: string): Reference.Reference =>
  Either.getOrThrowWith(Reference.parse(input), (error) => new Error(error.message))

const failure = (input: string): Reference.ReferenceError =>
  Either.match(Reference.parse(input), {
    onLeft: (error) => error,
    onRight: (ref) => {
      throw new Error(`expected ${JSON.stringify(input)} to be rejected, got ${ref.normalized}`)
    }
  })

// --- arbitraries over the space of parsed (already normalised) references ------------------------------------

const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/)
const separator = fc.constantFrom(".", "_", "__", "-", "--")
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 2 }))
  .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(""))

const hostLabel = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/)
const port = fc.integer({ min: 1, max: 65535 }).map(String)
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join("."))
// A last label of digits only would make the name an IPv4 address to URL parsing (and to DNS, no name): not a host.
const hostWithDot = fc.array(hostLabel, { minLength: 2, maxLength: 3 })
  .filter((labels) => !/^[0-9]+$/.test(labels[labels.length - 1]!))
  .map((labels) => labels.join("."))
const domain = fc
  .oneof(
    fc.constant("docker.io"),
    hostWithDot,
    fc.constant("localhost"),
    ipv4,
    fc.constant("[::1]"),
    fc.constant("[fe80::1]")
  )
  .chain((host) =>
    host === "docker.io" ? fc.constant(host) : fc.option(port, { nil: undefined }).map((p) => (p ? `${host}:${p}` : host))
  )
  .filter((d) => d.toLowerCase() !== "index.docker.io")

const tag = fc.stringMatching(/^[\w][\w.-]{0,20}$/)
const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`)

const validReference = fc
  .record({
    domain,
    components: fc.array(pathComponent, { minLength: 1, maxLength: 3 }),
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined })
  })
  .map(({ components, digest, domain, tag }) => {
    const joined = components.join("/")
    const path = domain === "docker.io" && components.length === 1 ? `library/${joined}` : joined
    return Reference.make({ domain, path, tag, digest: digest ?? undefined })
  })
  .filter((ref) => ref.name.length <= Reference.NAME_MAX_LENGTH)

// --- invalid inputs ----------------------------------------------------------------------------------------

const withUppercase = pathComponent.chain((component) =>
  fc.nat(component.length - 1).map((i) => component.slice(0, i) + component.charAt(i).toUpperCase() + component.slice(i + 1))
).filter((component) => /[A-Z]/.test(component))

const invalidInput = fc.oneof(
  fc.constant(""),
  // uppercase anywhere in the repository path (after an explicit domain, or as the only component)
  fc.tuple(hostWithDot, withUppercase).map(([host, component]) => `${host}/${component}`),
  withUppercase,
  // tags that break the grammar
  fc.tuple(pathComponent, fc.constantFrom("", "-x", ".x", "a/b", "a b", "é", "x".repeat(129))).map(([name, t]) =>
    `${name}:${t}`
  ),
  // digests that are malformed or unsupported
  fc.tuple(
    pathComponent,
    fc.constantFrom("sha256:abc", `sha256:${"A".repeat(64)}`, `md5:${"a".repeat(32)}`, "sha256", `sha256:${"a".repeat(63)}`)
  ).map(([name, d]) => `${name}@${d}`),
  // 64 hex characters are an image ID, not a name
  fc.stringMatching(/^[a-f0-9]{64}$/),
  // empty components, leading/trailing separators
  fc.tuple(pathComponent, fc.constantFrom("//", "/", "-", "_", ".")).map(([name, bad]) => `${name}${bad}`),
  fc.tuple(pathComponent, fc.constantFrom("-", "_", ".")).map(([name, bad]) => `registry.example.com/${bad}${name}`),
  // over-long names
  fc.integer({ min: 256, max: 400 }).map((n) => `registry.example.com/${"a".repeat(n)}`)
)

describe("Reference.parse — documented examples", () => {
  const normalized: ReadonlyArray<readonly [string, string]> = [
    ["redis", "docker.io/library/redis:latest"],
    ["redis:alpine", "docker.io/library/redis:alpine"],
    ["alpine", "docker.io/library/alpine:latest"],
    ["user/repo", "docker.io/user/repo:latest"],
    ["nomad/x:1", "docker.io/nomad/x:1"],
    ["host:5000/repo:tag", "host:5000/repo:tag"],
    ["localhost/repo", "localhost/repo:latest"],
    ["localhost:5000/a", "localhost:5000/a:latest"],
    ["127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest"],
    ["registry.example.com/team/app:1.2", "registry.example.com/team/app:1.2"],
    ["[::1]:5000/app", "[::1]:5000/app:latest"],
    ["index.docker.io/redis", "docker.io/library/redis:latest"],
    ["index.docker.io/user/repo:v1", "docker.io/user/repo:v1"],
    ["docker.io/redis", "docker.io/library/redis:latest"],
    ["docker.io/library/redis:latest", "docker.io/library/redis:latest"],
    [`repo@${sha256}`, `docker.io/library/repo@${sha256}`],
    [`repo:tag@${sha256}`, `docker.io/library/repo@${sha256}`],
    [`quay.io/org/app:v2@${sha256}`, `quay.io/org/app@${sha256}`],
    // a port-like suffix without a slash is a tag (Docker's rule)
    ["localhost:5000", "docker.io/library/localhost:5000"],
    // a first component with a dot is a domain, even if it looks like a user name
    ["my.user/app", "my.user/app:latest"],
    ["a__b/c--d/e.f_g:Tag_1.0-rc", "docker.io/a__b/c--d/e.f_g:Tag_1.0-rc"]
  ]
  for (const [input, expected] of normalized) {
    it(`${input} → ${expected}`, () => {
      expect(Reference.normalize(input)).toEqual(Either.right(expected))
    })
  }

  it("splits into domain, path, tag and digest", () => {
    expect(parseOrThrow("redis")).toMatchObject({ domain: "docker.io", path: "library/redis" })
    expect(parseOrThrow("redis").tag).toBeUndefined()
    expect(parseOrThrow("host:5000/repo:tag")).toMatchObject({ domain: "host:5000", path: "repo", tag: "tag" })
    const both = parseOrThrow(`repo:tag@${sha256}`)
    expect(both).toMatchObject({ domain: "docker.io", path: "library/repo", tag: "tag", digest: sha256 })
    expect(both.object).toBe(sha256)
    expect(parseOrThrow("redis").object).toBe("latest")
    expect(parseOrThrow("user/repo").pullScope).toBe("repository:user/repo:pull")
  })

  const familiar: ReadonlyArray<readonly [string, string]> = [
    ["docker.io/library/redis:alpine", "redis:alpine"],
    ["docker.io/library/redis", "redis"],
    ["docker.io/user/repo", "user/repo"],
    ["docker.io/library/a/b", "library/a/b"],
    ["localhost:5000/a:1", "localhost:5000/a:1"],
    [`redis:7@${sha256}`, `redis:7@${sha256}`]
  ]
  for (const [input, expected] of familiar) {
    it(`familiar(${input}) = ${expected}`, () => {
      expect(parseOrThrow(input).familiar).toBe(expected)
    })
  }

  it("canonical keeps the digest over the tag and defaults the tag", () => {
    expect(Reference.canonical(parseOrThrow(`repo:tag@${sha256}`)).tag).toBeUndefined()
    expect(Reference.canonical(parseOrThrow("repo")).tag).toBe("latest")
  })
})

describe("Reference.parse — rejected inputs", () => {
  const rejected: ReadonlyArray<readonly [string, Reference.ReferenceErrorReason]> = [
    ["", "Empty"],
    ["Redis", "Uppercase"],
    ["docker.io/User/repo", "Uppercase"],
    ["registry.example.com/Team/app", "Uppercase"],
    ["redis:", "InvalidTag"],
    ["redis:-x", "InvalidTag"],
    [`redis:${"x".repeat(129)}`, "InvalidTag"],
    ["repo@sha256:abc", "InvalidDigest"],
    [`repo@md5:${"a".repeat(32)}`, "InvalidDigest"],
    [`repo@sha256:${"A".repeat(64)}`, "InvalidDigest"],
    ["0123456789abcdef".repeat(4), "HexName"],
    ["a//b", "InvalidFormat"],
    ["host:5000/", "InvalidFormat"],
    ["-foo", "InvalidFormat"],
    ["foo/", "InvalidFormat"],
    ["foo bar", "InvalidFormat"],
    ["bad_host.com/app", "InvalidDomain"],
    // Ports outside 1–65535 (issue 8, item 3: they crashed URL building or silently meant port 80).
    ["localhost:99999/x", "InvalidDomain"],
    ["localhost:65536/x", "InvalidDomain"],
    ["localhost:0/x", "InvalidDomain"],
    ["127.0.0.1:00000/x", "InvalidDomain"],
    ["[::1]:70000/x", "InvalidDomain"],
    ["[:::::]:5000/x", "InvalidDomain"],
    ["999.1.1.1/x", "InvalidDomain"],
    ["registry.123:5000/x", "InvalidDomain"],
    [`registry.example.com/${"a".repeat(240)}`, "TooLong"],
    ["a".repeat(5000), "TooLong"]
  ]
  for (const [input, reason] of rejected) {
    it(`${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)} → ${reason}`, () => {
      const error = failure(input)
      expect(error).toBeInstanceOf(Reference.ReferenceError)
      expect(error._tag).toBe("ReferenceError")
      expect(error.reason).toBe(reason)
      expect(error.input).toBe(input)
    })
  }

  it("accepts the ends of the port range", () => {
    expect(parseOrThrow("localhost:1/x").domain).toBe("localhost:1")
    expect(parseOrThrow("localhost:65535/x").domain).toBe("localhost:65535")
    expect(failure("localhost:65536/x").message).toBe(
      "invalid image reference \"localhost:65536/x\": port 65536 of \"localhost:65536\" is not between 1 and 65535"
    )
  })

  it("names the input in the message", () => {
    expect(failure("Redis").message).toBe("invalid image reference \"Redis\": the repository name must be lowercase")
    expect(failure("redis:-x").message).toContain("\"redis:-x\"")
  })
})

describe("Reference — properties", () => {
  it.prop("parse(format(x)) equals x", [validReference], ([ref]) => {
    const reparsed = Reference.parse(Reference.format(ref))
    expect(Either.isRight(reparsed)).toBe(true)
    if (Either.isRight(reparsed)) expect(Equal.equals(reparsed.right, ref)).toBe(true)
  })

  it.prop("familiar names round-trip", [validReference], ([ref]) => {
    const reparsed = Reference.parse(ref.familiar)
    expect(Either.isRight(reparsed)).toBe(true)
    if (Either.isRight(reparsed)) expect(Equal.equals(reparsed.right, ref)).toBe(true)
  })

  it.prop("normalize is idempotent on valid references (full and familiar forms)", [validReference], ([ref]) => {
    for (const input of [Reference.format(ref), ref.familiar]) {
      const once = Reference.normalize(input)
      expect(Either.isRight(once)).toBe(true)
      if (Either.isRight(once)) expect(Reference.normalize(once.right)).toEqual(once)
    }
  })

  it.prop("normalize is idempotent wherever it succeeds", [fc.string({ maxLength: 80 })], ([input]) => {
    const once = Reference.normalize(input)
    if (Either.isRight(once)) expect(Reference.normalize(once.right)).toEqual(once)
  })

  it.prop("the normalized form is canonical: domain/path plus exactly one of :tag or @digest", [validReference], ([ref]) => {
    const normalized = ref.normalized
    expect(normalized.startsWith(`${ref.name}`)).toBe(true)
    const rest = normalized.slice(ref.name.length)
    expect(rest === `@${ref.digest}` || rest === `:${ref.tag ?? "latest"}`).toBe(true)
  })

  it.prop("invalid inputs yield a ReferenceError naming the input", [invalidInput], ([input]) => {
    const result = Reference.parse(input)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left).toBeInstanceOf(Reference.ReferenceError)
      expect(result.left.input).toBe(input)
      expect(result.left.message).toContain(JSON.stringify(input))
    }
  })

  it.prop(
    "never throws: any string parses or yields a ReferenceError",
    [fc.oneof(fc.string({ maxLength: 300 }), fc.fullUnicodeString({ maxLength: 60 }), fc.stringMatching(/^[a-zA-Z0-9:@/._-]{0,90}$/))],
    ([input]) => {
      const result = Reference.parse(input)
      if (Either.isLeft(result)) expect(result.left).toBeInstanceOf(Reference.ReferenceError)
      else expect(result.right).toBeInstanceOf(Reference.Reference)
    }
  )
})
