/**
 * StartTask of the built plugin with images from registries as users have them, described only by the plugin's
 * `hosts_dir`: docker.io mirrored by the local registry (offline), an HTTPS registry with a private CA and Bearer
 * tokens (one token per repository scope, reused across starts), a registry that wants a client certificate, and a
 * failing mirror reported in the task's events. Needs `scripts/test-env.sh up` and a current build.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DriverTaskEvent } from "../../src/gen/plugins/drivers/proto/driver.js"
import { type Harness, harness, withHarness } from "../support/driverHarness.js"
import { closedPort, probeAccount, scratchHostsDir, tlsEnv, tokenRequests } from "../support/tlsRegistries.js"
import { integrationEnv } from "./env.js"

const hostsDir = scratchHostsDir({
  "docker.io": `[host."http://${integrationEnv.registry}"]\n  capabilities = ["pull", "resolve"]\n`,
  [tlsEnv.tokenRegistry]: `server = "https://${tlsEnv.tokenRegistry}"\nca = "${tlsEnv.ca}"\n`,
  [tlsEnv.mtlsRegistry]: `server = "https://${tlsEnv.mtlsRegistry}"\nca = "${path.basename(tlsEnv.ca)}"\n` +
    `client = [["${tlsEnv.clientCert}", "${tlsEnv.clientKey}"]]\n`
})
// A relative ca is read from beside the hosts.toml.
fs.copyFileSync(tlsEnv.ca, path.join(hostsDir, tlsEnv.mtlsRegistry, path.basename(tlsEnv.ca)))

const sleeper = (image: string) => ({ image, command: "sleep", args: ["600"] })

/** Waits (up to 10 s) for what the plugin streams to arrive. */
const eventually = async <A>(find: () => A | undefined): Promise<A | undefined> => {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const found = find()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return undefined
}

let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-registries", containerdAddress: integrationEnv.containerdAddress, pluginConfig: { hosts_dir: hostsDir } })
}, 60_000)

afterAll(async () => {
  await h?.dispose()
  fs.rmSync(hostsDir, { recursive: true, force: true })
})

describe("StartTask with registries from hosts_dir", () => {
  it("starts busybox (docker.io) through the mirror, offline", async () => {
    const task = await h.start({ config: sleeper("busybox") })
    expect(await h.probe.images()).toContain("docker.io/library/busybox:latest")
    expect(await h.exec(task.id, ["true"])).toMatchObject({ exitCode: 0 })
    await h.driver().destroy(task.id)
  }, 120_000)

  it("starts images from the token registry with the task's auth: one token per repository, reused by later starts", async () => {
    const account = probeAccount()
    const auth = { username: account, password: tlsEnv.password }
    const first = await h.start({ config: { ...sleeper(`${tlsEnv.tokenRegistry}/test/busybox:latest`), auth } })
    const second = await h.start({ config: { ...sleeper(`${tlsEnv.tokenRegistry}/test/busybox-docker:latest`), auth } })
    // A later start checks the tag with the registry again, with the token it already has.
    const third = await h.start({ config: { ...sleeper(`${tlsEnv.tokenRegistry}/test/busybox:latest`), auth } })
    expect(await h.exec(third.id, ["true"])).toMatchObject({ exitCode: 0 })
    const requests = await tokenRequests(account)
    expect(requests.map((r) => [r.scopes, r.credentials, r.valid])).toEqual([
      [["repository:test/busybox:pull"], "basic", true],
      [["repository:test/busybox-docker:pull"], "basic", true]
    ])
    for (const task of [first, second, third]) await h.driver().destroy(task.id)
  }, 120_000)

  it("starts an image from the registry that wants a client certificate", async () => {
    const task = await h.start({ config: sleeper(`${tlsEnv.mtlsRegistry}/test/busybox-docker:latest`) })
    expect(await h.exec(task.id, ["true"])).toMatchObject({ exitCode: 0 })
    await h.driver().destroy(task.id)
  }, 120_000)
})

describe("a failing mirror", () => {
  it("is reported in the task's events, and the server serves the image", async () => {
    const mirror = await closedPort()
    const dir = scratchHostsDir({
      "docker.io": `server = "http://${integrationEnv.registry}"\n[host."http://127.0.0.1:${mirror}"]\n  capabilities = ["pull", "resolve"]\n`
    })
    try {
      await withHarness(
        { prefix: "cdd-mirror-events", containerdAddress: integrationEnv.containerdAddress, pluginConfig: { hosts_dir: dir } },
        async (mirrored) => {
          const events: Array<DriverTaskEvent> = []
          const stream = mirrored.plugin().process.driver.taskEvents({})
          stream.on("data", (event: DriverTaskEvent) => events.push(event))
          stream.on("error", () => {})
          try {
            const task = await mirrored.start({ config: sleeper("busybox") })
            expect(await mirrored.exec(task.id, ["true"])).toMatchObject({ exitCode: 0 })
            const warning = await eventually(() => events.find((event) => event.taskId === task.id && event.message.startsWith("registry mirror")))
            expect(warning?.message).toBe(
              `registry mirror http://127.0.0.1:${mirror}/v2 for docker.io failed while pulling docker.io/library/busybox:latest ` +
                `(cannot reach registry 127.0.0.1:${mirror} while pulling docker.io/library/busybox:latest (ECONNREFUSED: connect ` +
                `ECONNREFUSED 127.0.0.1:${mirror})); trying server http://${integrationEnv.registry}/v2`
            )
            await mirrored.driver().destroy(task.id)
          } finally {
            stream.cancel()
          }
        }
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
