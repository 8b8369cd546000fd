// TaskStats through the built plugin, as Nomad's stats hook opens it: samples every collection interval with the
// fields the Go client dereferences, a busy task at about one core, the stream ending with the task — and stats
// and exec working on tasks a new plugin process recovered after a SIGKILL.
import type * as grpc from "@grpc/grpc-js"
import { describe, expect, it } from "vitest"
import { CPUUsage_Fields, type TaskStatsResponse, type TaskHandle } from "../../src/gen/plugins/drivers/proto/driver.js"
import { type Harness, withHarness as withOwnHarness, launchDriver } from "../support/driverHarness.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`

const withHarness = (prefix: string, body: (h: Harness) => Promise<void>) =>
  withOwnHarness({ prefix, containerdAddress: integrationEnv.containerdAddress }, body)

/** Opens TaskStats and collects `count` samples (or everything until the stream ends). */
const samples = (h: Harness, taskId: string, intervalMs: number, count: number) =>
  new Promise<{ readonly samples: Array<TaskStatsResponse>; readonly ended: boolean }>((resolve, reject) => {
    const call = h.plugin().process.driver.taskStats({
      taskId,
      collectionInterval: { seconds: 0n, nanos: intervalMs * 1e6 }
    })
    const got: Array<TaskStatsResponse> = []
    call.on("data", (sample: TaskStatsResponse) => {
      got.push(sample)
      if (got.length === count) {
        call.cancel()
        resolve({ samples: got, ended: false })
      }
    })
    call.on("end", () => resolve({ samples: got, ended: true }))
    call.on("error", (error: grpc.ServiceError) => (got.length === count ? undefined : reject(error)))
  })

describe("TaskStats through the plugin", () => {
  it("streams samples with a timestamp and the aggregate usage; a busy task uses about one core", async () =>
    withHarness("cdd-stats-rpc", async (h) => {
      const task = await h.start({ config: { image: busybox, command: "sh", args: ["-c", "while :; do :; done"] } })
      const { samples: got } = await samples(h, task.id, 500, 4)
      for (const sample of got) {
        expect(sample.stats?.timestamp).toBeInstanceOf(Date)
        expect(sample.stats?.aggResourceUsage?.cpu).toBeDefined()
        expect(sample.stats?.aggResourceUsage?.memory).toBeDefined()
      }
      const last = got[got.length - 1]!.stats!.aggResourceUsage!.cpu!
      expect(last.measuredFields).toContain(CPUUsage_Fields.PERCENT)
      expect(last.percent).toBeGreaterThan(40)
      expect(last.percent).toBeLessThan(160)
      await h.driver().stop(task.id, 1000)
      await h.driver().destroy(task.id)
    }))

  it("ends the stream when the task exits", async () =>
    withHarness("cdd-stats-end", async (h) => {
      const task = await h.start({ config: { image: busybox, command: "sleep", args: ["1"] } })
      const result = await samples(h, task.id, 200, 1000)
      expect(result.ended).toBe(true)
      expect(result.samples.length).toBeGreaterThan(0)
      await h.driver().destroy(task.id)
    }))

  it("works, like exec, on a task a new plugin process recovered after a SIGKILL", async () =>
    withHarness("cdd-stats-recovered", async (h) => {
      const task = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
      await h.plugin().crash()
      h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
      const handle: TaskHandle = { ...task.handle, config: { ...task.handle.config!, msgpackDriverConfig: Buffer.alloc(0) } }
      await h.driver().recover(handle)
      const { samples: got } = await samples(h, task.id, 300, 2)
      expect(got[1]?.stats?.aggResourceUsage?.memory?.usage).toBeGreaterThan(0n)
      const exec = await h.exec(task.id, ["sh", "-c", "echo recovered"])
      expect(exec).toMatchObject({ stdout: "recovered\n", exitCode: 0 })
      await h.driver().stop(task.id, 1000)
      await h.driver().destroy(task.id)
    }))
})
