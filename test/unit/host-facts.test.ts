import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { capabilitiesOfMask, deviceNode, gather } from "../../layers/HostFacts.js"

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
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-facts-"))
      fs.writeFileSync(path.join(dir, "good.json"), '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}')
      fs.writeFileSync(path.join(dir, "bad.json"), "{nope")
      const facts = yield* gather({ ...none, seccompProfile: path.join(dir, "good.json") })
      expect(facts.seccompProfile).toEqual({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [] })
      const error = yield* Effect.flip(gather({ ...none, seccompProfile: path.join(dir, "bad.json") }))
      expect(error.reason).toBe("SeccompProfile")
      expect(error.message).toContain(`seccomp_profile ${path.join(dir, "bad.json")} cannot be used`)
    }))

  it.effect("resolves symlinks of mount sources", () =>
    Effect.gen(function*() {
      const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cdd-facts-")))
      fs.symlinkSync("/etc", path.join(dir, "link"))
      const facts = yield* gather({ ...none, realpaths: [path.join(dir, "link"), path.join(dir, "missing")] })
      expect(facts.realpaths).toEqual({ [path.join(dir, "link")]: "/etc" })
    }))
})
