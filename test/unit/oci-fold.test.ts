/**
 * Parts of the spec fold that buildSpec cannot show: which host facts a task needs (asked before the fold runs)
 * and processCwd's own fallback (in the fold, imageConfig has already put WorkingDir or "/" in process.cwd).
 * Found by mutation testing of src/oci (docs/testing.md).
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { hostFactsNeeded } from "../../src/oci/HostFactsNeeded.js"
import { processCwd } from "../../src/oci/Process.js"
import { baseNomad, baseTask } from "../support/ociInput.js"

describe("hostFactsNeeded", () => {
  it("asks for /etc/hosts only when host_network and extra_hosts come together", () => {
    expect(hostFactsNeeded(baseTask({ host_network: true }), baseNomad()).hostHosts).toBe(false)
    expect(hostFactsNeeded(baseTask({ extra_hosts: ["db:10.1.2.3"] }), baseNomad()).hostHosts).toBe(false)
  })

  it("asks for resolv.conf with a dns block even with host_network (empty fields are filled from the host's)", () => {
    const nomad = baseNomad({ dns: { servers: ["1.1.1.1"], searches: [], options: [] } })
    expect(hostFactsNeeded(baseTask({ host_network: true }), nomad).hostResolvConf).toBe(true)
  })

  it("asks for no seccomp profile when seccomp is off, or when seccomp_profile is \"\"", () => {
    expect(hostFactsNeeded(baseTask({ seccomp: false, seccomp_profile: "/p.json" }), baseNomad()).seccompProfile).toBeUndefined()
    expect(hostFactsNeeded(baseTask({ seccomp: true, seccomp_profile: "" }), baseNomad()).seccompProfile).toBeUndefined()
  })

  it("asks for no realpath of a tmpfs source or of a bind mount without a source", () => {
    const task = baseTask({
      mounts: [
        { type: "tmpfs", target: "/scratch", source: "local/x", options: ["size=16m"] },
        { type: "bind", target: "/data", options: ["rbind"] }
      ]
    })
    expect(hostFactsNeeded(task, baseNomad()).realpaths).toEqual([])
  })
})

describe("processCwd", () => {
  it.each([
    [undefined, undefined, "/"],
    [undefined, "", "/"],
    ["", undefined, "/"],
    [undefined, "/srv", "/srv"],
    ["", "/srv", "/srv"],
    ["/data", "/srv", "/data"]
  ] as const)("cwd %j, WorkingDir %j → %s", (cwd, workingDir, expected) => {
    expect(processCwd(cwd, workingDir)).toEqual(Either.right(expected))
  })
})
