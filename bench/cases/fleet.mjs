// A node's worth of tasks: N (100) tasks started through the driver, each writing numbered lines to its stdout (read
// from logmon's FIFOs as logmon reads them). Then, with the same tasks:
//   - stats: the plugin's CPU and RSS with N TaskStats streams at 1 s (Nomad's stats hook per task), beside the same
//     window with no streams; containerd's and the shims' CPU over the same windows (from /proc). Budgets: plugin
//     RSS ≤ 100 MB (peak of the window), plugin CPU ≤ 3 % of one core (window mean);
//   - recovery: the plugin SIGKILLed, and a new process launched and configured as Nomad does it, then RecoverTask of
//     every task at once (each task runner recovers on its own), timed from the new process's spawn to the last
//     answer; repeated. Afterwards every task is stopped and its lines checked: none missing, none repeated.
//     Budget: ≤ 2 s (median), all N recovered (InspectTask: RUNNING), no log line lost.
import { setTimeout as sleep } from "node:timers/promises"
import { busybox, mapLimit, taskFactory } from "../lib/nomad.mjs"
import { openPlugin } from "../lib/plugin.mjs"
import { containerdPid, cpuMs, rssMb, shimPids, since } from "../lib/processes.mjs"
import { fmt, summarize } from "../lib/stats.mjs"

const rssBudgetMb = 100
const cpuBudgetPct = 3
const recoveryBudgetMs = 2_000
/** Numbered lines, two a second, until SIGTERM (PID 1 needs the trap to exit on it). */
const script = 'trap "exit 0" TERM; i=0; while :; do echo "line $i"; i=$((i+1)); usleep 500000; done'

/** The handle as Nomad gives it back after an agent restart: the task's driver config is not persisted. */
const persisted = (handle) => ({
  ...handle,
  config: handle.config === undefined ? undefined : { ...handle.config, msgpackDriverConfig: Buffer.alloc(0) }
})

/** Lines `line 0`, `line 1`, ...: how many were read, missing (a gap) and out of order or garbled. */
const checkLines = (text) => {
  const lines = text.split("\n")
  const partial = lines.pop() === "" ? 0 : 1
  let next = 0
  let lost = 0
  let wrong = partial
  for (const line of lines) {
    const m = /^line (\d+)$/.exec(line)
    if (m === null) {
      wrong++
      continue
    }
    const n = Number(m[1])
    if (n > next) lost += n - next
    else if (n < next) wrong++
    next = Math.max(next, n + 1)
  }
  return { read: lines.length, lost, wrong }
}

export default {
  name: "fleet",
  title: "100 running tasks: stats streams at 1 s, and recovery after a plugin SIGKILL",
  run: async (ctx) => {
    const count = ctx.tasks ?? 100
    const windowS = ctx.window ?? 20
    const recoveryRounds = ctx.recoveryRounds ?? Math.max(3, Math.ceil(ctx.rounds / 3))
    const namespace = ctx.namespace("fleet")
    const image = busybox(ctx.registry)
    const plugin = await openPlugin(ctx, { namespace, profileName: "fleet" })
    ctx.defer("plugin", () => plugin.shutdown())
    const newTask = taskFactory(ctx)
    const tasks = []
    ctx.defer("driver tasks", () => mapLimit(tasks, 8, async (task) => {
      await plugin.calls.destroy(task.id).catch(() => {})
      task.remove()
    }))
    const rssNoTasks = rssMb(plugin.pid)

    // ---- N tasks, logging
    console.log(`starting ${count} tasks ...`)
    let started = process.hrtime.bigint()
    await mapLimit(Array.from({ length: count }, (_, i) => i), 8, async () => {
      const task = newTask({ image, command: "sh", args: ["-c", script], name: "counter" })
      tasks.push(task)
      task.handle = await plugin.calls.start(task.config)
    })
    await Promise.all(tasks.map((task) => task.dirs.stdout.waitFor((text) => text.includes("line 1\n"), 30_000)))
    console.log(`${count} tasks running and logging after ${(since(started) / 1000).toFixed(1)} s`)
    await sleep(3_000)

    // ---- stats
    const containerd = containerdPid(ctx.address)
    const shims = shimPids(namespace)
    if (shims.length !== count) throw new Error(`expected ${count} shims of namespace ${namespace}, found ${shims.length}`)
    /** CPU (% of one core) of the plugin per 5 s bucket and over the window, RSS per second, containerd's and the shims' CPU. */
    const measureWindow = async () => {
      const cpu = () => ({ at: process.hrtime.bigint(), plugin: cpuMs(plugin.pid), containerd: cpuMs(containerd), shims: shims.reduce((sum, pid) => sum + cpuMs(pid), 0) })
      const pct = (from, to, key) => ((to[key] - from[key]) / (Number(to.at - from.at) / 1e6)) * 100
      const first = cpu()
      const marks = [first]
      const rss = []
      for (let s = 1; s <= windowS; s++) {
        await sleep(1_000)
        rss.push(rssMb(plugin.pid))
        if (s % 5 === 0 || s === windowS) marks.push(cpu())
      }
      const last = marks.at(-1)
      const buckets = (key) => marks.slice(1).map((mark, i) => pct(marks[i], mark, key))
      return {
        rss,
        plugin: { buckets: buckets("plugin"), mean: pct(first, last, "plugin") },
        containerd: { buckets: buckets("containerd"), mean: pct(first, last, "containerd") },
        shims: { buckets: buckets("shims"), mean: pct(first, last, "shims") }
      }
    }
    console.log(`measuring ${windowS} s with no stats streams ...`)
    const idle = await measureWindow()
    console.log(`opening ${count} TaskStats streams at 1 s ...`)
    const streams = tasks.map((task) => {
      const stream = { samples: 0, ended: undefined, call: plugin.launched.driver.taskStats({ taskId: task.id, collectionInterval: { seconds: 1n, nanos: 0 } }) }
      stream.call.on("data", () => stream.samples++)
      stream.call.on("error", (error) => (stream.ended ??= `error: ${error.message}`))
      stream.call.on("end", () => (stream.ended ??= "ended"))
      return stream
    })
    await sleep(3_000)
    const before = streams.map((s) => s.samples)
    const windowFrom = process.hrtime.bigint() / 1000n
    const streaming = await measureWindow()
    // The profile's clock is CLOCK_MONOTONIC too: `node bench/profile-summary.mjs <profile> --window=from-to`.
    if (ctx.cpuProfDir !== undefined) console.log(`stats window, monotonic µs: --window=${windowFrom}-${process.hrtime.bigint() / 1000n}`)
    const received = streams.map((s, i) => s.samples - before[i])
    const broken = streams.filter((s) => s.ended !== undefined)
    for (const stream of streams) {
      stream.ended ??= "cancelled"
      stream.call.cancel()
    }
    if (broken.length > 0) throw new Error(`${broken.length} TaskStats streams ended early: ${broken[0].ended}`)
    const fewest = Math.min(...received)
    if (fewest < windowS / 2) throw new Error(`a TaskStats stream at 1 s delivered ${fewest} samples in ${windowS} s`)
    console.log(`plugin CPU ${fmt(streaming.plugin.mean)} % of a core with streams (${fmt(idle.plugin.mean)} % without), RSS peak ${fmt(Math.max(...streaming.rss))} MB; samples per stream ${fewest}–${Math.max(...received)}`)

    // ---- recovery
    const recoveries = []
    for (let round = 0; round < recoveryRounds; round++) {
      ctx.check()
      await plugin.crash()
      // The tasks keep logging into the FIFOs while no plugin runs.
      await sleep(1_000)
      const spawnedAt = process.hrtime.bigint() / 1000n
      const containerdBefore = cpuMs(containerd)
      const { handshakeMs, readyMs } = await plugin.relaunch()
      started = process.hrtime.bigint()
      const outcomes = await Promise.allSettled(tasks.map((task) => plugin.calls.recover(persisted(task.handle))))
      const totalMs = readyMs + since(started)
      // CPU time rather than wall time: on a loaded machine the wall time is mostly waiting for a core.
      const pluginCpuMs = cpuMs(plugin.pid)
      const containerdCpuMs = cpuMs(containerd) - containerdBefore
      // Only the last process exits gracefully and writes its profile: its recovery's window.
      if (ctx.cpuProfDir !== undefined && round === recoveryRounds - 1) console.log(`last recovery, monotonic µs: --window=${spawnedAt}-${process.hrtime.bigint() / 1000n}`)
      const states = await mapLimit(tasks, 16, (task) => plugin.calls.inspect(task.id).then((r) => r.task?.state, () => undefined))
      const recovered = outcomes.filter((o, i) => o.status === "fulfilled" && states[i] === ctx.driver.TaskState.RUNNING).length
      const firstError = outcomes.find((o) => o.status === "rejected")?.reason?.message
      recoveries.push({ totalMs, handshakeMs, configureMs: readyMs - handshakeMs, recoverMs: totalMs - readyMs, pluginCpuMs, containerdCpuMs, recovered, firstError })
      console.log(`recovery ${round + 1}: ${recovered}/${count} recovered in ${totalMs.toFixed(0)} ms (handshake ${handshakeMs.toFixed(0)}, SetConfig+Init ${(readyMs - handshakeMs).toFixed(0)}, RecoverTasks ${(totalMs - readyMs).toFixed(0)}); CPU: plugin ${pluginCpuMs.toFixed(0)} ms, containerd ${containerdCpuMs.toFixed(0)} ms${firstError === undefined ? "" : `; first error: ${firstError}`}`)
      await sleep(1_000)
    }

    // ---- every task stopped; its lines checked
    await mapLimit(tasks, 8, (task) => plugin.calls.stop(task.id, 5_000, ""))
    const settled = async () => {
      for (let i = 0; i < 50; i++) {
        const before = tasks.map((t) => t.dirs.stdout.text().length)
        await sleep(200)
        if (tasks.every((t, k) => t.dirs.stdout.text().length === before[k])) return
      }
    }
    await settled()
    const lines = tasks.map((task) => checkLines(task.dirs.stdout.text()))
    const lost = lines.reduce((sum, l) => sum + l.lost, 0)
    const wrong = lines.reduce((sum, l) => sum + l.wrong, 0)
    const read = lines.reduce((sum, l) => sum + l.read, 0)
    await mapLimit(tasks, 8, async (task) => {
      await plugin.calls.destroy(task.id)
      task.remove()
    })
    tasks.length = 0

    const peak = Math.max(...streaming.rss)
    const label = `${count} tasks, ${count} TaskStats streams at 1 s`
    const quiet = `${count} tasks, no stats streams`
    const stats = [
      {
        title: `CPU with ${count} running tasks streaming stats at 1 s (% of one core)`,
        rows: [
          { label: `plugin — ${label}`, kind: "driver", unit: "%", values: streaming.plugin.buckets },
          { label: `plugin — ${quiet}`, kind: "derived", unit: "%", values: idle.plugin.buckets },
          { label: `containerd — ${label}`, kind: "contender", unit: "%", values: streaming.containerd.buckets },
          { label: `containerd — ${quiet}`, kind: "derived", unit: "%", values: idle.containerd.buckets },
          { label: `${count} shims — ${label}`, kind: "contender", unit: "%", values: streaming.shims.buckets },
          { label: `${count} shims — ${quiet}`, kind: "derived", unit: "%", values: idle.shims.buckets }
        ],
        verdicts: [{ budget: `plugin CPU ≤ ${cpuBudgetPct} % of one core with ${count} stats streams (mean over ${windowS} s)`, measured: `${fmt(streaming.plugin.mean)} %`, ok: streaming.plugin.mean <= cpuBudgetPct }],
        chartBudget: { value: cpuBudgetPct, label: `budget ${cpuBudgetPct} %` },
        notes: [`Two windows of ${windowS} s over the same ${count} tasks (busybox \`sh\` writing a numbered line twice a second to its Nomad log FIFO): without and with one TaskStats stream per task at a 1 s interval (Nomad's stats hook); samples per stream in the window: ${fewest}–${Math.max(...received)}. CPU from /proc in 5 s buckets (the table's spread); the whole-window means: plugin ${fmt(streaming.plugin.mean)} % (${fmt(idle.plugin.mean)} % without streams), containerd ${fmt(streaming.containerd.mean)} % (${fmt(idle.containerd.mean)} %), shims ${fmt(streaming.shims.mean)} % (${fmt(idle.shims.mean)} %). The tasks' logs never pass through the plugin; the shims copy them. containerd serves every client of this machine: its CPU includes theirs.`]
      },
      {
        title: `plugin RSS with ${count} running tasks streaming stats at 1 s (MB)`,
        rows: [
          { label: `plugin RSS — ${label}`, kind: "driver", unit: "MB", values: streaming.rss },
          { label: `plugin RSS — ${quiet}`, kind: "derived", unit: "MB", values: idle.rss },
          { label: "plugin RSS — no tasks (after Init)", kind: "derived", unit: "MB", values: [rssNoTasks] }
        ],
        verdicts: [{ budget: `plugin RSS ≤ ${rssBudgetMb} MB with ${count} stats streams (peak, sampled every second)`, measured: `${fmt(peak)} MB`, ok: peak <= rssBudgetMb }],
        chartBudget: { value: rssBudgetMb, label: `budget ${rssBudgetMb} MB` },
        notes: [`VmRSS of the plugin process sampled every second over each window.`]
      }
    ]
    // --recoveries=0 (e.g. to profile the stats window: a plugin that is SIGKILLed writes no profile)
    if (recoveries.length === 0) return stats
    const fewestRecovered = Math.min(...recoveries.map((r) => r.recovered))
    const recoveryMedian = summarize(recoveries.map((r) => r.totalMs)).median
    return [
      ...stats,
      {
        title: `recovery of ${count} running tasks after the plugin is SIGKILLed`,
        rows: [
          { label: `new plugin spawned → all ${count} RecoverTasks answered`, kind: "driver", unit: "ms", values: recoveries.map((r) => r.totalMs) },
          { label: "of which spawn → handshake", kind: "derived", unit: "ms", values: recoveries.map((r) => r.handshakeMs) },
          { label: "of which SetConfig + Init", kind: "derived", unit: "ms", values: recoveries.map((r) => r.configureMs) },
          { label: `of which ${count} RecoverTasks at once`, kind: "derived", unit: "ms", values: recoveries.map((r) => r.recoverMs) },
          { label: "plugin CPU time, spawn → all answered", kind: "derived", unit: "ms", values: recoveries.map((r) => r.pluginCpuMs), chart: false },
          { label: "containerd CPU time over the same", kind: "derived", unit: "ms", values: recoveries.map((r) => r.containerdCpuMs), chart: false },
          { label: "tasks recovered (RecoverTask answered, InspectTask RUNNING)", kind: "derived", unit: "tasks", values: recoveries.map((r) => r.recovered), chart: false },
          { label: "log lines lost (all rounds)", kind: "derived", unit: "lines", values: [lost], chart: false }
        ],
        verdicts: [
          { budget: `recovery of ${count} tasks ≤ ${recoveryBudgetMs / 1000} s (median)`, measured: `${fmt(recoveryMedian)} ms`, ok: recoveryMedian <= recoveryBudgetMs },
          { budget: `all ${count} tasks recovered, every round`, measured: `${fewestRecovered} of ${count} (fewest)`, ok: fewestRecovered === count },
          { budget: "no log line lost", measured: `${lost} lost, ${wrong} repeated or garbled of ${read}`, ok: lost === 0 && wrong === 0 }
        ],
        chartBudget: { value: recoveryBudgetMs, label: `budget ${recoveryBudgetMs / 1000} s` },
        notes: [
          `${recoveryRounds} rounds over the same ${count} tasks: the plugin SIGKILLed, 1 s with no plugin (the tasks keep logging), then a new process launched as Nomad launches it, configured (SetConfig, Init), and RecoverTask of every task at once with the handle Nomad keeps (its driver config not persisted), timed from the spawn to the last answer. At the end every task is stopped and its ${"`line <n>`"} lines, read from its FIFO throughout as logmon reads them, are checked for gaps and repeats.`,
          ...recoveries.filter((r) => r.firstError !== undefined).map((r) => `A RecoverTask failed: ${r.firstError}`)
        ]
      }
    ]
  }
}
