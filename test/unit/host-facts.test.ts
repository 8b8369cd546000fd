import { describe, expect, it } from "@effect/vitest"
import { afterAll } from "vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { formatBytes } from "../../layers/boundedFile.js"
import { taskOptions } from "../../src/config/TaskConfig.js"

const scratches: Array<string> = []
const scratch = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-facts-"))
  scratches.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of scratches) fs.rmSync(dir, { recursive: true, force: true })
})
import { capabilitiesOfMask, deviceNode, gather, maxSeccompProfileBytes } from "../../layers/HostFacts.js"

const none = { devicePaths: [], allDevices: false, realpaths: [], hostHosts: false, hostResolvConf: false }

describe("host facts", () => {
  it("reads a capability mask as CAP_* names", () => {
    // Docker's default bounding set as /proc shows it.
    expect(capabilitiesOfMask("00000000a80425fb")).toEqual([
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"
    ])
  })

  it("stats a device node with its major and minor numbers", () => {
    expect(deviceNode("/dev/null")).toMatchObject({ type: "c", major: 1, minor: 3 })
    expect(deviceNode("/etc/hostname")).toBeUndefined()
  })

  it.effect("gathers the named devices and every /dev node for privileged tasks", () =>
    Effect.gen(function*() {
      const facts = yield* gather({ ...none, devicePaths: ["/dev/zero"], allDevices: true })
      expect(facts.hostDevices["/dev/zero"]).toMatchObject({ type: "c", major: 1, minor: 5 })
      expect(facts.hostDevices["/dev/null"]).toBeDefined()
      expect(facts.capabilities.length).toBeGreaterThan(0)
      expect([1, 2]).toContain(facts.cgroupVersion)
    }))

  it.effect("fails with a clear message for a device that is not one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(gather({ ...none, devicePaths: ["/etc/hostname"] }))
      expect(error.message).toBe("/etc/hostname is not a character or block device")
      const missing = yield* Effect.flip(gather({ ...none, devicePaths: ["/dev/no-such-device"] }))
      expect(missing.message).toContain("device /dev/no-such-device cannot be read")
    }))

  it.effect("reads a seccomp profile file and reports one that is not JSON", () =>
    Effect.gen(function*() {
      const dir = scratch()
      fs.writeFileSync(path.join(dir, "good.json"), '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}')
      fs.writeFileSync(path.join(dir, "bad.json"), "{nope")
      const facts = yield* gather({ ...none, seccompProfile: path.join(dir, "good.json") })
      expect(facts.seccompProfile).toEqual({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [] })
      const error = yield* Effect.flip(gather({ ...none, seccompProfile: path.join(dir, "bad.json") }))
      expect(error.reason).toBe("SeccompProfile")
      expect(error.message).toContain(`seccomp_profile ${path.join(dir, "bad.json")} cannot be used`)
    }))

  it.effect("refuses a seccomp profile that is not a regular file, without reading it", () =>
    Effect.gen(function*() {
      const zero = yield* Effect.flip(gather({ ...none, seccompProfile: "/dev/zero" }))
      expect(zero.reason).toBe("SeccompProfile")
      expect(zero.message).toBe("seccomp_profile /dev/zero is a character device, not a regular file; only a regular file can be read here")
      const dir = scratch()
      const fifo = path.join(dir, "profile.fifo")
      execFileSync("mkfifo", [fifo])
      expect((yield* Effect.flip(gather({ ...none, seccompProfile: fifo }))).message).toBe(
        `seccomp_profile ${fifo} is a FIFO, not a regular file; only a regular file can be read here`
      )
      expect((yield* Effect.flip(gather({ ...none, seccompProfile: dir }))).message).toContain(`seccomp_profile ${dir} is a directory`)
    }), 10_000)

  it.effect("refuses a seccomp profile larger than 1 MiB", () =>
    Effect.gen(function*() {
      const file = path.join(scratch(), "huge.json")
      // Valid JSON, so only the cap can refuse it.
      fs.writeFileSync(file, `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}${" ".repeat(maxSeccompProfileBytes)}`)
      const error = yield* Effect.flip(gather({ ...none, seccompProfile: file }))
      expect(error.reason).toBe("SeccompProfile")
      expect(error.message).toMatch(new RegExp(`^seccomp_profile ${file} is \\d+ bytes, more than the 1 MiB such a file may have$`))
    }))

  it("documents the seccomp_profile cap it enforces", () => {
    expect(taskOptions.seccomp_profile.doc).toContain(`at most ${formatBytes(maxSeccompProfileBytes)}`)
  })

  it.effect("resolves symlinks of mount sources", () =>
    Effect.gen(function*() {
      const dir = fs.realpathSync(scratch())
      fs.symlinkSync("/etc", path.join(dir, "link"))
      const facts = yield* gather({ ...none, realpaths: [path.join(dir, "link"), path.join(dir, "missing")] })
      expect(facts.realpaths).toEqual({ [path.join(dir, "link")]: "/etc" })
    }))
})
