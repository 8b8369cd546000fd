// How plugin and task options become image-store settings (shared by the plugin and `containerd-driver pull`),
// and the pull command's arguments.
import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted, Schema } from "effect"
import { credentialsConfig, pullOptions } from "../../layers/imagestore/fromConfig.js"
import { pullArgs, type PullOptions } from "../../layers/PullCommand.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import { TaskConfig } from "../../src/config/TaskConfig.js"

const driver = (input: Record<string, unknown>) => Schema.decodeUnknownSync(DriverConfig)(input)
const task = (input: Record<string, unknown>) => Schema.decodeUnknownSync(TaskConfig)({ image: "redis", ...input })

describe("image-store settings from the plugin and task config", () => {
  it("maps the driver's auth block to credential sources, keeping the password redacted", () => {
    const config = credentialsConfig(driver({ auth: { username: "u", password: "secret", config: "/etc/docker.json", helper: "ecr-login" } }))
    expect(config.auth?.username).toBe("u")
    expect(Redacted.value(config.auth!.password)).toBe("secret")
    expect(String(config.auth?.password)).not.toContain("secret")
    expect(JSON.stringify(config)).not.toContain("secret")
    expect(config.dockerConfigPath).toBe("/etc/docker.json")
    expect(config.helper).toBe("ecr-login")
    expect(credentialsConfig(driver({})).auth).toBeUndefined()
    expect(credentialsConfig(driver({ auth: { helper: "pass" } })).auth).toBeUndefined()
  })

  it("maps a task's auth, force_pull and image_pull_timeout to pull options", () => {
    const defaults = pullOptions(task({}))
    expect(defaults).toEqual({ auth: undefined, forcePull: false, timeout: 300_000 })
    const custom = pullOptions(task({ image_pull_timeout: "1m30s", force_pull: true, auth: { username: "me", password: "pw" } }))
    expect(custom.timeout).toBe(90_000)
    expect(custom.forcePull).toBe(true)
    expect(custom.auth?.username).toBe("me")
    expect(Redacted.value(custom.auth!.password)).toBe("pw")
  })
})

describe("containerd-driver pull arguments", () => {
  const options: PullOptions = { image: "alpine:3", configFile: undefined, force: false, user: undefined, timeout: "5m" }

  it("takes the password from the environment and the timeout as a Go duration", () => {
    const parsed = Either.getOrThrow(pullArgs({ ...options, force: true, configFile: "/tmp/p.json", user: "u", timeout: "90s" }, { CONTAINERD_DRIVER_REGISTRY_PASSWORD: "p:w" }))
    expect(parsed.image).toBe("alpine:3")
    expect(parsed.configFile).toBe("/tmp/p.json")
    expect(parsed.force).toBe(true)
    expect(parsed.auth?.username).toBe("u")
    expect(Redacted.value(parsed.auth!.password)).toBe("p:w")
    expect(parsed.timeoutMillis).toBe(90_000)
    expect(Either.getOrThrow(pullArgs(options, {}))).toMatchObject({ force: false, configFile: undefined, auth: undefined, timeoutMillis: 300_000 })
  })

  it("rejects what it cannot use, saying why", () => {
    const error = (overrides: Partial<PullOptions>) =>
      Either.getLeft(pullArgs({ ...options, ...overrides }, {})).pipe((e) => (e._tag === "Some" ? e.value : ""))
    expect(error({ user: "u:secret" })).toContain("takes only the user name")
    expect(error({ user: "u" })).toContain("needs the password in $CONTAINERD_DRIVER_REGISTRY_PASSWORD")
    expect(error({ timeout: "soon" })).toContain("not a positive Go duration")
    expect(error({ timeout: "0s" })).toContain("not a positive Go duration")
  })
})
