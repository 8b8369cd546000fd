// Node hygiene through the built plugin on the real containerd: the image GC (`gc { image, image_delay }`) removes an
// image the driver pulled once no task has used it for the delay, keeps one a task uses again or another task shares,
// never removes one the operator pulled, and a plugin restart frees nothing its tasks use (but what nothing uses any
// more); the reaper
// (`gc { dangling_containers }`) removes a container a lost DestroyTask left behind after the grace period, and with
// `dry_run` only logs it. Waits are for conditions (bounded), never measured.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Harness, harness, launchDriver } from "../support/driverHarness.js"
import { builtPlugin } from "../support/PluginProcess.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const multilayer = `${integrationEnv.registry}/test/multilayer:latest`
/** A long-running task of `image` (test/multilayer's ENTRYPOINT is `/bin/sh -c`). */
const sleeper = (image: string) => (image === multilayer ? { image, args: ["sleep 600"] } : { image, command: "sleep", args: ["600s"] })

/** The image GC's delay in these tests, in seconds. */
const delay = 3

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `check` holds; fails after `ms` with what `describe` says. */
const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 30_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(200)
  }
}

/** Waits past the delay (and a margin for the removal to run), for checks that something was kept. */
const pastTheDelay = () => sleep((delay + 3) * 1000)

describe.concurrent("image GC", () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({
      prefix: "cdd-gc",
      containerdAddress: integrationEnv.containerdAddress,
      pluginConfig: { gc: [{ image: true, image_delay: `${delay}s` }] }
    })
  })
  afterAll(async () => {
    await h?.dispose()
  })
  const present = async (image: string) => (await h.probe.images()).includes(image)

  it("removes an image unused for the delay, and keeps one a task uses again within it", async () => {
    const first = await h.start({ config: sleeper(busybox) })
    await h.driver().destroy(first.id)
    const again = await h.start({ config: sleeper(busybox) })
    await pastTheDelay()
    expect(await present(busybox)).toBe(true)
    await h.driver().destroy(again.id)
    await until(async () => !(await present(busybox)), `${busybox} removed`)
  })

  it("keeps an image two tasks share when the first is destroyed", async () => {
    const [one, two] = await Promise.all([h.start({ config: sleeper(multilayer) }), h.start({ config: sleeper(multilayer) })])
    await h.driver().destroy(one.id)
    await pastTheDelay()
    expect(await present(multilayer)).toBe(true)
    expect((await h.exec(two.id, ["true"])).exitCode).toBe(0)
    await h.driver().destroy(two.id)
    await until(async () => !(await present(multilayer)), `${multilayer} removed`)
  })
})

describe("image GC across a plugin restart, and images the driver did not pull", () => {
  let h: Harness
  let configDir: string
  beforeAll(async () => {
    h = await harness({
      prefix: "cdd-gc-restart",
      containerdAddress: integrationEnv.containerdAddress,
      pluginConfig: { gc: [{ image: true, image_delay: `${delay}s` }] }
    })
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-gc-config-"))
  })
  afterAll(async () => {
    await h?.dispose()
    fs.rmSync(configDir, { recursive: true, force: true })
  })

  it("a restarted plugin frees nothing its tasks use, recovered or not yet, and frees it after their destroy", async () => {
    const task = await h.start({ config: sleeper(busybox) })
    await h.plugin().crash()
    h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
    // The new process finds the image marked and uncounted; its container, not recovered yet, still names it.
    await pastTheDelay()
    expect(await h.probe.images()).toContain(busybox)
    await h.driver().recover(task.handle)
    await pastTheDelay()
    expect(await h.probe.images()).toContain(busybox)
    await h.driver().destroy(task.id)
    await until(async () => !(await h.probe.images()).includes(busybox), `${busybox} removed`)
  })

  it("a restarted plugin removes an image pulled for a task that nothing uses any more", async () => {
    const task = await h.start({ config: sleeper(busybox) })
    await h.plugin().crash()
    // The operator removes the container while no plugin runs: no DestroyTask will ever release the image.
    await h.probe.removeContainer(task.containerId)
    h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
    await until(async () => !(await h.probe.images()).includes(busybox), `${busybox} removed after the restart`)
  })

  it("never removes an image the operator pulled", async () => {
    const config = path.join(configDir, "plugin.json")
    fs.writeFileSync(config, JSON.stringify({ containerd_address: integrationEnv.containerdAddress, namespace: h.namespace }))
    execFileSync(process.execPath, [builtPlugin, "pull", "--config", config, multilayer], { stdio: ["ignore", "ignore", "pipe"] })
    const task = await h.start({ config: sleeper(multilayer) })
    await h.driver().destroy(task.id)
    await pastTheDelay()
    expect(await h.probe.images()).toContain(multilayer)
  })
})

describe.concurrent("dangling-container reaper", () => {
  /** A task whose plugin died without DestroyTask, under a new plugin process that does not recover it. */
  const leftBehind = async (prefix: string, dangling: Record<string, unknown>) => {
    const h = await harness({
      prefix,
      containerdAddress: integrationEnv.containerdAddress,
      pluginConfig: { gc: [{ dangling_containers: [{ period: "1s", creation_grace: "2s", ...dangling }] }] }
    })
    const task = await h.start({ config: sleeper(busybox) })
    await h.plugin().crash()
    h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
    return { h, task }
  }

  it("removes a container no task owns after the grace period, with a log line", async () => {
    const { h, task } = await leftBehind("cdd-reap", {})
    try {
      await until(async () => !(await h.probe.state()).containers.includes(task.containerId), `${task.containerId} reaped`)
      const state = await h.probe.state()
      expect(state.snapshots.filter((s) => s.includes(task.containerId))).toEqual([])
      expect(state.tasks).toEqual([])
      expect(h.plugin().process.stderr()).toMatch(new RegExp(`dangling container removed.*${task.containerId}`))
    } finally {
      await h.dispose()
    }
  })

  it("with dry_run only logs the container, which keeps running", async () => {
    const { h, task } = await leftBehind("cdd-reap-dry", { dry_run: true })
    try {
      await until(() => /would be removed/.test(h.plugin().process.stderr()), "the dry-run log line")
      expect(h.plugin().process.stderr()).toMatch(new RegExp(`would be removed.*${task.containerId}`))
      expect((await h.probe.state()).containers).toEqual([task.containerId])
      expect((await h.probe.task(task.containerId)).pid).toBeGreaterThan(0)
    } finally {
      await h.dispose()
    }
  })
})
