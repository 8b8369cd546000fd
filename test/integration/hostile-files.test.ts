/**
 * Files named by a job or an operator that are not regular files of sensible size (issue: a seccomp profile of
 * /dev/zero ate the process's memory; a FIFO hung it for ever): the built executable — as `spec` and as the
 * plugin's StartTask — answers at once with a clear error and leaves nothing behind.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { emptyNamespace } from "../support/containerdProbe.js"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { builtPlugin } from "../support/PluginProcess.js"
import { integrationEnv } from "./env.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-files-"))
const fifo = path.join(dir, "profile.fifo")
const configFile = path.join(dir, "plugin.json")
const image = `${integrationEnv.registry}/test/busybox:latest`

let h: Harness

beforeAll(async () => {
  execFileSync("mkfifo", [fifo])
  h = await harness({ prefix: "cdd-files", containerdAddress: integrationEnv.containerdAddress })
  fs.writeFileSync(configFile, JSON.stringify({ containerd_address: integrationEnv.containerdAddress, namespace: h.namespace }))
})

afterAll(async () => {
  await h?.dispose()
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
      const failure = await failureOf(h.start({ config: { image, seccomp: true, seccomp_profile: profile } }))
      expect(failure.message).toContain(why)
      expect(failure.recoverable).toBe(false)
      expect(await h.probe.state()).toEqual(emptyNamespace)
    })
  }

  it("the plugin config file of doctor must be a regular file too", () => {
    const result = cli("doctor", "--config", "/dev/zero")
    expect(result.error).toBeUndefined()
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("/dev/zero is a character device, not a regular file")
  })
})
