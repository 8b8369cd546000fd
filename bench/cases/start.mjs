// StartTask → process running, image present, side by side in one run with containerd's own client (`ctr run -d`:
// create + start) and bare `runc run -d` (the physical floor). The contenders are interleaved round by round, each
// round in a rotated order, and every case is torn down outside its timed part:
//   - the driver: StartTask of a fresh task (new allocation dir, logmon's FIFOs read) running `sleep 3600`, timed
//     from the call to the response; once with the tag reference (one registry HEAD per start, by design) and once
//     pinned by digest;
//   - `ctr run -d` in the same namespace with the same image, timed from spawn to exit, twice: with `--null-io` (the
//     shim wires the process to /dev/null: less work than the driver's FIFOs; the ratios' reference, the stricter
//     one) and with `--log-uri file://` (the shim makes pipes and copies them into a file: the same work as the copy
//     into Nomad's FIFOs);
//   - `runc run -d` of a prepared bundle (the image's layers extracted once into a plain rootfs, config.json from
//     `runc spec`), timed from spawn to exit;
//   - `ctr version` and `runc --version`: what a spawned Go client costs before it does any work (process start, Go
//     runtime; for ctr also the connection and one RPC), so that their own work can be estimated (paired rows).
// Every containerd case is checked to be RUNNING in containerd after its timed part. containerd's events give the
// containerd-side steps of every start, the driver's and ctr's alike. With `timeline`, the plugin runs with grpc-js
// tracing, from which each StartTask's containerd calls are read (it slows the plugin a little: compare totals with
// a run without it). Budget: each driver median ≤ 1.0 × `ctr run -d --null-io`.
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { ctrIn, eventSpansTable, expectRunning, watchEvents } from "../lib/containerd.mjs"
import { busybox, digestRef, taskFactory } from "../lib/nomad.mjs"
import { openPlugin } from "../lib/plugin.mjs"
import { since, timed } from "../lib/processes.mjs"
import { fmt, summarize } from "../lib/stats.mjs"

const command = ["sleep", "3600"]
const reference = "ctr run -d --null-io"
const driverTag = "driver StartTask (tag)"
const driverDigest = "driver StartTask (digest)"

// ---------------------------------------------------------------------------------------------------------------
// timeline: the plugin's grpc-js trace

/** A grpc-js trace line's time (ISO, ms resolution) in ms. */
const traceTime = (line) => Date.parse(line.slice(2, 26))

/**
 * One StartTask's containerd calls from the plugin's grpc-js trace: `{ total, calls: [{ step, start, end }] }`, times
 * in ms after the StartTask request arrived; a method's repeated calls are numbered ("Content.Read #2").
 */
const parseTrace = (text) => {
  const lines = text.split("\n")
  const begin = lines.find((l) => l.includes("server_call | Received call to method") && l.includes("/StartTask"))
  const end = lines.find((l) => l.includes("/StartTask ended with status"))
  if (begin === undefined || end === undefined) return undefined
  const t0 = traceTime(begin)
  const methods = new Map()
  const calls = new Map()
  const seen = new Map()
  for (const line of lines) {
    let m = /createResolvingCall \[(\d+)\] method="\/containerd\.services\.(\w+)\.v1\.(\w+)\/(\w+)"/.exec(line)
    if (m !== null) {
      const method = `${m[3]}.${m[4]}`
      const n = (seen.get(method) ?? 0) + 1
      seen.set(method, n)
      methods.set(m[1], { step: n === 1 ? method : `${method} #${n}`, start: traceTime(line) - t0 })
      continue
    }
    m = /resolving_call \| \[(\d+)\] ended with status: code=(\d+)/.exec(line)
    if (m !== null && methods.has(m[1]) && !calls.has(m[1])) {
      const call = methods.get(m[1])
      calls.set(m[1], { ...call, step: m[2] === "0" ? call.step : `${call.step} (code ${m[2]})`, end: traceTime(line) - t0 })
    }
  }
  const total = traceTime(end) - t0
  // Tasks.Wait is the exit watcher's call: it outlives StartTask by design.
  return { total, calls: [...calls.values()].filter((c) => c.start <= total && !c.step.startsWith("Tasks.Wait")) }
}

const traceTable = (name, traces) => {
  const parsed = traces.map(parseTrace).filter((t) => t !== undefined)
  if (parsed.length === 0) throw new Error(`${name}: no grpc-js trace read from the plugin's stderr`)
  const steps = new Map()
  for (const trace of parsed) {
    for (const call of trace.calls) {
      if (!steps.has(call.step)) steps.set(call.step, [])
      steps.get(call.step).push(call)
    }
  }
  const rows = [...steps].map(([step, calls]) => ({
    step,
    start: summarize(calls.map((c) => c.start)).median,
    end: summarize(calls.map((c) => c.end)).median,
    takes: summarize(calls.map((c) => c.end - c.start)),
    count: calls.length
  }))
  rows.sort((a, b) => a.start - b.start)
  const totals = summarize(parsed.map((t) => t.total))
  return [
    `${name}: containerd calls inside StartTask (the plugin's grpc-js trace, ${parsed.length} starts; ms after the request arrived, 1 ms resolution)`,
    "",
    "| step | starts at (median) | ends at (median) | takes (median, p10–p90) | calls |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map((row) => `| ${row.step} | ${fmt(row.start)} | ${fmt(row.end)} | ${fmt(row.takes.median)} (${fmt(row.takes.p10)}–${fmt(row.takes.p90)}) | ${row.count} |`),
    `| StartTask answered | | ${fmt(totals.median)} | | ${parsed.length} |`,
    ""
  ]
}

// ---------------------------------------------------------------------------------------------------------------

export default {
  name: "start",
  title: "StartTask → running (image present) vs ctr run -d vs runc run -d",
  run: async (ctx) => {
    const rounds = ctx.startRounds ?? ctx.rounds
    const settleMs = ctx.settleMs ?? 250
    const namespace = ctx.namespace("start")
    const ctr = ctrIn(ctx.address, namespace)
    const tagRef = busybox(ctx.registry)
    const runcRoot = join(ctx.scratch, "runc-state")
    const bundle = join(ctx.scratch, "bundle")
    const runc = (...args) => execFileSync("runc", ["--root", runcRoot, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    const caseOf = new Map() // container id → contender, for containerd's events
    let timing = false

    const events = watchEvents(ctx.address, namespace)
    ctx.defer("ctr events", () => events.stop())
    const trace = ctx.timeline ? { GRPC_TRACE: "channel,resolving_call,server_call", GRPC_VERBOSITY: "DEBUG" } : {}
    const plugin = await openPlugin(ctx, { namespace, profileName: "start", env: trace })
    ctx.defer("plugin", () => plugin.shutdown())
    const newTask = taskFactory(ctx)
    const live = new Map() // driver task id → task, destroyed after the case if a round failed
    ctx.defer("driver tasks", async () => {
      for (const [id, task] of live) {
        await plugin.calls.destroy(id).catch((error) => console.error(`cleanup: DestroyTask ${id}: ${error.message}`))
        task.remove()
      }
    })
    const runcContainers = new Set()
    ctx.defer("runc containers", () => {
      for (const id of runcContainers) runc("delete", "-f", id)
    })

    const expectOne = (name) => {
      const [id] = expectRunning(ctr, 1, name)
      if (timing) caseOf.set(id, name)
    }

    const driverCase = (name, image) => {
      let current
      let traceFrom = 0
      return {
        name,
        kind: "driver",
        traces: [],
        run: async () => {
          current = newTask({ image, command: command[0], args: command.slice(1) })
          live.set(current.id, current)
          traceFrom = plugin.stderr().length
          const started = process.hrtime.bigint()
          await plugin.calls.start(current.config)
          return since(started)
        },
        verify: async function() {
          const inspected = await plugin.calls.inspect(current.id)
          if (inspected.task?.state !== ctx.driver.TaskState.RUNNING) throw new Error(`${name}: InspectTask says ${inspected.task?.state}`)
          expectOne(name)
          // After InspectTask's round trip the plugin's trace lines of the StartTask have reached us (its stderr is
          // a pipe, written synchronously); parseTrace keeps only the lines up to the StartTask's end.
          if (ctx.timeline && timing) this.traces.push(plugin.stderr().slice(traceFrom))
        },
        teardown: async () => {
          await plugin.calls.stop(current.id, 5_000, "SIGKILL")
          await plugin.calls.destroy(current.id)
          live.delete(current.id)
          current.remove()
        }
      }
    }

    let ctrCount = 0
    const ctrRunCase = (name, io) => {
      let current
      return {
        name,
        kind: "contender",
        run: () => {
          current = `bench-ctr-${ctrCount++}`
          const stdio = io === "null" ? ["--null-io"] : ["--log-uri", `file://${join(ctx.scratch, `${current}.log`)}`]
          return timed(ctx.scratch, "ctr", ["--address", ctx.address, "-n", namespace, "run", "-d", ...stdio, tagRef, current, ...command])
        },
        verify: async () => expectOne(name),
        teardown: async () => {
          ctr("tasks", "rm", "-f", current)
          ctr("containers", "rm", current)
          rmSync(join(ctx.scratch, `${current}.log`), { force: true })
        }
      }
    }

    let runcCount = 0
    const runcRunCase = {
      name: "runc run -d",
      kind: "floor",
      current: undefined,
      run: async function() {
        this.current = `bench-runc-${process.pid}-${runcCount++}`
        runcContainers.add(this.current)
        return timed(ctx.scratch, "runc", ["--root", runcRoot, "run", "-d", "--bundle", bundle, "--pid-file", join(ctx.scratch, `${this.current}.pid`), this.current])
      },
      verify: async function() {
        const state = JSON.parse(runc("state", this.current))
        if (state.status !== "running") throw new Error(`runc run -d: runc state says ${state.status}`)
      },
      teardown: async function() {
        runc("delete", "-f", this.current)
        runcContainers.delete(this.current)
        rmSync(join(ctx.scratch, `${this.current}.pid`), { force: true })
      }
    }

    const spawnCase = (name, file, args) => ({
      name,
      kind: "derived",
      run: () => timed(ctx.scratch, file, args),
      verify: async () => {},
      teardown: async () => {}
    })

    /**
     * The bundle runc runs: the image's layers (from this namespace's content store) extracted in order into a plain
     * directory, and `runc spec`'s config without a terminal, running the benchmark's command.
     */
    const prepareBundle = () => {
      const target = ctr("images", "ls").split("\n").slice(1).map((line) => line.trim().split(/\s+/)).find(([ref]) => ref === tagRef)
      if (target === undefined) throw new Error(`${tagRef} is not in namespace ${namespace} after the driver's warm-up`)
      const [, mediaType, digest] = target
      if (!mediaType.includes("manifest")) throw new Error(`${tagRef} is ${mediaType}: expected a single-platform manifest`)
      const manifest = JSON.parse(ctr("content", "get", digest))
      const rootfs = join(bundle, "rootfs")
      mkdirSync(rootfs, { recursive: true })
      for (const layer of manifest.layers) {
        const blob = execFileSync("ctr", ["--address", ctx.address, "-n", namespace, "content", "get", layer.digest], { maxBuffer: 1 << 30 })
        execFileSync("tar", [layer.mediaType.endsWith("gzip") ? "-xzf" : "-xf", "-", "-C", rootfs], { input: blob })
      }
      execFileSync("runc", ["spec"], { cwd: bundle })
      const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"))
      spec.process.terminal = false
      spec.process.args = command
      writeFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2))
      return manifest.layers.length
    }

    const pinnedRef = await digestRef(ctx.registry, "test/busybox")
    const contenders = [
      driverCase(driverTag, tagRef),
      driverCase(driverDigest, pinnedRef),
      ctrRunCase(reference, "null"),
      ctrRunCase("ctr run -d --log-uri file://", "file"),
      runcRunCase,
      spawnCase("ctr version", "ctr", ["--address", ctx.address, "version"]),
      spawnCase("runc --version", "runc", ["--version"])
    ]
    const once = async (contender) => {
      const ms = await contender.run()
      await contender.verify()
      await contender.teardown()
      await sleep(settleMs)
      return ms
    }

    // Warm-up, untimed: the driver's first starts pull the image into the namespace (tag and digest), after which
    // ctr finds it by the same name; the bundle is extracted from it; each contender then runs once (page cache, code
    // paths, the plugin's JIT).
    await once(contenders[0])
    await once(contenders[1])
    const layers = prepareBundle()
    for (const contender of contenders) await once(contender)

    const samples = new Map(contenders.map((c) => [c.name, []]))
    timing = true
    for (let round = 0; round < rounds; round++) {
      ctx.check()
      const line = []
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(round + k) % contenders.length]
        const ms = await once(contender)
        samples.get(contender.name).push(ms)
        line.push(`${contender.name} ${fmt(ms)}`)
      }
      console.log(`round ${String(round + 1).padStart(2)}: ${line.join(" | ")}`)
    }
    events.stop()

    /** Per-round differences (the contenders of one round ran within a second of each other). */
    const paired = (a, b) => samples.get(a).map((value, i) => value - samples.get(b)[i])
    const rows = contenders.map((c) => ({ label: c.name, kind: c.kind, unit: "ms", values: samples.get(c.name) }))
    rows.push({ label: "ctr run -d --null-io − ctr version (paired)", kind: "derived", unit: "ms", values: paired(reference, "ctr version"), chart: false })
    rows.push({ label: "runc run -d − runc --version (paired)", kind: "derived", unit: "ms", values: paired("runc run -d", "runc --version"), chart: false })
    const referenceMedian = summarize(samples.get(reference)).median
    const verdicts = [driverTag, driverDigest].map((name) => {
      const ratio = summarize(samples.get(name)).median / referenceMedian
      return { budget: `${name} ≤ 1.0 × \`${reference}\` (medians)`, measured: `${ratio.toFixed(2)} ×`, ok: ratio <= 1.0 }
    })
    const details = [
      "containerd's own timestamps of each start's steps (its events; the same steps for every client; median ms, p10–p90):",
      "",
      ...eventSpansTable(events.events(), caseOf, contenders.filter((c) => c.kind === "driver" || c.name.startsWith("ctr run")).map((c) => c.name)),
      ""
    ]
    if (ctx.timeline) for (const c of contenders.filter((c) => c.traces !== undefined)) details.push(...traceTable(c.name, c.traces))
    return [{
      title: "StartTask → task running (image present)",
      reference,
      rows,
      verdicts,
      chartBudget: { value: referenceMedian, label: "budget 1.0 × ctr" },
      notes: [
        `Image \`${tagRef}\` = \`${pinnedRef}\` (${layers} layer${layers === 1 ? "" : "s"}), present; command \`${command.join(" ")}\`. ${rounds} rounds, the contenders interleaved in a rotated order, ${settleMs} ms pause after each teardown. The driver's StartTask is timed from the call to its answer, with a fresh allocation dir whose FIFOs are read as logmon reads them; ctr and runc from spawn to exit. \`ctr run -d --null-io\` wires the task to /dev/null (less work than the driver's FIFOs): the stricter reference. The paired rows subtract what a spawned Go client costs before it does any work.`
      ],
      details
    }]
  }
}
