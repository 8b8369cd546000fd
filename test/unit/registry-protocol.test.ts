import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as fc from "fast-check"
import * as Digest from "../../src/image/Digest.js"
import * as ImageConfig from "../../src/image/ImageConfig.js"
import * as Manifest from "../../src/image/Manifest.js"
import * as Protocol from "../../src/image/RegistryProtocol.js"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("endpointFor (host mapping and scheme)", () => {
  it("maps docker.io to registry-1.docker.io over HTTPS", () => {
    expect(Protocol.endpointFor("docker.io", [])).toEqual({ scheme: "https", host: "registry-1.docker.io" })
  })
  it("uses HTTPS for ordinary hosts", () => {
    expect(Protocol.endpointFor("registry.example.com", [])).toEqual({ scheme: "https", host: "registry.example.com" })
    expect(Protocol.endpointFor("10.1.2.3:5000", [])).toEqual({ scheme: "https", host: "10.1.2.3:5000" })
  })
  it("uses plain HTTP for loopback hosts, with or without a port", () => {
    for (const host of ["localhost", "localhost:5000", "127.0.0.1:5000", "127.9.8.7", "[::1]:5000", "[::1]"]) {
      expect(Protocol.endpointFor(host, []).scheme).toBe("http")
    }
    expect(Protocol.isLoopback("[0:0:0:0:0:0:0:1]:80")).toBe(true)
    expect(Protocol.isLoopback("[::ffff:127.0.0.1]:80")).toBe(true)
    expect(Protocol.isLoopback("128.0.0.1")).toBe(false)
    expect(Protocol.isLoopback("localhost.example.com")).toBe(false)
  })
  it("uses plain HTTP for insecure_registries entries: host:port, bare host, IPv4 CIDR", () => {
    const insecure = ["registry.internal:5000", "plain.example.com", "10.0.0.0/8", "http://scheme.example.com/"]
    expect(Protocol.endpointFor("registry.internal:5000", insecure).scheme).toBe("http")
    expect(Protocol.endpointFor("registry.internal:5001", insecure).scheme).toBe("https")
    expect(Protocol.endpointFor("registry.internal", insecure).scheme).toBe("https")
    expect(Protocol.endpointFor("plain.example.com:8443", insecure).scheme).toBe("http")
    expect(Protocol.endpointFor("10.20.30.40:5000", insecure).scheme).toBe("http")
    expect(Protocol.endpointFor("11.0.0.1:5000", insecure).scheme).toBe("https")
    expect(Protocol.endpointFor("scheme.example.com", insecure).scheme).toBe("http")
  })
})

describe("splitHostPort / isListedInsecure / baseUrl", () => {
  // Go's net.SplitHostPort: "[v6]:port", "host:port", ":port"; one colon only outside brackets.
  it("splits host[:port] and [v6][:port], leaving the port out when there is none", () => {
    expect(Protocol.splitHostPort("registry.example.com:5000")).toStrictEqual({ hostname: "registry.example.com", port: "5000" })
    expect(Protocol.splitHostPort(":5000")).toStrictEqual({ hostname: "", port: "5000" })
    expect(Protocol.splitHostPort("registry.example.com")).toStrictEqual({ hostname: "registry.example.com" })
    expect(Protocol.splitHostPort("[fd00::1]:5000")).toStrictEqual({ hostname: "fd00::1", port: "5000" })
    expect(Protocol.splitHostPort("[fd00::1]")).toStrictEqual({ hostname: "fd00::1" })
    expect(Protocol.splitHostPort("fd00::1")).toStrictEqual({ hostname: "fd00::1" })
  })
  it("takes everything after an unclosed bracket as the hostname", () => {
    expect(Protocol.splitHostPort("[fd00::1")).toStrictEqual({ hostname: "fd00::1" })
    expect(Protocol.splitHostPort("[fd00::1:5000")).toStrictEqual({ hostname: "fd00::1:5000" })
  })
  it("counts only ::1 and IPv4-mapped 127/8 as IPv6 loopback", () => {
    expect(Protocol.isLoopback("[::2]")).toBe(false)
    expect(Protocol.isLoopback("[2001:db8::1]:5000")).toBe(false)
    expect(Protocol.isLoopback("[::ffff:10.0.0.1]")).toBe(false)
  })
  it("reads entries trimmed, case-insensitively, with a leading scheme and trailing slashes removed", () => {
    expect(Protocol.isListedInsecure("registry.internal:5000", ["  Registry.Internal:5000  "])).toBe(true)
    expect(Protocol.isListedInsecure("registry.internal:5000", ["https://registry.internal:5000//"])).toBe(true)
    // Only a leading scheme is removed: an entry with a path names no host.
    expect(Protocol.isListedInsecure("registry.internal", ["registry.internal/http://"])).toBe(false)
  })
  it("matches IPv4 literals inside a CIDR entry, /0 to /32", () => {
    expect(Protocol.isListedInsecure("192.168.100.77:5000", ["192.168.100.0/24"])).toBe(true)
    expect(Protocol.isListedInsecure("192.168.101.77:5000", ["192.168.100.0/24"])).toBe(false)
    expect(Protocol.isListedInsecure("172.16.5.200", ["172.16.5.128/25"])).toBe(true)
    expect(Protocol.isListedInsecure("172.16.5.100", ["172.16.5.128/25"])).toBe(false)
    expect(Protocol.isListedInsecure("10.1.2.3", ["10.1.2.3/32"])).toBe(true)
    expect(Protocol.isListedInsecure("10.1.2.4", ["10.1.2.3/32"])).toBe(false)
    expect(Protocol.isListedInsecure("203.0.113.9", ["0.0.0.0/0"])).toBe(true)
  })
  it("lists nothing for malformed CIDR entries, and no host name or IPv6 literal for a CIDR", () => {
    expect(Protocol.isListedInsecure("11.0.0.1", ["10.0.0.0/33"])).toBe(false)
    expect(Protocol.isListedInsecure("10.0.0.1", ["10.0.0.0/123"])).toBe(false)
    expect(Protocol.isListedInsecure("10.0.0.1", ["net10.0.0.0/8"])).toBe(false)
    expect(Protocol.isListedInsecure("231.1.2.3", ["999.0.0.0/8"])).toBe(false)
    expect(Protocol.isListedInsecure("registry.example.com", ["0.0.0.0/0"])).toBe(false)
    expect(Protocol.isListedInsecure("[fd00::1]:5000", ["0.0.0.0/0"])).toBe(false)
  })
  it("lets an insecure_registries entry for docker.io cover registry-1.docker.io", () => {
    expect(Protocol.endpointFor("docker.io", ["docker.io"])).toEqual({ scheme: "http", host: "registry-1.docker.io" })
  })
  it("builds the base URL from scheme and host", () => {
    expect(Protocol.baseUrl({ scheme: "http", host: "[::1]:5000" })).toBe("http://[::1]:5000")
  })
})

describe("mayForwardAuthorization", () => {
  const registry = new URL("https://registry.example.com")
  it("keeps Authorization on the same scheme, host and port only", () => {
    expect(Protocol.mayForwardAuthorization(registry, new URL("https://registry.example.com/v2/x"))).toBe(true)
    expect(Protocol.mayForwardAuthorization(registry, new URL("https://registry.example.com:443/v2/x"))).toBe(true)
    expect(Protocol.mayForwardAuthorization(registry, new URL("https://storage.example.com/blob"))).toBe(false)
    expect(Protocol.mayForwardAuthorization(registry, new URL("https://registry.example.com:8443/v2/x"))).toBe(false)
    expect(Protocol.mayForwardAuthorization(registry, new URL("http://registry.example.com/v2/x"))).toBe(false)
  })
})

describe("parseChallenges", () => {
  it("parses a Docker Hub bearer challenge", () => {
    const [challenge] = Protocol.parseChallenges([
      "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/alpine:pull\""
    ])
    expect(challenge).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/alpine:pull"
      }
    })
  })
  it("handles several challenges per header, case, spaces, commas in quotes and unquoted tokens", () => {
    const challenges = Protocol.parseChallenges([
      "BASIC realm=\"a, b\" , Bearer Realm=https://t.example.com/token, error=\"invalid_token\"",
      "Negotiate"
    ])
    expect(challenges).toEqual([
      { scheme: "basic", params: { realm: "a, b" } },
      { scheme: "bearer", params: { realm: "https://t.example.com/token", error: "invalid_token" } },
      { scheme: "negotiate", params: {} }
    ])
  })
  it("allows optional whitespace (spaces and tabs) around '=' (RFC 7235 auth-param: token BWS \"=\" BWS value)", () => {
    expect(Protocol.parseChallenges(["Bearer realm = \"https://auth.example.com/token\" ,\tservice\t=\tregistry.example.com"]))
      .toEqual([{ scheme: "bearer", params: { realm: "https://auth.example.com/token", service: "registry.example.com" } }])
  })
  it("unescapes quoted-pairs in quoted strings (RFC 7230 quoted-pair: backslash and any character)", () => {
    const [challenge] = Protocol.parseChallenges([
      String.raw`Bearer realm="https://auth.example.com/token",error_description="a \"quoted\" word, a \\ backslash"`
    ])
    expect(challenge?.params["error_description"]).toBe("a \"quoted\" word, a \\ backslash")
    expect(challenge?.params["realm"]).toBe("https://auth.example.com/token")
  })
  it("ends an unterminated quoted string at the end of the header, keeping a last lone backslash", () => {
    expect(Protocol.parseChallenges(["Bearer realm=\"https://auth.example.com/token"])).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.example.com/token" } }
    ])
    expect(Protocol.parseChallenges(["Bearer realm=\"abc\\"])).toEqual([
      { scheme: "bearer", params: { realm: "abc\\" } }
    ])
  })
  it.prop("never throws on arbitrary header text", [fc.array(fc.string({ maxLength: 80 }), { maxLength: 3 })], ([values]) => {
    expect(Array.isArray(Protocol.parseChallenges(values))).toBe(true)
  })
})

describe("token requests and responses", () => {
  const challenge: Protocol.Challenge = {
    scheme: "bearer",
    params: { realm: "https://auth.example.com/token?x=1", service: "reg", scope: "repository:a:pull repository:b:pull" }
  }
  it("merges the challenge's scopes with the pull scope, one parameter per scope", () => {
    const scopes = Protocol.tokenScopes(challenge, "repository:a:pull")
    expect(scopes).toEqual(["repository:a:pull", "repository:b:pull"])
    const url = Option.getOrThrow(Protocol.tokenUrl(challenge, scopes))
    expect(url.origin + url.pathname).toBe("https://auth.example.com/token")
    expect(url.searchParams.get("service")).toBe("reg")
    expect(url.searchParams.get("x")).toBe("1")
    expect(url.searchParams.getAll("scope")).toEqual(["repository:a:pull", "repository:b:pull"])
  })
  it("refuses realms that are not http(s) URLs", () => {
    expect(Protocol.tokenUrl({ scheme: "bearer", params: {} }, [])).toEqual(Option.none())
    expect(Protocol.tokenUrl({ scheme: "bearer", params: { realm: "file:///etc/passwd" } }, [])).toEqual(Option.none())
  })
  it("requests the pull scope alone when the challenge names none, and ignores repeated spaces", () => {
    const bare: Protocol.Challenge = { scheme: "bearer", params: { realm: "https://auth.example.com/token" } }
    expect(Protocol.tokenScopes(bare, "repository:team/app:pull")).toEqual(["repository:team/app:pull"])
    const spaced: Protocol.Challenge = { scheme: "bearer", params: { scope: " repository:a:pull  repository:b:pull " } }
    expect(Protocol.tokenScopes(spaced, "repository:a:pull")).toEqual(["repository:a:pull", "repository:b:pull"])
  })
  it("sends no service parameter when the challenge has none (form-encoded scope, as Go's url.Values.Encode)", () => {
    const url = Protocol.tokenUrl({ scheme: "bearer", params: { realm: "https://auth.example.com/token" } }, [
      "repository:team/app:pull"
    ])
    expect(Option.map(url, (u) => u.href)).toEqual(
      Option.some("https://auth.example.com/token?scope=repository%3Ateam%2Fapp%3Apull")
    )
  })
  it("refuses a realm that is not a URL", () => {
    expect(Protocol.tokenUrl({ scheme: "bearer", params: { realm: "auth.example.com/token" } }, [])).toEqual(Option.none())
  })
  it("repeats only a single media type in Accept, never a list", () => {
    expect(Protocol.isMediaTypeToken("application/vnd.oci.image.index.v1+json")).toBe(true)
    expect(Protocol.isMediaTypeToken("text/html, application/json")).toBe(false)
  })
  it("says what is wrong with a token response", () => {
    const failure = (body: string) => Either.flip(Protocol.parseTokenResponse(body))
    expect(failure("<html>")).toEqual(Either.right("the token service answered with something that is not JSON"))
    for (const body of ["5", "null", "\"a-token\""]) {
      expect(failure(body)).toEqual(Either.right("the token service answered with no JSON object"))
    }
    for (const body of ["{}", "[]", "{\"token\":\"\"}", "{\"token\":5,\"access_token\":\"\"}", "{\"access_token\":5}"]) {
      expect(failure(body)).toEqual(Either.right("the token service answered without a token"))
    }
    expect(failure("{\"token\":\"a b\"}")).toEqual(Either.right(
      "the token service answered with a token that cannot be sent in an HTTP header (it holds spaces, control " +
        "characters such as CR/LF, or non-ASCII characters)"
    ))
  })
  it("falls back to access_token when token is empty (Docker token spec: either field may carry the token)", () => {
    expect(Protocol.parseTokenResponse("{\"token\":\"\",\"access_token\":\"b\"}")).toEqual(
      Either.right({ token: "b", expiresInSeconds: 60 })
    )
  })
  it("uses 60 s for an expires_in that is not a positive finite number of seconds", () => {
    for (const expires of ["0", "-5", "\"300\"", "1e400", "null"]) {
      expect(Protocol.parseTokenResponse(`{"token":"a","expires_in":${expires}}`)).toEqual(
        Either.right({ token: "a", expiresInSeconds: 60 })
      )
    }
  })
  it("accepts token or access_token, defaulting the lifetime to 60 s", () => {
    expect(Protocol.parseTokenResponse("{\"token\":\"a\",\"expires_in\":300}")).toEqual(
      Either.right({ token: "a", expiresInSeconds: 300 })
    )
    expect(Protocol.parseTokenResponse("{\"access_token\":\"b\"}")).toEqual(Either.right({ token: "b", expiresInSeconds: 60 }))
    expect(Either.isLeft(Protocol.parseTokenResponse("{}"))).toBe(true)
    expect(Either.isLeft(Protocol.parseTokenResponse("<html>"))).toBe(true)
  })
  it("refuses tokens that cannot be sent back in a header (issue 8, item 2)", () => {
    for (const token of ["abc\r\nX-Injected: yes", "a b", "nul\u0000", "caf\u00e9", "\u007f"]) {
      const parsed = Protocol.parseTokenResponse(JSON.stringify({ token }))
      expect(Either.isLeft(parsed) && parsed.left).toContain("cannot be sent in an HTTP header")
    }
    expect(Protocol.parseTokenResponse(JSON.stringify({ token: "eyJhbGciOi.J9-_~+/=" }))).toEqual(
      Either.right({ token: "eyJhbGciOi.J9-_~+/=", expiresInSeconds: 60 })
    )
  })
  it("expires tokens slightly before the server says", () => {
    expect(Protocol.tokenExpiresAt(1_000, 60)).toBe(1_000 + 55_000)
    expect(Protocol.tokenExpiresAt(0, 10)).toBe(9_000)
  })
})

describe("failureFor (status → RegistryError)", () => {
  const ctx = { subject: "127.0.0.1:5000/test/app:v1", host: "127.0.0.1:5000", kind: "manifest" } as const
  const body = (code: string, message = "details") => Option.some({ code, message })

  it("keeps the original driver's wording for access denied", () => {
    const error = Protocol.failureFor(401, body("UNAUTHORIZED", "authentication required"), ctx)
    expect(error.reason).toBe("Unauthorized")
    expect(error.message).toBe(
      "pull access denied, repository does not exist or may require authorization: 127.0.0.1:5000/test/app:v1: " +
        "server message: unauthorized: authentication required"
    )
    expect(Protocol.failureFor(403, Option.none(), ctx).reason).toBe("Unauthorized")
  })
  it("distinguishes a missing tag from a missing repository", () => {
    const tag = Protocol.failureFor(404, body("MANIFEST_UNKNOWN"), ctx)
    expect(tag.reason).toBe("ManifestUnknown")
    expect(tag.message).toBe("manifest unknown: 127.0.0.1:5000/test/app:v1")
    const repo = Protocol.failureFor(404, body("NAME_UNKNOWN"), ctx)
    expect(repo.reason).toBe("NotFound")
    expect(repo.message).toContain("repository does not exist: 127.0.0.1:5000/test/app:v1")
    expect(Protocol.failureFor(404, Option.none(), { ...ctx, kind: "blob" }).message).toContain("blob unknown")
  })
  it("treats rate limits and server errors as temporary", () => {
    for (const status of [429, 500, 502, 503, 504]) {
      const error = Protocol.failureFor(status, Option.none(), ctx)
      expect(error.reason).toBe("Unreachable")
      expect(error.recoverable).toBe(true)
      expect(error.message).toContain("127.0.0.1:5000")
      expect(error.message).toContain("temporary")
    }
  })
  it("reports anything else as a protocol error naming host and subject", () => {
    const error = Protocol.failureFor(418, Option.none(), ctx)
    expect(error.reason).toBe("Protocol")
    expect(error.recoverable).toBe(false)
    expect(error.message).toContain("HTTP 418")
    expect(error.message).toContain(ctx.subject)
  })
  const denied = "pull access denied, repository does not exist or may require authorization"
  it("says access denied for a 401 without a body, and leaves out an empty server message", () => {
    expect(Protocol.failureFor(401, Option.none(), ctx).message).toBe(`${denied}: 127.0.0.1:5000/test/app:v1`)
    expect(Protocol.failureFor(401, body("UNAUTHORIZED", ""), ctx).message).toBe(
      `${denied}: 127.0.0.1:5000/test/app:v1: server message: unauthorized`
    )
  })
  // OCI distribution spec error codes: DENIED/UNAUTHORIZED, NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN and
  // Docker Hub's TOOMANYREQUESTS say what happened whatever the status line says.
  it("goes by the error code when the status does not say", () => {
    const denial = Protocol.failureFor(400, body("denied", "requested access to the resource is denied"), ctx)
    expect(denial.reason).toBe("Unauthorized")
    expect(denial.message).toBe(
      `${denied}: 127.0.0.1:5000/test/app:v1: server message: denied: requested access to the resource is denied`
    )
    expect(Protocol.failureFor(400, body("UNAUTHORIZED"), ctx).reason).toBe("Unauthorized")
    expect(Protocol.failureFor(400, body("MANIFEST_UNKNOWN"), ctx)).toMatchObject({
      reason: "ManifestUnknown",
      message: "manifest unknown: 127.0.0.1:5000/test/app:v1"
    })
    expect(Protocol.failureFor(400, body("NAME_UNKNOWN"), ctx)).toMatchObject({
      reason: "NotFound",
      message: "repository does not exist: 127.0.0.1:5000/test/app:v1 (registry 127.0.0.1:5000 does not know this name)"
    })
    for (const status of [400, 404]) {
      expect(Protocol.failureFor(status, body("BLOB_UNKNOWN"), ctx)).toMatchObject({
        reason: "NotFound",
        message: "blob unknown: 127.0.0.1:5000/test/app:v1"
      })
    }
    const limited = Protocol.failureFor(400, body("TOOMANYREQUESTS"), ctx)
    expect(limited.reason).toBe("Unreachable")
    expect(limited.message).toBe(
      "registry 127.0.0.1:5000 is rate limiting requests (HTTP 400) while pulling 127.0.0.1:5000/test/app:v1; " +
        "this error is temporary; the pull can be retried"
    )
  })
  it("says not found for a 404 to a token request", () => {
    expect(Protocol.failureFor(404, Option.none(), { ...ctx, kind: "token" })).toMatchObject({
      reason: "NotFound",
      message: "not found: 127.0.0.1:5000/test/app:v1"
    })
  })
  it("treats a request timeout (408) as temporary", () => {
    const error = Protocol.failureFor(408, Option.none(), ctx)
    expect(error.reason).toBe("Unreachable")
    expect(error.message).toBe(
      "registry 127.0.0.1:5000 answered HTTP 408 while pulling 127.0.0.1:5000/test/app:v1; " +
        "this error is temporary; the pull can be retried"
    )
  })
  it("maps socket errors to Unreachable and TLS errors to Protocol", () => {
    const refused = Protocol.transportFailure("ECONNREFUSED", "connect ECONNREFUSED", "127.0.0.1:1", "x")
    expect(refused.reason).toBe("Unreachable")
    expect(Protocol.isRecoverable(refused)).toBe(true)
    expect(refused.message).toContain("127.0.0.1:1")
    expect(refused.message).toContain("temporary")
    const tls = Protocol.transportFailure("DEPTH_ZERO_SELF_SIGNED_CERT", "self signed", "reg.example.com", "x")
    expect(tls.reason).toBe("Protocol")
    expect(tls.message).toContain("insecure_registries")
  })
})

describe("transportFailure (Node error code → RegistryError)", () => {
  const host = "reg.example.com"
  const subject = "reg.example.com/team/app:v1"
  it("reports TLS failures with what to do about them", () => {
    expect(Protocol.transportFailure("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate", host, subject))
      .toMatchObject({
        reason: "Protocol",
        message: "TLS connection to registry reg.example.com failed while pulling reg.example.com/team/app:v1 " +
          "(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate); if the registry speaks plain " +
          "HTTP list it in insecure_registries, if it uses a private CA add that CA to the system trust store"
      })
    // Node's TLS and OpenSSL codes without CERT in them (EPROTO carries OpenSSL's "wrong version number", e.g. from a
    // plain-HTTP server).
    for (const code of ["ERR_TLS_INVALID_PROTOCOL_VERSION", "ERR_SSL_WRONG_VERSION_NUMBER", "EPROTO"]) {
      const error = Protocol.transportFailure(code, "handshake failed", host, subject)
      expect(error.reason).toBe("Protocol")
      expect(error.message).toContain(`TLS connection to registry reg.example.com failed`)
    }
  })
  it("reports socket failures as temporary, with or without a code", () => {
    expect(Protocol.transportFailure(undefined, "socket hang up", host, subject)).toMatchObject({
      reason: "Unreachable",
      message: "cannot reach registry reg.example.com while pulling reg.example.com/team/app:v1 (network error: " +
        "socket hang up); this error is temporary; the pull can be retried"
    })
    expect(Protocol.transportFailure("ECONNREFUSED", "connect ECONNREFUSED 192.0.2.1:443", host, subject).message).toBe(
      "cannot reach registry reg.example.com while pulling reg.example.com/team/app:v1 (ECONNREFUSED: connect " +
        "ECONNREFUSED 192.0.2.1:443); this error is temporary; the pull can be retried"
    )
    for (const code of ["UND_ERR_SOCKET", "EADDRNOTAVAIL"]) {
      expect(Protocol.transportFailure(code, "other side closed", host, subject).reason).toBe("Unreachable")
    }
  })
  it("reports other codes as a protocol failure naming the code", () => {
    expect(Protocol.transportFailure("HPE_INVALID_CONSTANT", "Parse Error: Expected HTTP/", host, subject)).toMatchObject({
      reason: "Protocol",
      message: "talking to registry reg.example.com failed while pulling reg.example.com/team/app:v1 " +
        "(HPE_INVALID_CONSTANT: Parse Error: Expected HTTP/)"
    })
  })
})

describe("mediaTypeOf / parseErrorBody", () => {
  it("strips parameters", () => {
    expect(Protocol.mediaTypeOf("application/vnd.oci.image.index.v1+json; charset=utf-8")).toBe(Manifest.MediaType.ociIndex)
    expect(Protocol.mediaTypeOf(undefined)).toBe("")
    expect(Protocol.mediaTypeOf("  Application/JSON ; charset=utf-8")).toBe("application/json")
  })
  it("reads the first registry error", () => {
    expect(Protocol.parseErrorBody("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"))
      .toEqual(Option.some({ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }))
    expect(Protocol.parseErrorBody("404 page not found")).toEqual(Option.none())
  })
  it("needs a string code; a missing or non-string message reads as empty", () => {
    expect(Protocol.parseErrorBody("{\"errors\":[{\"code\":5,\"message\":\"m\"}]}")).toEqual(Option.none())
    expect(Protocol.parseErrorBody("{\"errors\":[]}")).toEqual(Option.none())
    expect(Protocol.parseErrorBody("{\"errors\":[{\"code\":\"DENIED\",\"message\":5}]}")).toEqual(
      Option.some({ code: "DENIED", message: "" })
    )
    expect(Protocol.parseErrorBody("{\"errors\":[{\"code\":\"DENIED\"}]}")).toEqual(Option.some({ code: "DENIED", message: "" }))
  })
})

describe("Digest", () => {
  const content = bytes("hello registry")
  const digest = Digest.of(content)
  const parsed = Option.getOrThrow(Digest.parse(digest))

  it("parses supported digests only", () => {
    expect(Option.isSome(Digest.parse(`sha512:${"a".repeat(128)}`))).toBe(true)
    expect(Option.isNone(Digest.parse(`sha256:${"A".repeat(64)}`))).toBe(true)
    expect(Option.isNone(Digest.parse(`md5:${"a".repeat(32)}`))).toBe(true)
    expect(Digest.isWellFormed(`md5:${"a".repeat(32)}`)).toBe(true)
  })
  it("verifies content in chunks", () => {
    const v = Digest.verifier(parsed, content.length)
    expect(v.update(content.subarray(0, 5))).toEqual(Option.none())
    expect(v.update(content.subarray(5))).toEqual(Option.none())
    expect(v.finish()).toEqual({ _tag: "Match" })
  })
  it("reports overruns as soon as they happen and short or altered content at the end", () => {
    const over = Digest.verifier(parsed, content.length - 1)
    expect(over.update(content)._tag).toBe("Some")
    expect(Digest.verify(content.subarray(1), parsed, content.length)._tag).toBe("SizeMismatch")
    const altered = Uint8Array.from(content)
    altered[0] = altered[0]! ^ 1
    expect(Digest.verify(altered, parsed, content.length)._tag).toBe("DigestMismatch")
  })
  it.prop("any split of the content verifies", [fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 5 })], ([data, cuts]) => {
    const expected = Option.getOrThrow(Digest.parse(Digest.of(data)))
    const v = Digest.verifier(expected, data.length)
    const points = [...new Set([0, ...cuts.map((c) => c % (data.length + 1)), data.length])].sort((a, b) => a - b)
    for (let i = 1; i < points.length; i++) v.update(data.subarray(points[i - 1]!, points[i]!))
    expect(v.finish()).toEqual({ _tag: "Match" })
  })
})

describe("Manifest decoding", () => {
  const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${"1".repeat(64)}`, size: 3 }
  const manifestJson = {
    schemaVersion: 2,
    mediaType: Manifest.MediaType.ociManifest,
    config: { mediaType: Manifest.MediaType.ociConfig, digest: `sha256:${"2".repeat(64)}`, size: 2 },
    layers: [layer]
  }
  const indexJson = {
    schemaVersion: 2,
    mediaType: Manifest.MediaType.ociIndex,
    manifests: [{ ...layer, mediaType: Manifest.MediaType.ociManifest, platform: { os: "linux", architecture: "amd64" } }]
  }
  const desc = (mediaType: string, value: unknown): Manifest.Descriptor => {
    const data = bytes(JSON.stringify(value))
    return { mediaType, digest: Digest.of(data), size: data.length }
  }

  it("decodes manifests and indexes", () => {
    const m = Manifest.decodeManifest(bytes(JSON.stringify(manifestJson)), desc(Manifest.MediaType.ociManifest, manifestJson))
    expect(Either.isRight(m) && m.right.layers.length).toBe(1)
    const i = Manifest.decodeIndex(bytes(JSON.stringify(indexJson)), desc(Manifest.MediaType.ociIndex, indexJson))
    expect(Either.isRight(i) && i.right.manifests[0]?.platform?.architecture).toBe("amd64")
  })
  it("rejects a manifest served as an index and vice versa, and mismatched embedded media types", () => {
    expect(Either.isLeft(Manifest.decodeIndex(bytes(JSON.stringify(manifestJson)), desc(Manifest.MediaType.ociManifest, manifestJson)))).toBe(true)
    expect(Either.isLeft(Manifest.decodeManifest(bytes(JSON.stringify(indexJson)), desc(Manifest.MediaType.ociIndex, indexJson)))).toBe(true)
    const mismatch = Manifest.decodeManifest(
      bytes(JSON.stringify(manifestJson)),
      desc(Manifest.MediaType.dockerManifest, manifestJson)
    )
    expect(Either.isLeft(mismatch) && mismatch.left.reason).toBe("MediaTypeMismatch")
  })
  it("names the wrong field and its descriptor, not the whole schema (issue 8, item 13)", () => {
    const negative = { ...manifestJson, layers: [layer, { ...layer, digest: `sha256:${"3".repeat(64)}`, size: -5 }] }
    const decoded = Manifest.decodeManifest(bytes(JSON.stringify(negative)), desc(Manifest.MediaType.ociManifest, negative))
    expect(Either.isLeft(decoded) && decoded.left.reason).toBe("InvalidShape")
    const message = Either.isLeft(decoded) ? decoded.left.message : ""
    expect(message).toBe(
      `${desc(Manifest.MediaType.ociManifest, negative).digest} is not a valid image manifest: layers[1].size (of ` +
        `descriptor sha256:${"3".repeat(64)}): Expected a non-negative number, actual -5`
    )
    expect(message.length).toBeLessThan(300)
    const notObject = { ...indexJson, manifests: [5, 6] }
    const index = Manifest.decodeIndex(bytes(JSON.stringify(notObject)), desc(Manifest.MediaType.ociIndex, notObject))
    const indexMessage = Either.isLeft(index) ? index.left.message : ""
    expect(indexMessage).toContain("manifests[0]: Expected descriptor, actual 5")
    expect(indexMessage.length).toBeLessThan(300)
  })
  it("says which field of an image config is wrong", () => {
    const config = { architecture: "amd64", os: "linux", config: { Env: [1] }, rootfs: { type: "layers", diff_ids: [] } }
    const decoded = ImageConfig.decode(bytes(JSON.stringify(config)), "sha256:cfg")
    expect(Either.isLeft(decoded) && decoded.left.message).toBe(
      "image config sha256:cfg is malformed: config.Env[0]: Expected string, actual 1"
    )
  })
  it("sniffs media types of bodies served without a useful Content-Type", () => {
    expect(Manifest.sniffMediaType(bytes(JSON.stringify(manifestJson)))).toBe("application/vnd.oci.image.manifest.v1+json")
    expect(Manifest.sniffMediaType(bytes(JSON.stringify({ ...indexJson, mediaType: undefined })))).toBe("application/vnd.oci.image.index.v1+json")
    expect(Manifest.sniffMediaType(bytes(JSON.stringify({ schemaVersion: 1, fsLayers: [] })))).toBe(
      "application/vnd.docker.distribution.manifest.v1+json"
    )
    expect(Manifest.sniffMediaType(bytes("nope"))).toBeUndefined()
  })
})
