// StopTask of a task that exits on SIGTERM, then DestroyTask of the stopped task, beside containerd's own client
// doing the same: `ctr tasks kill -s SIGTERM` with the exit seen through Tasks.Wait (opened before the timed part, as
// the driver's exit watcher is), then `ctr tasks delete` + `ctr containers delete` (two invocations: ctr has no one
// command for it). Interleaved round by round; the task is started untimed and signals that its SIGTERM trap is in
// place (PID 1 ignores signals it has no handler for) before the stop. No budget: for information.
import { readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { ctrIn, expectRunning, taskStatuses } from "../lib/containerd.mjs"
import { busybox, taskFactory } from "../lib/nomad.mjs"
import { openPlugin } from "../lib/plugin.mjs"
import { since, timed } from "../lib/processes.mjs"

const script = 'trap "exit 0" TERM; echo ready; sleep 3600 & wait'

/** Resolves once `read()` contains `text`; fails after `ms`. */
const until = async (read, text, ms, what) => {
  const deadline = Date.now() + ms
  while (!read().includes(text)) {
    if (Date.now() > deadline) throw new Error(`${what}: "${text}" not seen within ${ms} ms`)
    await sleep(5)
  }
}

export default {
  name: "stop-destroy",
  title: "StopTask (task exits on SIGTERM) and DestroyTask, beside ctr",
  run: async (ctx) => {
    const rounds = ctx.stopRounds ?? ctx.rounds
    const settleMs = ctx.settleMs ?? 250
    const namespace = ctx.namespace("stop")
    const ctr = ctrIn(ctx.address, namespace)
    const image = busybox(ctx.registry)
    const plugin = await openPlugin(ctx, { namespace, profileName: "stop-destroy" })
    ctx.defer("plugin", () => plugin.shutdown())
    const probe = ctx.driver.containerdProbe(ctx.address, namespace)
    ctx.defer("containerd probe", () => probe.dispose())
    const newTask = taskFactory(ctx)

    const driverRound = async () => {
      const task = newTask({ image, command: "sh", args: ["-c", script] })
      try {
        await plugin.calls.start(task.config)
        await task.dirs.stdout.waitFor((text) => text.includes("ready"))
        let started = process.hrtime.bigint()
        await plugin.calls.stop(task.id, 5_000, "")
        const stopMs = since(started)
        const { result } = await plugin.calls.wait(task.id, 5_000)
        if (result.exitCode !== 0 || result.signal !== 0) {
          throw new Error(`driver: the task was to exit 0 on SIGTERM, it ended with exit ${result.exitCode}, signal ${result.signal}`)
        }
        started = process.hrtime.bigint()
        await plugin.calls.destroy(task.id)
        const destroyMs = since(started)
        const left = await probe.state()
        if (left.containers.length + left.tasks.length + left.snapshots.length > 0) throw new Error(`driver: DestroyTask left ${JSON.stringify(left)}`)
        return { stopMs, destroyMs }
      } catch (error) {
        await plugin.calls.destroy(task.id).catch(() => {})
        throw error
      } finally {
        task.remove()
      }
    }

    let ctrCount = 0
    const ctrRound = async () => {
      const id = `bench-ctr-${ctrCount++}`
      const log = join(ctx.scratch, `${id}.log`)
      try {
        ctr("run", "-d", "--log-uri", `file://${log}`, image, id, "sh", "-c", script)
        await until(() => { try { return readFileSync(log, "utf8") } catch { return "" } }, "ready", 10_000, `ctr ${id}`)
        const exited = probe.waitExit(id)
        let started = process.hrtime.bigint()
        const [, status] = await Promise.all([timed(ctx.scratch, "ctr", ["--address", ctx.address, "-n", namespace, "tasks", "kill", "-s", "SIGTERM", id]), exited])
        const stopMs = since(started)
        if (status !== 0) throw new Error(`ctr: the task was to exit 0 on SIGTERM, it exited ${status}`)
        started = process.hrtime.bigint()
        await timed(ctx.scratch, "ctr", ["--address", ctx.address, "-n", namespace, "tasks", "delete", id])
        await timed(ctx.scratch, "ctr", ["--address", ctx.address, "-n", namespace, "containers", "delete", id])
        const destroyMs = since(started)
        if (taskStatuses(ctr).size > 0) throw new Error(`ctr: tasks left after delete`)
        return { stopMs, destroyMs }
      } finally {
        rmSync(log, { force: true })
      }
    }

    const contenders = [
      { stop: "driver StopTask (SIGTERM, exits 0)", destroy: "driver DestroyTask (stopped task)", kind: "driver", round: driverRound },
      { stop: "ctr tasks kill -s SIGTERM → exit (Tasks.Wait)", destroy: "ctr tasks delete + ctr containers delete", kind: "contender", round: ctrRound }
    ]
    const samples = new Map(contenders.flatMap((c) => [[c.stop, []], [c.destroy, []]]))
    // Warm-up, untimed: pulls the image through the driver (ctr then finds it by the same name), then each once.
    for (const contender of contenders) {
      await contender.round()
      await sleep(settleMs)
    }
    expectRunning(ctr, 0, "after the warm-up")
    for (let round = 0; round < rounds; round++) {
      ctx.check()
      const line = []
      for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const { stopMs, destroyMs } = await contender.round()
        samples.get(contender.stop).push(stopMs)
        samples.get(contender.destroy).push(destroyMs)
        line.push(`${contender.kind} stop ${stopMs.toFixed(1)} destroy ${destroyMs.toFixed(1)}`)
        await sleep(settleMs)
      }
      console.log(`round ${String(round + 1).padStart(2)}: ${line.join(" | ")}`)
    }
    const rows = (which) => contenders.map((c) => ({ label: c[which], kind: c.kind, unit: "ms", values: samples.get(c[which]) }))
    return [
      {
        title: "StopTask of a task that exits on SIGTERM",
        reference: contenders[1].stop,
        rows: rows("stop"),
        verdicts: [],
        notes: [`The task (\`sh -c '${script}'\`) is started untimed and says \`ready\` once its trap is set. StopTask with Nomad's default signal and a 5 s kill timeout, timed from the call to its answer; ctr from spawning \`ctr tasks kill -s SIGTERM\` until containerd's Tasks.Wait (opened before) reports the exit. Both tasks exit 0 (checked). ${rounds} rounds, interleaved. No budget.`]
      },
      {
        title: "DestroyTask of a stopped task",
        reference: contenders[1].destroy,
        rows: rows("destroy"),
        verdicts: [],
        notes: ["DestroyTask removes the task, the container, its snapshot and the generated files (checked: nothing is left in the namespace); ctr: `ctr tasks delete` then `ctr containers delete` (which removes the snapshot), each a process of its own. No budget."]
      }
    ]
  }
}
