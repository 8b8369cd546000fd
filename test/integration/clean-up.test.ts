// What a task leaves behind, through the built plugin on the real containerd: after DestroyTask nothing of it is
// left in containerd (container, task, rootfs snapshot, lease) or in its task dir (the driver's generated files),
// also for twenty tasks started and destroyed at once; a start that fails removes what it created.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { emptyNamespace } from "../support/containerdProbe.js"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const sleeper = { image: busybox, command: "sleep", args: ["600"] }

// Each case checks the whole namespace, so they run one after the other.
let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-clean", containerdAddress: integrationEnv.containerdAddress })
})

afterAll(async () => {
  await h?.dispose()
})

/** The directory of the files the driver generates for a task (/etc/hosts, resolv.conf). */
const generatedDir = (taskDir: string) => path.join(taskDir, "containerd-driver")

describe("clean-up", () => {
  it("after DestroyTask nothing of a running task remains in containerd or in its task dir", async () => {
    const task = await h.start({ config: { ...sleeper, extra_hosts: ["db:127.0.1.1"] } })
    const cid = task.containerId
    expect(await h.probe.state()).toEqual({ containers: [cid], tasks: [cid], snapshots: [`overlayfs/${cid}-snapshot`], leases: [] })
    expect(fs.readdirSync(generatedDir(task.dirs.dir))).not.toEqual([])
    await h.driver().destroy(task.id)
    expect(await h.probe.state()).toEqual(emptyNamespace)
    expect(fs.existsSync(generatedDir(task.dirs.dir))).toBe(false)
    // Nomad retries a DestroyTask that failed, and destroys tasks it failed to recover: both succeed.
    await h.driver().destroy(task.id)
    await h.driver().destroy(`${task.alloc.id}/never-started/00000000`)
  })

  it("twenty concurrent StartTasks all succeed, and destroying them all leaves nothing", { timeout: 120_000 }, async () => {
    const tasks = await Promise.all(Array.from({ length: 20 }, () => h.start({ config: sleeper })))
    expect(new Set(tasks.map((t) => t.containerId)).size).toBe(20)
    const during = await h.probe.state()
    expect(during.containers).toHaveLength(20)
    expect(during.tasks).toHaveLength(20)
    expect(during.snapshots).toEqual(tasks.map((t) => `overlayfs/${t.containerId}-snapshot`).sort())
    const states = await Promise.all(tasks.map((t) => h.driver().inspect(t.id)))
    expect(states.map((s) => s.task?.state)).toEqual(tasks.map(() => states[0]?.task?.state))
    await Promise.all(tasks.map((t) => h.driver().destroy(t.id)))
    expect(await h.probe.state()).toEqual(emptyNamespace)
  })

  it("a start that fails in the runtime is not recoverable and leaves nothing behind", async () => {
    const { config, dirs } = h.prepare({ config: { image: busybox, command: "/no/such/executable", extra_hosts: ["db:127.0.1.1"] } })
    const failure = await failureOf(h.driver().start(config))
    expect(failure.recoverable).toBe(false)
    // runc 1.1 finds the executable missing when it creates the task, older ones only when it starts it.
    expect(failure.message).toMatch(/^Error in (creating|starting) task: .*"\/no\/such\/executable".*no such file or directory/)
    expect(await h.probe.state()).toEqual(emptyNamespace)
    expect(fs.existsSync(generatedDir(dirs.dir))).toBe(false)
    // Nomad destroys the failed attempt, and may start it again.
    await h.driver().destroy(config.id)
    const again = await failureOf(h.driver().start({ ...config, id: `${config.allocId}/${config.name}/again000` }))
    expect(again.message).toMatch(/^Error in (creating|starting) task: /)
    expect(await h.probe.state()).toEqual(emptyNamespace)
  })
})
