// 50 StartTasks at once (a Nomad client starting a big allocation, or many) beside 50 `ctr run -d --null-io` at
// once, image present, each batch timed from the first call to the last answer. Rounds alternate which batch goes
// first; every batch is checked to leave 50 RUNNING tasks, and is torn down untimed (then a pause, so that the
// shims' exits and containerd's GC settle). containerd's events give the containerd-side steps of each batch.
// Budget: driver median ≤ 1.2 × ctr median.
import { setTimeout as sleep } from "node:timers/promises"
import { ctrIn, eventSpansTable, expectRunning, watchEvents } from "../lib/containerd.mjs"
import { busybox, mapLimit, taskFactory } from "../lib/nomad.mjs"
import { openPlugin } from "../lib/plugin.mjs"
import { since, timed } from "../lib/processes.mjs"
import { fmt, summarize } from "../lib/stats.mjs"

const budgetRatio = 1.2

export default {
  name: "concurrent",
  title: "concurrent StartTasks vs concurrent ctr run -d",
  run: async (ctx) => {
    const count = ctx.concurrent ?? 50
    const rounds = ctx.concurrentRounds ?? Math.max(3, Math.ceil(ctx.rounds / 4))
    const settleMs = ctx.concurrentSettleMs ?? 2_000
    const namespace = ctx.namespace("concurrent")
    const ctr = ctrIn(ctx.address, namespace)
    const image = busybox(ctx.registry)
    const events = watchEvents(ctx.address, namespace)
    ctx.defer("ctr events", () => events.stop())
    const plugin = await openPlugin(ctx, { namespace, profileName: "concurrent" })
    ctx.defer("plugin", () => plugin.shutdown())
    const probe = ctx.driver.containerdProbe(ctx.address, namespace)
    ctx.defer("containerd probe", () => probe.dispose())
    const newTask = taskFactory(ctx)
    const caseOf = new Map()
    const live = new Map()
    ctx.defer("driver tasks", () => mapLimit([...live.values()], 8, async (task) => {
      await plugin.calls.destroy(task.id).catch(() => {})
      task.remove()
    }))

    const driverLabel = `driver: ${count} StartTasks at once`
    const ctrLabel = `ctr: ${count} × \`ctr run -d --null-io\` at once`
    const driverBatch = async () => {
      const tasks = Array.from({ length: count }, () => newTask({ image, command: "sleep", args: ["3600"] }))
      for (const task of tasks) live.set(task.id, task)
      const started = process.hrtime.bigint()
      await Promise.all(tasks.map((task) => plugin.calls.start(task.config)))
      const ms = since(started)
      for (const id of expectRunning(ctr, count, driverLabel)) caseOf.set(id, driverLabel)
      await mapLimit(tasks, 8, async (task) => {
        await plugin.calls.stop(task.id, 5_000, "SIGKILL")
        await plugin.calls.destroy(task.id)
        live.delete(task.id)
        task.remove()
      })
      return ms
    }
    let ctrCount = 0
    const ctrBatch = async () => {
      const ids = Array.from({ length: count }, () => `bench-ctr-${ctrCount++}`)
      const started = process.hrtime.bigint()
      await Promise.all(ids.map((id) => timed(ctx.scratch, "ctr", ["--address", ctx.address, "-n", namespace, "run", "-d", "--null-io", image, id, "sleep", "3600"])))
      const ms = since(started)
      for (const id of expectRunning(ctr, count, ctrLabel)) caseOf.set(id, ctrLabel)
      await mapLimit(ids, 8, (id) => probe.removeContainer(id))
      return ms
    }

    const contenders = [
      { label: driverLabel, kind: "driver", batch: driverBatch },
      { label: ctrLabel, kind: "contender", batch: ctrBatch }
    ]
    const samples = new Map(contenders.map((c) => [c.label, []]))
    // Warm-up, untimed: the driver pulls the image into the namespace (ctr then finds it by the same name), and
    // one smaller batch each.
    const first = newTask({ image, command: "sleep", args: ["3600"] })
    await plugin.calls.start(first.config)
    await plugin.calls.stop(first.id, 5_000, "SIGKILL")
    await plugin.calls.destroy(first.id)
    first.remove()
    for (const contender of contenders) {
      await contender.batch()
      await sleep(settleMs)
    }
    caseOf.clear()
    for (let round = 0; round < rounds; round++) {
      ctx.check()
      const line = []
      for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const ms = await contender.batch()
        samples.get(contender.label).push(ms)
        line.push(`${contender.kind} ${ms.toFixed(0)} ms`)
        await sleep(settleMs)
      }
      console.log(`round ${round + 1}: ${line.join(" | ")}`)
    }
    events.stop()
    const ratio = summarize(samples.get(driverLabel)).median / summarize(samples.get(ctrLabel)).median
    return [{
      title: `${count} concurrent StartTasks`,
      reference: ctrLabel,
      rows: contenders.map((c) => ({ label: c.label, kind: c.kind, unit: "ms", values: samples.get(c.label) })),
      verdicts: [{ budget: `${count} concurrent StartTasks ≤ ${budgetRatio} × ${count} concurrent \`ctr run -d\` (medians)`, measured: `${ratio.toFixed(2)} ×`, ok: ratio <= budgetRatio }],
      chartBudget: { value: summarize(samples.get(ctrLabel)).median * budgetRatio, label: `budget ${budgetRatio} × ctr` },
      notes: [`Image \`${image}\` present; \`sleep 3600\`; each batch timed from the first call (or spawn) to the last answer (or exit), every task checked RUNNING in containerd after it; ${rounds} rounds, alternating which batch goes first, torn down untimed with a ${settleMs / 1000} s pause after each.`],
      details: [
        "containerd's own timestamps of each start's steps inside the batches (its events; median ms, p10–p90):",
        "",
        ...eventSpansTable(events.events(), caseOf, contenders.map((c) => c.label)),
        ""
      ]
    }]
  }
}
