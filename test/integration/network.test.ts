// A task's network namespace through the built plugin on the real containerd: the group
// namespace Nomad made for a bridge-mode allocation is joined, with Nomad's hosts entry for the task; host_network
// shares the host's; otherwise the task gets a namespace of its own. A group namespace that is missing fails the
// start clearly, as worth retrying, and leaves nothing.
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const sleeper = { image: busybox, command: "sleep", args: ["600"] }

let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-net", containerdAddress: integrationEnv.containerdAddress })
})

afterAll(async () => {
  await h?.dispose()
})

/** The network namespace of the task's init process, as `net:[inode]`. */
const taskNetns = async (id: string) => (await h.exec(id, ["readlink", "/proc/1/ns/net"])).stdout.trim()

const netnsOfFile = (file: string) => `net:[${fs.statSync(file).ino}]`

describe.concurrent("a task's network namespace", () => {
  it("is the allocation's group namespace in bridge mode, with Nomad's hosts entry for the task", async () => {
    const name = `cdd-net-${randomBytes(4).toString("hex")}`
    execFileSync("ip", ["netns", "add", name])
    try {
      const netns = `/var/run/netns/${name}`
      const task = await h.start({ config: sleeper, network: { path: netns, hostname: "web-1", address: "10.1.2.3" } })
      expect(await taskNetns(task.id)).toBe(netnsOfFile(netns))
      const hosts = (await h.exec(task.id, ["cat", "/etc/hosts"])).stdout.split("\n")
      expect(hosts.find((line) => line.startsWith("10.1.2.3\t"))?.split(/\s+/)).toContain("web-1")
      await h.driver().destroy(task.id)
    } finally {
      execFileSync("ip", ["netns", "delete", name])
    }
  })

  it("is the host's with host_network, and one of the task's own otherwise", async () => {
    const [shared, isolated] = await Promise.all([
      h.start({ config: { ...sleeper, host_network: true } }),
      h.start({ config: sleeper })
    ])
    const host = netnsOfFile(`/proc/${h.plugin().process.child.pid}/ns/net`)
    expect(await taskNetns(shared.id)).toBe(host)
    const own = await taskNetns(isolated.id)
    expect(own).toMatch(/^net:\[\d+\]$/)
    expect(own).not.toBe(host)
    // Only loopback in its own namespace (as the original driver): no route anywhere.
    expect((await h.exec(isolated.id, ["ip", "-o", "link"])).stdout.trim().split("\n").map((l) => l.split(":")[1]?.trim())).toEqual(["lo"])
  })

  it("a group namespace that does not exist fails the start, worth retrying, and leaves nothing", async () => {
    const { config } = h.prepare({ config: sleeper, network: { path: `/var/run/netns/cdd-missing-${randomBytes(4).toString("hex")}` } })
    const failure = await failureOf(h.driver().start(config))
    expect(failure.recoverable).toBe(true)
    expect(failure.message).toMatch(/^Error in creating container: the group network namespace \/var\/run\/netns\/cdd-missing-\w+ does not exist/)
    const left = await h.probe.state()
    expect(left.containers.filter((c) => c.endsWith(config.allocId))).toEqual([])
    expect(left.snapshots.filter((s) => s.includes(config.allocId))).toEqual([])
    await h.driver().destroy(config.id)
  })
})
