/**
 * Files named by a job or an operator that are not regular files of sensible size (issue: a seccomp profile of
 * /dev/zero ate the process's memory; a FIFO hung it for ever): the built executable — as `spec` and as the
 * plugin's StartTask — answers at once with a clear error and leaves nothing behind.
 */
import * as grpc from "@grpc/grpc-js"
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import { Status } from "../../src/gen/google/rpc/status.js"
import { RecoverableError } from "../../src/gen/plugins/shared/structs/proto/recoverable_error.js"
import { cleanupNamespace, uniqueNamespace } from "../support/containerdContract.js"
import { type DriverCalls, driverCalls } from "../support/driverCalls.js"
import { type Allocation, makeAllocation, pluginConfigBytes, taskConfig } from "../support/nomadTask.js"
import { builtPlugin, type Launched, launch, nomadEnv, pluginDir, unary } from "../support/PluginProcess.js"
import { integrationEnv } from "./env.js"

const namespace = uniqueNamespace("cdd-files")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-files-"))
const fifo = path.join(dir, "profile.fifo")
const configFile = path.join(dir, "plugin.json")
const image = `${integrationEnv.registry}/test/busybox:latest`
const containerd = Containerd.layer({ address: integrationEnv.containerdAddress, namespace })

let plugin: Launched
let plugins: string
let driver: DriverCalls
let alloc: Allocation

beforeAll(async () => {
  execFileSync("mkfifo", [fifo])
  fs.writeFileSync(configFile, JSON.stringify({ containerd_address: integrationEnv.containerdAddress, namespace }))
  plugins = pluginDir()
  plugin = await launch(plugins, nomadEnv())
  await unary(plugin.base, plugin.base.setConfig, {
    msgpackConfig: Buffer.from(pluginConfigBytes({ containerd_address: integrationEnv.containerdAddress, namespace })),
    pluginApiVersion: "v0.1.0"
  })
  driver = driverCalls(plugin.driver)
  alloc = makeAllocation()
})

afterAll(async () => {
  plugin?.close()
  if (plugins !== undefined) fs.rmSync(plugins, { recursive: true, force: true })
  alloc?.remove()
  await Effect.runPromise(cleanupNamespace(namespace).pipe(Effect.provide(containerd)))
  fs.rmSync(dir, { recursive: true, force: true })
})

/** The CLI, bounded: a hang is a failure of the test, not of the machine. */
const cli = (...args: Array<string>) =>
  spawnSync(process.execPath, [builtPlugin, ...args], { encoding: "utf8", timeout: 20_000 })

const jobWithProfile = (profile: string) => {
  const file = path.join(dir, `job-${Math.random().toString(36).slice(2)}.nomad`)
  fs.writeFileSync(
    file,
    `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config {\n        image = "${image}"\n` +
      `        seccomp = true\n        seccomp_profile = "${profile}"\n      }\n    }\n  }\n}\n`
  )
  return file
}

const recoverable = (error: grpc.ServiceError): boolean | undefined => {
  const details = error.metadata.get("grpc-status-details-bin")[0]
  if (!(details instanceof Buffer)) return undefined
  const any = Status.decode(details).details[0]
  return any === undefined ? undefined : RecoverableError.decode(any.value).recoverable
}

describe("files that are not regular files", () => {
  for (const [what, profile, why] of [
    ["/dev/zero", "/dev/zero", "is a character device, not a regular file"],
    ["a FIFO", fifo, "is a FIFO, not a regular file"]
  ] as const) {
    it(`containerd-driver spec refuses ${what} as seccomp_profile, and as the job file itself, promptly`, () => {
      const profile_ = cli("spec", "--config", configFile, jobWithProfile(profile))
      expect(profile_.error).toBeUndefined()
      expect(profile_.status).toBe(1)
      expect(profile_.stderr).toContain(`seccomp_profile ${profile} ${why}`)
      const job = cli("spec", "--config", configFile, profile)
      expect(job.error).toBeUndefined()
      expect(job.status).toBe(1)
      expect(job.stderr).toContain(`${profile} ${why}`)
    })

    it(`StartTask refuses ${what} as seccomp_profile, not recoverable, and leaves nothing behind`, async () => {
      const task = alloc.task(`t${Math.random().toString(36).slice(2, 8)}`)
      const config = taskConfig({ alloc, task, config: { image, seccomp: true, seccomp_profile: profile } })
      const error = await driver.start(config).then(() => undefined, (e: grpc.ServiceError) => e)
      expect(error?.code).toBe(grpc.status.FAILED_PRECONDITION)
      expect(error?.details).toContain(why)
      expect(error && recoverable(error)).toBe(false)
      const left = await Effect.runPromise(
        Effect.flatMap(Containerd.Containerd, (cd) => cd.containers.list({})).pipe(Effect.provide(containerd))
      )
      expect(left.containers).toEqual([])
    })
  }

  it("the plugin config file of doctor must be a regular file too", () => {
    const result = cli("doctor", "--config", "/dev/zero")
    expect(result.error).toBeUndefined()
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("/dev/zero is a character device, not a regular file")
  })
})
