import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Redacted } from "effect"
import * as fc from "fast-check"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as Credentials from "../../src/image/Credentials.js"

const secret = (value: string) => Redacted.make(value)
const userPass = (username: string, password: string): Credentials.UserPassword => ({
  username,
  password: secret(password)
})

/** Plain view of a credential for assertions (tests only). */
const reveal = (credential: Option.Option<Credentials.Credential>) =>
  Option.match(credential, {
    onNone: () => undefined,
    onSome: (c) =>
      c._tag === "Basic" ?
        { basic: `${c.username}:${Redacted.value(c.password)}` } :
        { token: Redacted.value(c.token) }
  })

const b64 = (text: string) => Buffer.from(text).toString("base64")

describe("staticCredential (auth blocks)", () => {
  it("task-level auth overrides driver-level auth", () => {
    expect(reveal(Credentials.staticCredential(userPass("task", "t"), userPass("driver", "d")))).toEqual({
      basic: "task:t"
    })
  })
  it("driver-level auth applies when the task has none or an incomplete one", () => {
    expect(reveal(Credentials.staticCredential(undefined, userPass("driver", "d")))).toEqual({ basic: "driver:d" })
    expect(reveal(Credentials.staticCredential(userPass("task", ""), userPass("driver", "d")))).toEqual({
      basic: "driver:d"
    })
    expect(reveal(Credentials.staticCredential(userPass("", "t"), undefined))).toBeUndefined()
  })
})

describe("Docker config.json", () => {
  const config = (json: unknown) =>
    Either.getOrThrowWith(Credentials.parseDockerConfig(JSON.stringify(json), "/cfg.json"), (e) => new Error(e.message))

  const lookup = (cfg: Credentials.DockerConfig, domain: string) => {
    const entry = Credentials.dockerConfigSources(cfg, domain).find((s) => s._tag === "Entry")
    if (entry === undefined || entry._tag !== "Entry") return undefined
    return reveal(Either.getOrThrow(Credentials.entryCredential(entry.entry, entry.key, "/cfg.json")))
  }

  it("finds Docker Hub under https://index.docker.io/v1/", () => {
    const cfg = config({ auths: { "https://index.docker.io/v1/": { auth: b64("hub:pw") } } })
    expect(lookup(cfg, "docker.io")).toEqual({ basic: "hub:pw" })
    expect(Credentials.serverAddress("docker.io")).toBe("https://index.docker.io/v1/")
  })

  it("matches plain hosts, host:port and http(s):// keys with paths", () => {
    const cfg = config({
      auths: {
        "registry.example.com": { auth: b64("a:1") },
        "http://127.0.0.1:5001": { username: "b", password: "2" },
        "https://other.example.com/v2/": { auth: b64("c:3:with:colons") }
      }
    })
    expect(lookup(cfg, "registry.example.com")).toEqual({ basic: "a:1" })
    expect(lookup(cfg, "127.0.0.1:5001")).toEqual({ basic: "b:2" })
    expect(lookup(cfg, "other.example.com")).toEqual({ basic: "c:3:with:colons" })
    expect(lookup(cfg, "127.0.0.1:5000")).toBeUndefined()
    expect(lookup(cfg, "unknown.example.com")).toBeUndefined()
  })

  it("prefers an exact key over a hostname match", () => {
    const cfg = config({
      auths: { "https://registry.example.com": { auth: b64("loose:1") }, "registry.example.com": { auth: b64("exact:2") } }
    })
    expect(lookup(cfg, "registry.example.com")).toEqual({ basic: "exact:2" })
  })

  it("reads identity tokens", () => {
    const cfg = config({ auths: { "registry.example.com": { identitytoken: "refresh-me" } } })
    expect(lookup(cfg, "registry.example.com")).toEqual({ token: "refresh-me" })
  })

  it("orders credHelpers[host], then credsStore, then auths", () => {
    const cfg = config({
      credsStore: "desktop",
      credHelpers: { "registry.example.com": "ecr-login" },
      auths: { "registry.example.com": { auth: b64("a:1") } }
    })
    expect(Credentials.dockerConfigSources(cfg, "registry.example.com").map((s) => s._tag === "Helper" ? s.helper : s.key))
      .toEqual(["ecr-login", "desktop", "registry.example.com"])
    expect(Credentials.dockerConfigSources(cfg, "docker.io").map((s) => s._tag === "Helper" ? s.helper : s.key))
      .toEqual(["desktop"])
  })

  // docker/cli's ConvertToHostname: a leading http:// or https:// is removed, then everything from the first "/".
  it("takes a key's hostname as Docker's ConvertToHostname does", () => {
    expect(Credentials.hostnameOfKey("https://Registry.Example.com:5000/v1/")).toBe("registry.example.com:5000")
    expect(Credentials.hostnameOfKey("/v1/")).toBe("")
    expect(Credentials.hostnameOfKey("localhttp://x/")).toBe("localhttp:")
  })

  it("serves docker.io from any Docker Hub key, an exact key first", () => {
    expect(lookup(config({ auths: { "index.docker.io": { auth: b64("index:1") } } }), "docker.io")).toEqual({
      basic: "index:1"
    })
    const withServerUrl = config({
      auths: { "registry-1.docker.io": { auth: b64("loose:1") }, "https://index.docker.io/v1/": { auth: b64("hub:2") } }
    })
    expect(lookup(withServerUrl, "docker.io")).toEqual({ basic: "hub:2" })
    const withDomain = config({
      auths: { "registry-1.docker.io": { auth: b64("loose:1") }, "docker.io": { auth: b64("domain:3") } }
    })
    expect(lookup(withDomain, "docker.io")).toEqual({ basic: "domain:3" })
  })

  it("keeps only the fields it understands, leaving out empty and non-string ones", () => {
    const cfg = config({
      auths: {
        "a.example.com": { auth: b64("a:1"), email: "a@example.com" },
        "b.example.com": { username: "b", password: "2" },
        "c.example.com": { identitytoken: "t" },
        "d.example.com": "not an object",
        "e.example.com": { auth: "", username: 5, password: "" }
      },
      credHelpers: { "f.example.com": "ecr-login", "g.example.com": "", "h.example.com": 7 },
      credsStore: ""
    })
    expect(cfg.auths.map(([key, entry]) => [key, Object.keys(entry)])).toStrictEqual([
      ["a.example.com", ["auth"]],
      ["b.example.com", ["username", "password"]],
      ["c.example.com", ["identityToken"]],
      ["e.example.com", []]
    ])
    expect(lookup(cfg, "e.example.com")).toBeUndefined()
    expect(cfg.credHelpers).toStrictEqual([["f.example.com", "ecr-login"]])
    expect("credsStore" in cfg).toBe(false)
  })

  it("names the file in its two refusals", () => {
    expect(Either.flip(Credentials.parseDockerConfig("{ not json", "/etc/docker/config.json"))).toEqual(
      Either.right(expect.objectContaining({ reason: "ConfigInvalid", message: "Docker config /etc/docker/config.json is not valid JSON" }))
    )
    for (const text of ["5", "null", "[]", "\"auths\""]) {
      expect(Either.flip(Credentials.parseDockerConfig(text, "/etc/docker/config.json"))).toEqual(
        Either.right(
          expect.objectContaining({ reason: "ConfigInvalid", message: "Docker config /etc/docker/config.json is not a JSON object" })
        )
      )
    }
  })

  // docker/cli's decodeAuth: base64 of "user:password", refused without a colon or with an empty user name.
  it("refuses an auth field without a user name, naming file and key", () => {
    for (const decoded of [":pw", "no-colon"]) {
      expect(Either.flip(Credentials.entryCredential({ auth: b64(decoded) }, "registry.example.com", "/cfg.json"))).toEqual(
        Either.right(expect.objectContaining({
          reason: "ConfigInvalid",
          message: "Docker config /cfg.json: the \"auth\" field for registry.example.com is not base64 of \"username:password\""
        }))
      )
    }
  })

  it("needs both username and password fields", () => {
    for (const entry of [{ username: "u" }, { password: secret("p") }, {}]) {
      expect(Credentials.entryCredential(entry, "registry.example.com", "/cfg.json")).toEqual(Either.right(Option.none()))
    }
  })

  it("rejects malformed documents with the path and no content", () => {
    const result = Credentials.parseDockerConfig("{ \"auths\": { \"x\": { \"auth\": \"c2VjcmV0\"", "/etc/docker/config.json")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.reason).toBe("ConfigInvalid")
      expect(result.left.message).toContain("/etc/docker/config.json")
      expect(result.left.message).not.toContain("c2VjcmV0")
    }
  })

  it.prop("an undecodable auth field never leaks its content into the error", [
    fc.string({ maxLength: 30 }).filter((s) => !s.includes(":")).map((s) => `S3cr3t-${s}`)
  ], ([password]) => {
    const entry: Credentials.DockerAuthEntry = { auth: b64(password) }
    const result = Credentials.entryCredential(entry, "registry.example.com", "/cfg.json")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.message).not.toContain(b64(password))
      expect(result.left.message).not.toContain(password)
    }
  })
})

describe("credential helpers (pure)", () => {
  it("parses Username/Secret, and <token> as an identity token", () => {
    expect(reveal(Either.getOrThrow(Credentials.parseHelperOutput("{\"Username\":\"u\",\"Secret\":\"s\"}", "x"))))
      .toEqual({ basic: "u:s" })
    expect(reveal(Either.getOrThrow(Credentials.parseHelperOutput("{\"Username\":\"<token>\",\"Secret\":\"t\"}", "x"))))
      .toEqual({ token: "t" })
    expect(Either.isLeft(Credentials.parseHelperOutput("not json", "x"))).toBe(true)
  })
  // docker-credential-helpers' get answer: {"ServerURL","Username","Secret"}.
  it("reads a missing or non-string Username as empty, and no Secret as no credential", () => {
    const parsed = (stdout: string) => reveal(Either.getOrThrow(Credentials.parseHelperOutput(stdout, "x")))
    expect(parsed("{\"Secret\":\"s\"}")).toEqual({ basic: ":s" })
    expect(parsed("{\"Username\":5,\"Secret\":\"s\"}")).toEqual({ basic: ":s" })
    expect(parsed("{\"Username\":\"u\"}")).toBeUndefined()
    expect(parsed("{\"Username\":\"u\",\"Secret\":\"\"}")).toBeUndefined()
    expect(parsed("{\"Username\":\"u\",\"Secret\":5}")).toBeUndefined()
  })
  it("says what is wrong with a helper's answer, naming the helper", () => {
    expect(Either.flip(Credentials.parseHelperOutput("not json", "ecr-login"))).toEqual(Either.right(
      expect.objectContaining({ reason: "HelperFailed", message: "docker-credential-ecr-login printed something that is not JSON" })
    ))
    for (const stdout of ["5", "null", "[]"]) {
      expect(Either.flip(Credentials.parseHelperOutput(stdout, "ecr-login"))).toEqual(Either.right(
        expect.objectContaining({ reason: "HelperFailed", message: "docker-credential-ecr-login printed no JSON object" })
      ))
    }
  })
  it("says which helper name it refuses and why", () => {
    expect(Either.flip(Credentials.helperExecutable("../../bin/sh"))).toEqual(Either.right(expect.objectContaining({
      reason: "HelperInvalid",
      message: "invalid credential helper name \"../../bin/sh\": expected the suffix of docker-credential-<name>, e.g. \"ecr-login\""
    })))
  })
  it("refuses helper names that could escape PATH lookup", () => {
    expect(Credentials.helperExecutable("ecr-login")).toEqual(Either.right("docker-credential-ecr-login"))
    for (const bad of ["../../bin/sh", "/bin/sh", "a b", "", "x;rm"]) {
      expect(Either.isLeft(Credentials.helperExecutable(bad))).toBe(true)
    }
  })
  it("recognises the helpers' 'not found' answer", () => {
    expect(Credentials.isHelperNotFound("credentials not found in native keychain")).toBe(true)
    expect(Credentials.isHelperNotFound("permission denied")).toBe(false)
  })
  it("fingerprints differ per credential and do not contain the secret", () => {
    const a = Credentials.fingerprint(Credentials.basic("u", secret("password-one")))
    const b = Credentials.fingerprint(Credentials.basic("u", secret("password-two")))
    expect(a).not.toBe(b)
    expect(a).not.toContain("password")
  })
  it("fingerprints identity tokens per token, as 32 hex digits like those of passwords", () => {
    const one = Credentials.fingerprint(Credentials.identityToken(secret("token-one")))
    expect(one).toMatch(/^[0-9a-f]{32}$/)
    expect(one).not.toBe(Credentials.fingerprint(Credentials.identityToken(secret("token-two"))))
    expect(Credentials.fingerprint(Credentials.basic("u", secret("p")))).toMatch(/^[0-9a-f]{32}$/)
  })
  it("Redacted credentials do not print their secret", () => {
    const password = secret("hunter2")
    const credential = Credentials.basic("u", password)
    expect(JSON.stringify(credential)).not.toContain("hunter2")
    expect(String(password)).not.toContain("hunter2")
    expect(`${JSON.stringify(Credentials.staticCredential({ username: "u", password }, undefined))}`).not.toContain("hunter2")
  })
})

describe("Credentials service", () => {
  let dir: string
  const originalPath = process.env["PATH"]

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cred-test-"))
    const helper = (name: string, body: string) => {
      const file = join(dir, `docker-credential-${name}`)
      writeFileSync(file, `#!/bin/sh\n${body}\n`)
      chmodSync(file, 0o755)
    }
    // prints credentials that encode the server URL it was asked about
    helper("echo", "read url\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"user-for-%s\",\"Secret\":\"s3cret\"}' \"$url\" \"$url\"")
    helper("token", "cat >/dev/null\necho '{\"Username\":\"<token>\",\"Secret\":\"refresh\"}'")
    helper("empty", "cat >/dev/null\necho 'credentials not found in native keychain'\nexit 1")
    helper("broken", "cat >/dev/null\necho 'backend exploded' >&2\nexit 3")
    // docker-credential-helpers print their errors on stdout
    helper("stdout-error", "cat >/dev/null\necho 'error getting credentials - err: exit status 1, out: locked'\nexit 1")
    // an answer, then a failure: the secret must not reach the message
    helper("leaky", "cat >/dev/null\necho '{\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"leaked-s3cret\"}'\nexit 2")
    helper("leaky-stderr", "cat >/dev/null\necho '\"Secret\": \"leaked-s3cret\"' >&2\nexit 2")
    helper("slow", "exec sleep 30")
    process.env["PATH"] = `${dir}:${originalPath ?? ""}`
  })

  afterAll(() => {
    process.env["PATH"] = originalPath
    rmSync(dir, { recursive: true, force: true })
  })

  const lookup = (config: CredentialsLayer.CredentialsConfig, domain: string, taskAuth?: Credentials.UserPassword) =>
    Effect.gen(function*() {
      const service = yield* CredentialsLayer.make(config)
      return reveal(yield* service.lookup(domain, taskAuth))
    })

  it.live("runs the driver-level helper with the Docker server address on stdin", () =>
    Effect.gen(function*() {
      expect(yield* lookup({ helper: "echo" }, "docker.io")).toEqual({
        basic: "user-for-https://index.docker.io/v1/:s3cret"
      })
      expect(yield* lookup({ helper: "echo" }, "127.0.0.1:5001")).toEqual({ basic: "user-for-127.0.0.1:5001:s3cret" })
      expect(yield* lookup({ helper: "token" }, "registry.example.com")).toEqual({ token: "refresh" })
    }))

  it.live("static auth blocks win over helpers and config", () =>
    Effect.gen(function*() {
      expect(yield* lookup({ helper: "echo", auth: userPass("driver", "d") }, "docker.io")).toEqual({
        basic: "driver:d"
      })
      expect(yield* lookup({ helper: "echo", auth: userPass("driver", "d") }, "docker.io", userPass("task", "t")))
        .toEqual({ basic: "task:t" })
    }))

  it.live("falls through a helper that has nothing to config.json", () =>
    Effect.gen(function*() {
      const path = join(dir, "config-fallthrough.json")
      writeFileSync(path, JSON.stringify({ auths: { "registry.example.com": { auth: b64("cfg:pw") } } }))
      expect(yield* lookup({ helper: "empty", dockerConfigPath: path }, "registry.example.com")).toEqual({
        basic: "cfg:pw"
      })
      expect(yield* lookup({ helper: "empty" }, "registry.example.com")).toBeUndefined()
    }))

  it.live("uses credHelpers and credsStore from config.json", () =>
    Effect.gen(function*() {
      const path = join(dir, "config-helpers.json")
      writeFileSync(path, JSON.stringify({ credHelpers: { "registry.example.com": "echo" }, credsStore: "token" }))
      expect(yield* lookup({ dockerConfigPath: path }, "registry.example.com")).toEqual({
        basic: "user-for-registry.example.com:s3cret"
      })
      expect(yield* lookup({ dockerConfigPath: path }, "other.example.com")).toEqual({ token: "refresh" })
    }))

  it.live("a missing config file means no credentials; a broken one is an error", () =>
    Effect.gen(function*() {
      expect(yield* lookup({ dockerConfigPath: join(dir, "absent.json") }, "docker.io")).toBeUndefined()
      const path = join(dir, "config-broken.json")
      writeFileSync(path, "{ not json")
      const error = yield* Effect.flip(lookup({ dockerConfigPath: path }, "docker.io"))
      expect(error.reason).toBe("ConfigInvalid")
      expect(error.message).toContain(path)
    }))

  it.live("reports a failing, missing or hanging helper without secrets", () =>
    Effect.gen(function*() {
      const broken = yield* Effect.flip(lookup({ helper: "broken" }, "registry.example.com"))
      expect(broken.reason).toBe("HelperFailed")
      expect(broken.message).toContain("docker-credential-broken")
      expect(broken.message).toContain("exit status 3")
      expect(broken.message).toContain("backend exploded")
      const onStdout = yield* Effect.flip(lookup({ helper: "stdout-error" }, "registry.example.com"))
      expect(onStdout.message).toBe(
        "credential helper docker-credential-stdout-error failed for registry.example.com (exit status 1): error getting credentials - err: exit status 1, out: locked"
      )
      for (const helper of ["leaky", "leaky-stderr"]) {
        const leaky = yield* Effect.flip(lookup({ helper }, "registry.example.com"))
        expect(leaky.message).toBe(
          `credential helper docker-credential-${helper} failed for registry.example.com (exit status 2): (its output looks like a credential answer and is not shown)`
        )
      }
      const missing = yield* Effect.flip(lookup({ helper: "does-not-exist" }, "registry.example.com"))
      expect(missing.message).toContain("docker-credential-does-not-exist was not found on PATH")
      const slow = yield* Effect.flip(lookup({ helper: "slow", helperTimeout: "200 millis" }, "docker.io"))
      expect(slow.message).toContain("did not answer within")
    }))
})
