// Soak: the plugin process SIGKILLed under a fleet of tasks that write numbered log lines. Nomad relaunches it
// and calls RecoverTask with every handle it kept (driver config dropped, as Nomad persists it); some tasks exit
// while no plugin runs. Figures: tasks recovered, exit results right, log lines lost, repeated or torn (the
// shim writes straight into logmon's FIFOs, so a plugin crash must cost none), and how long recovery took.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { type TaskHandle, TaskState } from "../../src/gen/plugins/drivers/proto/driver.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { harness, launchDriver, type StartedTask } from "../support/driverHarness.js"
import { integrationEnv } from "../integration/env.js"
import { countingScript, full, lineAudit, pool, sizes, writeFigures } from "./lib/soak.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`

const persisted = (handle: TaskHandle): TaskHandle => ({
  ...handle,
  config: handle.config === undefined ? undefined : { ...handle.config, msgpackDriverConfig: Buffer.alloc(0) }
})

const lineCount = (text: string) => lineAudit(text).lines
const exitCode = (i: number) => 10 + (i % 100)

describe("soak: plugin SIGKILL under running tasks", () => {
  it(`recovers ${sizes.crashTasks} tasks with their logs and exit results`, { timeout: full ? 900_000 : 150_000 }, async () => {
    const n = sizes.crashTasks
    const h = await harness({ prefix: "cdd-soak-crash", containerdAddress: integrationEnv.containerdAddress })
    try {
      // Ten lines a second each: enough to see a gap, little enough for 50 tasks on two cores.
      const script = countingScript(100_000)
      const tasks: Array<StartedTask> = await pool(Array.from({ length: n }, (_, i) => i), 5, (i) =>
        h.start({ name: `counter${i}`, config: { image: busybox, command: "sh", args: ["-c", script] }, env: { EXIT_CODE: String(exitCode(i)) } }))
      await Promise.all(tasks.map((t) => t.dirs.stdout.waitFor((text) => lineCount(text) >= 2, 60_000)))
      const handles = tasks.map((t) => persisted(t.handle))

      await h.plugin().crash()
      // While no plugin runs, every task keeps writing, and every fifth one exits.
      const exitWhileDown = tasks.filter((_, i) => i % 5 === 0)
      const before = tasks.map((t) => lineCount(t.dirs.stdout.text()))
      await Promise.all(tasks.map((t, i) => t.dirs.stdout.waitFor((text) => lineCount(text) >= before[i]! + 3, 60_000)))
      for (const t of exitWhileDown) fs.writeFileSync(path.join(t.dirs.dir, "local", "exit"), "")
      await Promise.all(exitWhileDown.map((t) => h.probe.waitExit(t.containerId)))

      const relaunchStart = Date.now()
      h.replacePlugin(await launchDriver(h.dir, h.pluginConfig))
      const relaunchMs = Date.now() - relaunchStart
      const recoverStart = Date.now()
      const recovered = await Promise.all(handles.map((handle) => h.driver().recover(handle).then(() => true, (e: unknown) => String(e))))
      const recoverMs = Date.now() - recoverStart
      const failedRecoveries = recovered.filter((r) => r !== true)

      const states = await Promise.all(tasks.map((t) => h.driver().inspect(t.id).then((s) => s.task?.state)))
      const stillRunning = tasks.filter((_, i) => i % 5 !== 0)
      const wrongState = tasks.filter((_, i) => states[i] !== (i % 5 === 0 ? TaskState.EXITED : TaskState.RUNNING)).length

      // The recovered tasks keep writing; then all of them exit with their own codes.
      const atRecovery = tasks.map((t) => lineCount(t.dirs.stdout.text()))
      await Promise.all(stillRunning.map((t) => t.dirs.stdout.waitFor((text) => lineCount(text) >= atRecovery[tasks.indexOf(t)]! + 3, 60_000)))
      for (const t of stillRunning) fs.writeFileSync(path.join(t.dirs.dir, "local", "exit"), "")
      const results = await Promise.all(tasks.map((t) => h.driver().wait(t.id, 120_000)))
      const wrongExits = results.filter((r, i) => r.result.exitCode !== exitCode(i) || r.result.signal !== 0).length

      const audits = tasks.map((t) => lineAudit(t.dirs.stdout.text()))
      const sum = (k: "lines" | "lost" | "repeated" | "torn") => audits.reduce((s, a) => s + a[k], 0)

      await pool(tasks, 8, (t) => h.driver().destroy(t.id))
      const left = await h.probe.state()

      writeFigures("plugin-crash", {
        tasks: n,
        exitedWhilePluginDown: exitWhileDown.length,
        recovered: n - failedRecoveries.length,
        lost: failedRecoveries.length,
        wrongState,
        // InspectTask's state, right after RecoverTask, of the tasks that exited while no plugin ran (EXITED is right).
        statesOfExitedAfterRecovery: exitWhileDown.map((t) => TaskState[states[tasks.indexOf(t)] ?? TaskState.UNKNOWN]),
        exitResultsRight: n - wrongExits,
        logLines: sum("lines"),
        logLinesLost: sum("lost"),
        logLinesRepeated: sum("repeated"),
        logLinesTorn: sum("torn"),
        relaunchMs,
        recoverAllMs: recoverMs,
        leftAfterDestroy: left
      })
      expect(failedRecoveries).toEqual([])
      expect(wrongState).toBe(0)
      expect(wrongExits).toBe(0)
      expect({ lost: sum("lost"), repeated: sum("repeated"), torn: sum("torn") }).toEqual({ lost: 0, repeated: 0, torn: 0 })
      expect(left).toEqual(emptyNamespace)
    } finally {
      await h.dispose()
    }
  })
})
