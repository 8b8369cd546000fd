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
      const missing = yield* Effect.flip(lookup({ helper: "does-not-exist" }, "registry.example.com"))
      expect(missing.message).toContain("docker-credential-does-not-exist was not found on PATH")
      const slow = yield* Effect.flip(lookup({ helper: "slow", helperTimeout: "200 millis" }, "docker.io"))
      expect(slow.message).toContain("did not answer within")
    }))
})
