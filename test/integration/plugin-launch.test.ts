/**
 * The built executable launched exactly as Nomad launches it, driven through the agent's loader
 * sequence (hashicorp/nomad helper/pluginutils/loader/init.go, client/pluginmanager/drivermanager/instance.go),
 * with config bytes produced as Nomad produces them.
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { execFileSync, spawnSync } from "node:child_process"
import { Either } from "effect"
import { decodeConfig } from "../../src/config/Cty.js"
import { TaskConfig } from "../../src/config/TaskConfig.js"
import type { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"
import { PluginType } from "../../src/gen/plugins/base/proto/base.js"
import {
  DriverCapabilities_FSIsolation,
  type DriverTaskEvent,
  type FingerprintResponse,
  FingerprintResponse_HealthState
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health.js"
import { encodeLikeNomad } from "../support/NomadCty.js"
import { secondContainerd } from "../support/SecondContainerd.js"
import { type Launched, launch, nomadEnv, pluginDir, unary } from "../support/PluginProcess.js"

const containerdAddress = process.env["CONTAINERD_ADDRESS"] ?? "/run/containerd/containerd.sock"
const hclogTimestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/

let dir: string
const running: Array<Launched> = []
const start = async (env?: NodeJS.ProcessEnv) => {
  const launched = await launch(dir, env)
  running.push(launched)
  return launched
}

beforeAll(() => {
  dir = pluginDir()
})
afterEach(() => {
  for (const l of running.splice(0)) l.close()
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/**
 * Nomad's GRPCController.Shutdown, then the wait for the process to exit by itself: observed as its exit event
 * (a hang fails the test at its timeout), not held to a clock. go-plugin's Kill() SIGKILLs a plugin still there
 * 2 s after Shutdown; how long the exit takes is measured by the benchmark runner, not asserted here. An exit
 * by itself has no signal, and the plugin removes its socket on the way out.
 */
const kill = async (plugin: Launched) => {
  await unary(plugin.controller, plugin.controller.shutdown, {})
  await plugin.exited
  expect(plugin.child.signalCode).toBe(null)
  expect(fs.existsSync(plugin.socketPath)).toBe(false)
}

/** Every stderr line is an hclog JSON record Nomad re-logs at its level. */
const expectHclogStderr = (plugin: Launched) => {
  const lines = plugin.stderr().split("\n").filter((l) => l !== "")
  expect(lines.length).toBeGreaterThan(0)
  for (const line of lines) {
    const record = JSON.parse(line)
    expect(record["@timestamp"]).toMatch(hclogTimestamp)
    expect(["trace", "debug", "info", "warn", "error"]).toContain(record["@level"])
  }
}

const firstFingerprint = (plugin: Launched): Promise<FingerprintResponse> =>
  new Promise((resolve, reject) => {
    const stream = plugin.driver.fingerprint({})
    stream.on("data", (r: FingerprintResponse) => {
      resolve(r)
      stream.cancel()
    })
    stream.on("error", (e: grpc.ServiceError) => e.code !== grpc.status.CANCELLED && reject(e))
  })

const configSchema = async (plugin: Launched): Promise<Spec> => (await unary(plugin.base, plugin.base.configSchema, {})).spec!

describe("launched as Nomad launches it", () => {
  it("fingerprint instance: PluginInfo, ConfigSchema, then Shutdown; exits by itself, socket removed", async () => {
    const plugin = await start(nomadEnv({ CONTAINERD_DRIVER_LOG_LEVEL: "debug" }))
    expect(plugin.handshake).toMatch(/^1\|2\|unix\|\/.+\|grpc\|$/)
    const health = await unary(plugin.health, plugin.health.check, { service: "plugin" })
    expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING)
    const info = await unary(plugin.base, plugin.base.pluginInfo, {})
    expect(info).toEqual({ type: PluginType.DRIVER, pluginApiVersions: ["v0.1.0"], pluginVersion: "0.1.0", name: "containerd-driver" })
    expect(info.pluginVersion).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/)
    const spec = await configSchema(plugin)
    expect(spec.block?.$case).toBe("object")
    await kill(plugin)
    // stdout carried the handshake line and nothing else.
    expect(plugin.stdout()).toBe(`${plugin.handshake}\n`)
    expectHclogStderr(plugin)
  })

  it("validation instance: SetConfig twice without nomad_config", async () => {
    const plugin = await start()
    const bytes = encodeLikeNomad(await configSchema(plugin), { containerd_runtime: "io.containerd.runc.v2", stats_interval: "5s" })
    for (let i = 0; i < 2; i++) {
      await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.from(bytes), pluginApiVersion: "v0.1.0" })
    }
    // A config Nomad's hcldec accepted but the plugin cannot use fails SetConfig with a clear message.
    const bad = encodeLikeNomad(await configSchema(plugin), { namespace: "no spaces" })
    const error = await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.from(bad), pluginApiVersion: "v0.1.0" })
      .then(() => undefined, (e: grpc.ServiceError) => e)
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(error?.details).toContain("is not a valid containerd namespace")
    // A bad stats_interval only warned in the original driver: the config loads, with a warning in the log.
    const warned = encodeLikeNomad(await configSchema(plugin), { stats_interval: "often" })
    await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.from(warned), pluginApiVersion: "v0.1.0" })
    // An agent without a config block for the plugin still sends a (defaults-only) config.
    await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.from(encodeLikeNomad(await configSchema(plugin), {})), pluginApiVersion: "v0.1.0" })
    await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.alloc(0), pluginApiVersion: "v0.1.0" })
    await kill(plugin)
    const warning = plugin.stderr().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
      .find((record) => record["@level"] === "warn" && String(record["@message"]).startsWith('stats_interval "often"'))
    expect(warning?.["@message"]).toContain("Nomad's collection interval is used instead")
  })

  it("long-lived instance: SetConfig, Init, Fingerprint, TaskEvents, TaskConfigSchema, Capabilities, Shutdown", async () => {
    const plugin = await start(nomadEnv({ CONTAINERD_DRIVER_LOG_LEVEL: "debug" }))
    const bytes = encodeLikeNomad(await configSchema(plugin), { containerd_address: containerdAddress })
    await unary(plugin.base, plugin.base.setConfig, {
      msgpackConfig: Buffer.from(bytes),
      pluginApiVersion: "v0.1.0",
      nomadConfig: { driver: { ClientMaxPort: 14512, ClientMinPort: 14000 } }
    })
    await unary(plugin.driver, plugin.driver.init, {})

    const events: Array<DriverTaskEvent> = []
    const eventStream = plugin.driver.taskEvents({})
    let eventsEnded = false
    eventStream.on("data", (e: DriverTaskEvent) => events.push(e))
    eventStream.on("end", () => (eventsEnded = true))
    eventStream.on("error", () => (eventsEnded = true))

    const fp = await firstFingerprint(plugin)
    expect(fp.health).toBe(FingerprintResponse_HealthState.HEALTHY)

    const schema = await unary(plugin.driver, plugin.driver.taskConfigSchema, {})
    // A job using every option of the original driver decodes against the schema the plugin returned.
    const job = {
      image: "redis:alpine", command: "sleep", args: ["600s"], cwd: "/home", privileged: false, pids_limit: 10,
      pid_mode: "host", hostname: "foobar", host_dns: false, image_pull_timeout: "1m", extra_hosts: ["a:127.0.1.1"],
      seccomp: true, seccomp_profile: "/p.json", shm_size: "128M", sysctl: [{ "net.core.somaxconn": "16384" }],
      readonly_rootfs: true, host_network: false, cap_add: ["CAP_SYS_ADMIN"], cap_drop: ["CAP_CHOWN"],
      devices: ["/dev/loop0"], auth: [{ username: "u", password: "p" }],
      mounts: [{ type: "bind", source: "local/x", target: "/x", options: ["rbind", "ro"] }]
    }
    const decoded = decodeConfig(TaskConfig, "task config")(encodeLikeNomad(schema.spec!, job))
    expect(Either.isRight(decoded)).toBe(true)
    expect(Either.getOrThrow(decoded)).toMatchObject({ hostname: "foobar", sysctl: { "net.core.somaxconn": "16384" }, auth: { username: "u" } })

    const caps = await unary(plugin.driver, plugin.driver.capabilities, {})
    expect(caps.capabilities).toMatchObject({ sendSignals: true, exec: true, fsIsolation: DriverCapabilities_FSIsolation.IMAGE })

    // TaskEvents stays open while the plugin serves other calls: a further call is answered and the stream has not
    // ended; it ends with the plugin (the agent's loader sees the stream close on Shutdown).
    expect((await unary(plugin.base, plugin.base.pluginInfo, {})).name).toBe("containerd-driver")
    expect(eventsEnded).toBe(false)
    const streamEnded = new Promise<void>((resolve) => {
      if (eventsEnded) resolve()
      eventStream.on("end", () => resolve())
      eventStream.on("error", () => resolve())
      eventStream.on("close", () => resolve())
    })
    await kill(plugin)
    await streamEnded
    expectHclogStderr(plugin)
  })
})

describe("fingerprint", () => {
  const configure = async (plugin: Launched, config: Record<string, unknown>) => {
    const bytes = encodeLikeNomad(await configSchema(plugin), config)
    await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.from(bytes), pluginApiVersion: "v0.1.0", nomadConfig: {} })
  }

  it("is healthy with the real containerd's version and revision as node attributes", async () => {
    const plugin = await start()
    await configure(plugin, { containerd_address: containerdAddress })
    const fp = await firstFingerprint(plugin)
    expect(fp.health).toBe(FingerprintResponse_HealthState.HEALTHY)
    const serverVersion = execFileSync("ctr", ["--address", containerdAddress, "version"], { encoding: "utf8" })
      .split("Server:")[1]!.match(/Version:\s*(\S+)/)![1]
    expect(fp.attributes["driver.containerd.containerd_version"]?.value).toEqual({ $case: "stringVal", value: serverVersion })
    expect(fp.attributes["driver.containerd.containerd_revision"]?.value?.$case).toBe("stringVal")
    expect(fp.attributes["driver.containerd.snapshotter"]?.value).toEqual({ $case: "stringVal", value: "overlayfs" })
    const cgroup = fp.attributes["driver.containerd.cgroup_version"]?.value
    expect(cgroup?.$case === "intVal" && [1n, 2n].includes(cgroup.value)).toBe(true)
    await kill(plugin)
  })

  it("is unhealthy with a clear description when no containerd answers on the socket, without crashing", async () => {
    const plugin = await start()
    const missing = path.join(dir, "no-such-containerd.sock")
    await configure(plugin, { containerd_address: missing })
    const fp = await firstFingerprint(plugin)
    expect(fp.health).toBe(FingerprintResponse_HealthState.UNHEALTHY)
    expect(fp.healthDescription).toContain(`containerd is not reachable at ${missing}`)
    expect(fp.healthDescription).toMatch(/does not exist/)
    // Still serving afterwards.
    expect((await unary(plugin.base, plugin.base.pluginInfo, {})).name).toBe("containerd-driver")
    await kill(plugin)
  })

  it("is unhealthy when the configured snapshotter does not exist in containerd", async () => {
    const plugin = await start()
    await configure(plugin, { containerd_address: containerdAddress, snapshotter: "nosuchsnapshotter" })
    const fp = await firstFingerprint(plugin)
    expect(fp.health).toBe(FingerprintResponse_HealthState.UNHEALTHY)
    expect(fp.healthDescription).toContain('snapshotter "nosuchsnapshotter" is not available')
    await kill(plugin)
  })

  it("recovers when containerd appears, and again after containerd restarts; the stream stays open", async () => {
    const ctd = secondContainerd()
    try {
      const plugin = await start()
      await configure(plugin, { containerd_address: ctd.socket })
      const responses: Array<FingerprintResponse> = []
      let ended = false
      const stream = plugin.driver.fingerprint({})
      stream.on("data", (r: FingerprintResponse) => responses.push(r))
      stream.on("end", () => (ended = true))
      stream.on("error", () => (ended = true))
      const next = async (health: FingerprintResponse_HealthState) => {
        const from = responses.length
        for (let i = 0; i < 300; i++) {
          const hit = responses.slice(from).find((r) => r.health === health)
          if (hit) return hit
          await new Promise((r) => setTimeout(r, 100))
        }
        throw new Error(`no ${FingerprintResponse_HealthState[health]} fingerprint within 30 s after ${JSON.stringify(responses.map((r) => r.health))}`)
      }
      await next(FingerprintResponse_HealthState.UNHEALTHY)
      await ctd.start()
      const healthy = await next(FingerprintResponse_HealthState.HEALTHY)
      expect(healthy.attributes["driver.containerd.containerd_version"]?.value?.$case).toBe("stringVal")
      await ctd.stop()
      expect((await next(FingerprintResponse_HealthState.UNHEALTHY)).healthDescription).toContain("containerd is not reachable")
      await ctd.start()
      await next(FingerprintResponse_HealthState.HEALTHY)
      // Only changes are sent: no response repeats the one before it.
      const encoded = responses.map((r) => JSON.stringify(r, (_, v) => (typeof v === "bigint" ? String(v) : v)))
      for (let i = 1; i < encoded.length; i++) expect(encoded[i]).not.toBe(encoded[i - 1])
      expect(ended).toBe(false)
      stream.cancel()
      await kill(plugin)
    } finally {
      await ctd.dispose()
    }
  }, 120_000)

  it("reports UNDETECTED when disabled in the plugin config", async () => {
    const plugin = await start()
    await configure(plugin, { enabled: false })
    expect((await firstFingerprint(plugin)).health).toBe(FingerprintResponse_HealthState.UNDETECTED)
    await kill(plugin)
  })
})

describe("process hygiene", () => {
  it("explains itself and exits 1 when run by hand without Nomad's cookie", () => {
    const result = spawnSync(path.join(dir, "containerd-driver"), [], { encoding: "utf8", env: { PATH: process.env["PATH"] } })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain("This binary is a plugin")
  })

  it("ignores SIGINT, as go-plugin servers do", async () => {
    const plugin = await start()
    const exitedBySignal = plugin.exited.then(() => plugin.child.signalCode)
    expect(plugin.child.kill("SIGINT")).toBe(true)
    // The signal is pending in the kernel before the plugin reads the next request: without a handler its default
    // action ends the process first, so an answer proves it survived.
    expect((await unary(plugin.base, plugin.base.pluginInfo, {})).name).toBe("containerd-driver")
    expect(plugin.child.exitCode).toBe(null)
    await kill(plugin)
    expect(await exitedBySignal).toBe(null)
  })

  it("keeps serving when the agent's end of stdout and stderr is gone (EPIPE)", async () => {
    const plugin = await start(nomadEnv({ CONTAINERD_DRIVER_LOG_LEVEL: "trace" }))
    plugin.child.stdout.destroy()
    plugin.child.stderr.destroy()
    // Every call logs at trace level, so the plugin writes into the broken pipe.
    for (let i = 0; i < 3; i++) {
      await unary(plugin.base, plugin.base.setConfig, { msgpackConfig: Buffer.alloc(0), pluginApiVersion: "v0.1.0" })
    }
    expect(plugin.child.exitCode).toBe(null)
    expect((await unary(plugin.base, plugin.base.pluginInfo, {})).name).toBe("containerd-driver")
    await kill(plugin)
  })

  it("creates its socket in PLUGIN_UNIX_SOCKET_DIR", async () => {
    const socketDir = fs.mkdtempSync(path.join(dir, "sock-"))
    const plugin = await start(nomadEnv({ PLUGIN_UNIX_SOCKET_DIR: socketDir }))
    expect(path.dirname(plugin.socketPath)).toBe(socketDir)
    await kill(plugin)
  })

  it("answers task RPCs for ids it does not know with NOT_FOUND, and success for Stop and Destroy, as Nomad expects", async () => {
    const plugin = await start()
    const error = await unary(plugin.driver, plugin.driver.inspectTask, { taskId: "x" }).then(() => undefined, (e: grpc.ServiceError) => e)
    expect(error?.code).toBe(grpc.status.NOT_FOUND)
    expect(error?.details).toBe('task "x" is not known to the driver')
    await unary(plugin.driver, plugin.driver.stopTask, { taskId: "a/b/c", timeout: { seconds: 1n, nanos: 0 }, signal: "" })
    await unary(plugin.driver, plugin.driver.destroyTask, { taskId: "a/b/c", force: true })
    await kill(plugin)
  })
})
