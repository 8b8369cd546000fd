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
  .filter((ref) => ref.name.length <= 255)

// --- inputs as users write them, with the answer worked out from their parts -----------------------------------

/**
 * A reference written from valid parts, with what Docker makes of it (distribution/reference normalize.go)
 * worked out from the parts, not by the parser: an explicit domain is kept (index.docker.io becomes docker.io),
 * none means docker.io, and Docker Hub's one-component names get library/.
 */
interface Written {
  readonly input: string
  readonly domain: string
  readonly path: string
  readonly tag: string | undefined
  readonly digest: string | undefined
}
const upperLabel = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,6}[A-Za-z0-9]$/).filter((l) => /[A-Z]/.test(l))
const explicitDomain = fc.oneof(
  domain, // names with dots, localhost, IPv4 and IPv6, with or without a port, docker.io
  fc.constant("index.docker.io"),
  // a first component with an uppercase letter is a domain (Docker's rule), as is a name with a port
  upperLabel,
  fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/), port).map(([host, p]) => `${host}:${p}`)
)
const written: fc.Arbitrary<Written> = fc
  .record({
    domain: fc.option(explicitDomain, { nil: undefined, freq: 3 }),
    components: fc.array(pathComponent, { minLength: 1, maxLength: 3 }),
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined, freq: 3 })
  })
  // Without a domain, a first component with a "." would be read as one: not what this generator means.
  .filter((w) => w.domain !== undefined || w.components.length === 1 || !w.components[0]!.includes("."))
  .map(({ components, digest, domain, tag }): Written => {
    const input = `${domain !== undefined ? `${domain}/` : ""}${components.join("/")}${tag !== undefined ? `:${tag}` : ""}` +
      `${digest !== undefined ? `@${digest}` : ""}`
    const expectedDomain = domain === undefined || domain === "index.docker.io" ? "docker.io" : domain
    const path = expectedDomain === "docker.io" && components.length === 1 ? `library/${components[0]}` : components.join("/")
    return { input, domain: expectedDomain, path, tag, digest }
  })
  .filter((w) => `${w.domain}/${w.path}`.length <= 255 && !/^[a-f0-9]{64}$/.test(w.input))

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

describe("Reference — references written from valid parts", () => {
  it.prop("parse into exactly those parts", [written], ([w]) => {
    const parsed = Reference.parse(w.input)
    expect(Either.isRight(parsed)).toBe(true)
    if (Either.isLeft(parsed)) return
    const ref = parsed.right
    expect([ref.domain, ref.path, ref.tag, ref.digest]).toEqual([w.domain, w.path, w.tag, w.digest])
    expect(ref.normalized).toBe(`${w.domain}/${w.path}${w.digest !== undefined ? `@${w.digest}` : `:${w.tag ?? "latest"}`}`)
    expect(ref.pullScope).toBe(`repository:${w.path}:pull`)
  })

  it.prop("keep their meaning through the familiar form", [written], ([w]) => {
    const ref = Either.getOrThrow(Reference.parse(w.input))
    const again = Either.getOrThrow(Reference.parse(ref.familiar))
    expect([again.domain, again.path, again.tag, again.digest]).toEqual([w.domain, w.path, w.tag, w.digest])
  })

  it("cover every kind of domain, tags and digests (the generator is not stuck on one shape)", () => {
    const samples = fc.sample(written, { numRuns: 500, seed: 15 })
    const some = (p: (w: Written) => boolean) => samples.filter(p).length
    expect(some((w) => w.domain === "docker.io" && w.path.startsWith("library/"))).toBeGreaterThan(20)
    expect(some((w) => /^[A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*$/.test(w.domain))).toBeGreaterThan(5)
    expect(some((w) => w.domain.startsWith("["))).toBeGreaterThan(5)
    expect(some((w) => /:\d+$/.test(w.domain))).toBeGreaterThan(20)
    expect(some((w) => w.input.startsWith("index.docker.io/"))).toBeGreaterThan(2)
    expect(some((w) => w.tag !== undefined && w.digest !== undefined)).toBeGreaterThan(5)
    expect(some((w) => w.path.split("/").length === 3)).toBeGreaterThan(20)
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

describe("Reference — the limits, exactly", () => {
  // The longest reference that can be valid: a 255-character name, a 128-character tag and a sha512 digest.
  const name = `registry.example.com/${"a".repeat(255 - "registry.example.com/".length)}`
  const longest = `${name}:${"t".repeat(128)}@sha512:${"f".repeat(128)}`

  it("parses the longest valid reference (520 characters) and refuses one character more", () => {
    expect(longest).toHaveLength(520)
    expect(Either.map(Reference.parse(longest), (ref) => ref.name.length)).toEqual(Either.right(255))
    expect(failure(`${longest}f`).reason).toBe("TooLong")
    expect(failure(`${longest}f`).message).toBe(
      `invalid image reference ${JSON.stringify(`${longest}f`)}: a reference cannot be longer than 520 characters`
    )
  })

  it("takes a name of 255 characters and refuses 256, naming it", () => {
    expect(Either.isRight(Reference.parse(name))).toBe(true)
    expect(failure(`${name}a`).message).toBe(
      `invalid image reference ${JSON.stringify(`${name}a`)}: the repository name ${name}a is longer than 255 characters`
    )
  })

  it("takes a tag of 128 characters and refuses 129, saying what a tag is", () => {
    expect(parseOrThrow(`redis:${"t".repeat(128)}`).tag).toHaveLength(128)
    expect(failure(`redis:${"t".repeat(129)}`).message).toBe(
      `invalid image reference ${JSON.stringify(`redis:${"t".repeat(129)}`)}: tag ${JSON.stringify("t".repeat(129))} must be ` +
        "1-128 characters of [A-Za-z0-9_.-], not starting with \".\" or \"-\""
    )
  })

  it("has no tag or digest field at all when none was written, so equality is structural", () => {
    expect(Equal.equals(parseOrThrow("redis"), new Reference.Reference({ domain: "docker.io", path: "library/redis" }))).toBe(true)
    expect(Object.keys(parseOrThrow("redis"))).not.toContain("tag")
    expect(Object.keys(parseOrThrow("redis:7"))).not.toContain("digest")
    expect(parseOrThrow("user/repo").repository).toBe("user/repo")
  })

  it("prints as its normalized form", () => {
    expect(String(parseOrThrow("redis"))).toBe("docker.io/library/redis:latest")
    expect(`${parseOrThrow(`redis:7@${sha256}`)}`).toBe(`docker.io/library/redis@${sha256}`)
  })
})

describe("Reference — what each refusal says", () => {
  // The whole message, so a user knows what to fix; "…" stands for the quoted input.
  it.each([
    ["", "the image name is empty"],
    ["0123456789abcdef".repeat(4), "a 64-character hexadecimal string is an image ID, not a repository name; use \"name@sha256:<hex>\""],
    ["bad_host.com/app", "\"bad_host.com\" is not a valid registry host[:port]"],
    ["[::g]:5000/app", "\"[::g]:5000\" is not a valid registry host[:port]"],
    ["[1::2::3]:5000/app", "\"[1::2::3]:5000\" does not hold a valid IPv6 address"],
    ["999.1.1.1/x", "\"999.1.1.1\" is not a valid registry host (not a usable IP address or name)"],
    ["localhost:0/x", "port 0 of \"localhost:0\" is not between 1 and 65535"],
    ["host:5000/", "the repository name is missing"],
    [":justtag", "the repository name is missing"],
    [`@${sha256}`, "the repository name is missing"],
    ["docker.io/User/repo", "the repository name must be lowercase"],
    ["a__-b/c", "repository path components may only contain lowercase letters, digits and single separators (. _ __ -), separated by \"/\""],
    ["redis:.x", "tag \".x\" must be 1-128 characters of [A-Za-z0-9_.-], not starting with \".\" or \"-\""],
    ["redis@sha256:xyz", "digest \"sha256:xyz\" is not of the form algorithm:hex"],
    [`redis@md5:${"a".repeat(32)}`, `digest "md5:${"a".repeat(32)}" is not supported: use sha256 (64), sha384 (96) or sha512 (128) lowercase hex digits`]
  ])("%j: %s", (input, detail) => {
    expect(failure(input).message).toBe(`invalid image reference ${JSON.stringify(input)}: ${detail}`)
  })
})
