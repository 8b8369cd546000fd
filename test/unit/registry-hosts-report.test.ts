// `doctor --image REF`'s answer: the hosts a pull would try, in order, what each may do, how it is reached, and
// where its credentials would come from — never the credentials; and the credential lookup that keeps the auth
// blocks for the registry's own server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted, Schema } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import { hostsReport } from "../../layers/registry/hostsReport.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"

const dir = mkdtempSync(join(tmpdir(), "cdd-hosts-report-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const write = (file: string, text: string) => {
  mkdirSync(join(dir, file, ".."), { recursive: true })
  writeFileSync(join(dir, file), text)
}

// A CA file holds only a certificate (the report checks its shape, not the signature).
const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

const driver = (input: Record<string, unknown>) => Schema.decodeUnknownSync(DriverConfig)(input)

describe("doctor --image", () => {
  it.effect("lists the hosts in order with capabilities, transport and credential sources, without secrets", () =>
    Effect.gen(function*() {
      write("certs.d/docker.io/hosts.toml", [
        `dial_timeout = "1s"`,
        `[host."http://127.0.0.1:5000"]`,
        `  capabilities = ["pull"]`,
        `[host."https://mirror.internal"]`,
        `  capabilities = ["pull", "resolve"]`,
        `  ca = "mirror-ca.crt"`,
        `  skip_verify = true`,
        `  [host."https://mirror.internal".header]`,
        `    x-api-key = "never-printed-key"`
      ].join("\n"))
      write("certs.d/docker.io/mirror-ca.crt", ca)
      write("docker.json", JSON.stringify({ auths: { "mirror.internal": { auth: Buffer.from("m:mirror-secret").toString("base64") } } }))
      const config = driver({
        hosts_dir: join(dir, "certs.d"),
        auth: { username: "hub-user", password: "hub-secret", config: join(dir, "docker.json") }
      })
      const lines = yield* hostsReport(config, "busybox")
      const text = lines.join("\n")
      expect(lines).toEqual([
        "image:         docker.io/library/busybox:latest",
        `hosts config:  ${join(dir, "certs.d/docker.io/hosts.toml")}`,
        "ignored:       dial_timeout (not used by this driver)",
        "host 1:        mirror http://127.0.0.1:5000/v2 (pull); requests carry ns=docker.io",
        "               plain HTTP",
        "               credentials: Docker config " + join(dir, "docker.json") + " (nothing for 127.0.0.1:5000), else anonymous",
        "host 2:        mirror https://mirror.internal/v2 (pull, resolve); requests carry ns=docker.io; headers x-api-key",
        `               TLS with the system CAs + ${join(dir, "certs.d/docker.io/mirror-ca.crt")}; skip_verify: the certificate is NOT checked`,
        `               credentials: the auths entry "mirror.internal" of ${join(dir, "docker.json")}, else anonymous`,
        "host 3:        server https://registry-1.docker.io/v2 (pull, resolve, push)",
        "               TLS with the system CAs",
        "               credentials: the task's auth block if it has one, else the driver's auth block",
        "tag:           resolved by host 2, then host 3",
        "content:       fetched by digest from host 1, then host 2, then host 3"
      ])
      for (const secret of ["hub-secret", "never-printed-key", "mirror-secret", Buffer.from("m:mirror-secret").toString("base64")]) {
        expect(text).not.toContain(secret)
      }
    }))

  it.effect("says what is wrong with a file a pull could not use, and where none is configured", () =>
    Effect.gen(function*() {
      write("broken.d/registry.example.com/hosts.toml", `server = "https://registry.example.com"\nca = "absent.crt"\n`)
      const broken = yield* hostsReport(driver({ hosts_dir: join(dir, "broken.d") }), "registry.example.com/app@sha256:" + "a".repeat(64))
      expect(broken[2]).toBe("host 1:        server https://registry.example.com/v2 (pull, resolve, push)")
      expect(broken[3]).toContain(`TLS: ERROR TLS settings for registry registry.example.com: cannot read the CA file ${join(dir, "broken.d/registry.example.com/absent.crt")}`)
      expect(broken.some((line) => line.startsWith("tag:"))).toBe(false)

      write("invalid.d/_default/hosts.toml", "server = [\n")
      const invalid = yield* hostsReport(driver({ hosts_dir: join(dir, "invalid.d") }), "quay.io/a/b")
      expect(invalid[1]).toMatch(new RegExp(`^hosts config:  ERROR cannot use ${join(dir, "invalid.d/_default/hosts.toml")}: not valid TOML: `))

      const none = yield* hostsReport(driver({ hosts_dir: join(dir, "empty.d") }), "127.0.0.1:5000/test/busybox")
      expect(none.slice(1, 4)).toEqual([
        `hosts config:  none (no 127.0.0.1_5000_, 127.0.0.1:5000, _default under ${join(dir, "empty.d")}): the registry's default server`,
        "host 1:        server http://127.0.0.1:5000/v2 (pull, resolve, push)",
        "               plain HTTP"
      ])
      const off = yield* hostsReport(driver({ hosts_dir: "" }), "busybox")
      expect(off[1]).toBe("hosts config:  none (hosts_dir is \"\")")
      expect((yield* hostsReport(driver({}), "Not A Reference"))[0]).toContain("invalid image reference")
    }))
})

describe("credential lookup per host", () => {
  it.effect("the auth blocks answer for the registry's server only; a mirror is asked about its own name", () =>
    Effect.gen(function*() {
      write("mirror.json", JSON.stringify({ auths: { "mirror.internal": { auth: Buffer.from("m:mirror-secret").toString("base64") } } }))
      const service = yield* CredentialsLayer.make({
        auth: { username: "driver", password: Redacted.make("d") },
        dockerConfigPath: join(dir, "mirror.json")
      })
      const task = { username: "task", password: Redacted.make("t") }
      const server = yield* service.lookup("docker.io", task)
      expect(Option.map(server, (c) => (c._tag === "Basic" ? c.username : "token"))).toEqual(Option.some("task"))
      const mirror = yield* service.lookup("mirror.internal", task, { staticAuth: false })
      expect(Option.map(mirror, (c) => (c._tag === "Basic" ? c.username : "token"))).toEqual(Option.some("m"))
      expect(yield* service.lookup("other-mirror.internal", task, { staticAuth: false })).toEqual(Option.none())
    }))
})
