// Soak: containerd SIGKILLed under running tasks and started again on the same state — a private containerd
// (test/support/SecondContainerd.ts), never the shared one. The shims outlive containerd, so the tasks must keep running
// and writing; the plugin's fingerprint must turn unhealthy, then healthy, and WaitTask (pending across the
// outage), InspectTask, ExecTask, TaskStats and StopTask must work again without a plugin restart.
import type * as grpc from "@grpc/grpc-js"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  type FingerprintResponse,
  FingerprintResponse_HealthState,
  TaskState,
  type TaskStatsResponse
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { harness, type Harness, type StartedTask } from "../support/driverHarness.js"
import { integrationEnv } from "../integration/env.js"
import { secondContainerd } from "../support/SecondContainerd.js"
import { countingScript, full, lineAudit, pool, sizes, writeFigures } from "./lib/soak.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const exitCode = (i: number) => 20 + i

/** The fingerprint stream as the Nomad client keeps it open, and a wait for the next report of a given health. */
const fingerprints = (h: Harness) => {
  const responses: Array<FingerprintResponse> = []
  let ended = false
  const stream = h.plugin().process.driver.fingerprint({})
  stream.on("data", (r: FingerprintResponse) => responses.push(r))
  stream.on("end", () => (ended = true))
  stream.on("error", () => (ended = true))
  const next = async (health: FingerprintResponse_HealthState, from: number, ms = 60_000): Promise<FingerprintResponse> => {
    for (const deadline = Date.now() + ms; Date.now() < deadline;) {
      const hit = responses.slice(from).find((r) => r.health === health)
      if (hit !== undefined) return hit
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`no ${FingerprintResponse_HealthState[health]} fingerprint within ${ms} ms after ${JSON.stringify(responses.map((r) => r.health))}`)
  }
  return { responses, next, ended: () => ended, close: () => stream.cancel() }
}

/** The first TaskStats sample of a task. */
const oneSample = (h: Harness, taskId: string) =>
  new Promise<TaskStatsResponse>((resolve, reject) => {
    const call = h.plugin().process.driver.taskStats({ taskId, collectionInterval: { seconds: 0n, nanos: 200e6 } })
    call.on("data", (sample: TaskStatsResponse) => {
      call.cancel()
      resolve(sample)
    })
    call.on("error", (e: grpc.ServiceError) => reject(e))
    call.on("end", () => reject(new Error("TaskStats ended without a sample")))
  })

const outcome = (p: Promise<unknown>, ms: number) =>
  Promise.race([
    p.then(() => "answered", (e: grpc.ServiceError) => `failed: ${e.details ?? String(e)}`),
    new Promise<string>((r) => setTimeout(() => r(`no answer within ${ms} ms`), ms))
  ])

describe("soak: containerd SIGKILLed and restarted under running tasks", () => {
  it(`${sizes.restartTasks} tasks keep running and are served again`, { timeout: full ? 600_000 : 150_000 }, async () => {
    const m = sizes.restartTasks
    const ctd = secondContainerd()
    try {
      await ctd.start()
      const h = await harness({ prefix: "cdd-soak-ctdkill", containerdAddress: ctd.socket })
      try {
        const fp = fingerprints(h)
        await fp.next(FingerprintResponse_HealthState.HEALTHY, 0)
        const script = countingScript(100_000)
        const tasks: Array<StartedTask> = await pool(Array.from({ length: m }, (_, i) => i), 5, (i) =>
          h.start({ name: `t${i}`, config: { image: busybox, command: "sh", args: ["-c", script] }, env: { EXIT_CODE: String(exitCode(i)) } }))
        await Promise.all(tasks.map((t) => t.dirs.stdout.waitFor((text) => lineAudit(text).lines >= 2, 60_000)))
        // Nomad's WaitTasks stay pending across the outage.
        const waits = tasks.map((t) => h.driver().wait(t.id).then((r) => r, (e: grpc.ServiceError) => e))

        const seenBefore = fp.responses.length
        await ctd.kill()
        const killedAt = Date.now()
        const unhealthy = await fp.next(FingerprintResponse_HealthState.UNHEALTHY, seenBefore)
        const unhealthyAfterMs = Date.now() - killedAt
        // The tasks keep running and writing while containerd is gone.
        const counts = tasks.map((t) => lineAudit(t.dirs.stdout.text()).lines)
        await Promise.all(tasks.map((t, i) => t.dirs.stdout.waitFor((text) => lineAudit(text).lines >= counts[i]! + 3, 60_000)))
        const execWhileDown = await outcome(h.exec(tasks[0]!.id, ["true"]), 60_000)

        const seenDown = fp.responses.length
        const restartAt = Date.now()
        await ctd.start()
        await fp.next(FingerprintResponse_HealthState.HEALTHY, seenDown)
        const healthyAfterMs = Date.now() - restartAt

        const states = await Promise.all(tasks.map((t) => h.driver().inspect(t.id).then((s) => s.task?.state, (e: grpc.ServiceError) => e.details)))
        const running = states.filter((s) => s === TaskState.RUNNING).length
        const execs = await Promise.all(tasks.map((t) => h.exec(t.id, ["echo", "alive"]).then((o) => o.stdout, (e: grpc.ServiceError) => `failed: ${e.details}`)))
        const execOk = execs.filter((o) => o === "alive\n").length
        const stats = await Promise.all(tasks.map((t) => oneSample(h, t.id).then((s) => s.stats?.aggResourceUsage?.memory !== undefined, () => false)))
        const statsOk = stats.filter(Boolean).length

        // Half exit on their own with their codes, the others are stopped (TERM, which they answer with 0).
        const byExit = tasks.filter((_, i) => i % 2 === 0)
        const byStop = tasks.filter((_, i) => i % 2 === 1)
        for (const t of byExit) fs.writeFileSync(path.join(t.dirs.dir, "local", "exit"), "")
        const stops = await Promise.all(byStop.map((t) => h.driver().stop(t.id, 30_000).then(() => true, () => false)))
        const results = await Promise.all(waits)
        const expected = tasks.map((_, i) => (i % 2 === 0 ? exitCode(i) : 0))
        const waitRight = results.filter((r, i) => !(r instanceof Error) && r.result.exitCode === expected[i] && r.result.signal === 0).length
        const audits = tasks.map((t) => lineAudit(t.dirs.stdout.text()))
        const lost = audits.reduce((s, a) => s + a.lost + a.repeated + a.torn, 0)

        await pool(tasks, 8, (t) => h.driver().destroy(t.id))
        const left = await h.probe.state()
        fp.close()

        writeFigures("containerd-kill", {
          tasks: m,
          runningAfterRestart: running,
          fingerprintUnhealthy: unhealthy.healthDescription,
          unhealthyAfterMs,
          healthyAfterRestartMs: healthyAfterMs,
          execWhileDown,
          execOk,
          statsOk,
          stopOk: stops.filter(Boolean).length,
          stopped: byStop.length,
          waitResultsRight: waitRight,
          logLines: audits.reduce((s, a) => s + a.lines, 0),
          logLinesLostRepeatedOrTorn: lost,
          leftAfterDestroy: left
        })
        expect(unhealthy.healthDescription).toContain("containerd is not reachable")
        expect(execWhileDown).toMatch(/^failed: ./)
        expect(running).toBe(m)
        expect(execOk).toBe(m)
        expect(statsOk).toBe(m)
        expect(stops.every(Boolean)).toBe(true)
        expect(waitRight).toBe(m)
        expect(lost).toBe(0)
        expect(left).toEqual(emptyNamespace)
      } finally {
        await h.dispose()
      }
    } finally {
      await ctd.dispose()
    }
  })
})
