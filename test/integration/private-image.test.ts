// A private image through the built plugin on the real containerd: once pulled with credentials, it is in the
// namespace, and still does not start for a task without valid credentials — the registry is asked on every start
//, so having the image on the node grants nothing. With credentials it starts again.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { emptyNamespace } from "../support/containerdProbe.js"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const image = `${integrationEnv.authRegistry}/test/private:latest`
const credentials = { username: integrationEnv.registryUser, password: integrationEnv.registryPassword }
const sleeper = { image, command: "sleep", args: ["600"] }

let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-private", containerdAddress: integrationEnv.containerdAddress })
})

afterAll(async () => {
  await h?.dispose()
})

describe("a private image already in the namespace", () => {
  it("does not start for a task without valid credentials, and starts for one with them", async () => {
    const first = await h.start({ config: { ...sleeper, auth: credentials } })
    expect(await h.probe.images()).toContain(image)
    await h.driver().destroy(first.id)

    const without = await failureOf(h.start({ config: sleeper }))
    expect(without.recoverable).toBe(false)
    // No credentials and wrong ones are told apart, each saying what to do.
    expect(without.message).toBe(
      `Error in pulling image ${image}: pull access denied, repository does not exist or may require authorization: ${image}: ` +
        `no credentials were sent to ${integrationEnv.authRegistry}, which asks for them (HTTP 401): give a user name and ` +
        "password in the task's auth block or the plugin's auth block (or its Docker config or credential helper), or " +
        "check the image name"
    )
    const wrong = await failureOf(h.start({ config: { ...sleeper, auth: { ...credentials, password: "not-the-password" } } }))
    expect(wrong.recoverable).toBe(false)
    expect(wrong.message).toBe(
      `Error in pulling image ${image}: pull access denied, repository does not exist or may require authorization: ${image}: ` +
        `${integrationEnv.authRegistry} refused the credentials sent for user "${credentials.username}" (HTTP 401): ` +
        "check the user name and password, and that this user may pull the image"
    )
    expect(wrong.message).not.toContain("not-the-password")
    expect(await h.probe.state()).toEqual(emptyNamespace)

    const again = await h.start({ config: { ...sleeper, auth: credentials } })
    expect(await h.exec(again.id, ["true"])).toMatchObject({ exitCode: 0 })
    await h.driver().destroy(again.id)
  })
})
