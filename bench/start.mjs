// StartTask → process running, image cached, side by side in one run with containerd's own client
// (`ctr run -d`: create + start) and bare `runc run -d` (the physical floor). The contenders are interleaved round
// by round, each round in a rotated order, and every case is torn down outside its timed part:
//   - the driver: the built plugin launched as Nomad launches it (scripts/start-bench-entry.ts, bundled in memory),
//     SetConfig with its own containerd namespace, then per round StartTask of a fresh task (new allocation
//     directory, logmon's FIFOs read by this script) running `sleep 3600`, timed from the call to the response;
//     once with the tag reference (one registry HEAD per start, by design) and once pinned by digest;
//   - `ctr run -d` in the same namespace with the same image, timed from spawn to exit, twice: with `--null-io`
//     (the shim wires the process to /dev/null: less work than the driver's FIFOs; the ratios' reference, the
//     stricter one) and with `--log-uri file://` (the shim makes pipes and copies them into a file: the same work as
//     the copy into Nomad's FIFOs);
//   - `runc run -d` of a prepared bundle (the image's layers extracted once into a plain rootfs, config.json from
//     `runc spec`), timed from spawn to exit;
//   - `ctr version` and `runc --version`: what a spawned Go client costs before it does any work (process start,
//     Go runtime; for ctr also the connection and one RPC), so their own work can be estimated.
// Every containerd case is checked to be RUNNING in containerd after the timed part.
// Usage, after `npm run build` with the test environment up (as root):
//   node bench/start.mjs [rounds] [--settle=ms] [--timeline] [--cpu-prof=dir]
//   default 20 rounds, 250 ms pause after each teardown (containerd's GC and the shims settle);
//   --timeline: where the time goes. The plugin runs with grpc-js tracing (GRPC_TRACE), from which each StartTask's
//   containerd calls are read (median start and end after the request arrived); and containerd's events (`ctr
//   events`) give the containerd-side steps of every case, the driver's and ctr's alike (snapshot prepared →
//   container created → task created → task started). Tracing slows the plugin a little: compare its totals
//   with a run without it;
//   --cpu-prof runs the plugin under `node --cpu-prof`; it writes its profile into dir when it exits at the end.
import { build } from "esbuild"
import { execFileSync, spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism, cpus, loadavg, release, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { setTimeout as sleep } from "node:timers/promises"

const flags = process.argv.slice(2).filter((arg) => arg.startsWith("--"))
const positional = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
const flag = (name) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3)
const rounds = Number(positional[0] ?? 20)
const settleMs = Number(flag("settle") ?? 250)
const cpuProfDir = flag("cpu-prof") === undefined ? undefined : resolve(flag("cpu-prof"))
const timeline = flags.includes("--timeline")
const unknown = flags.filter((f) => !/^--(settle|cpu-prof)=./.test(f) && f !== "--timeline")
if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(" ")}; usage: node bench/start.mjs [rounds] [--settle=ms] [--timeline] [--cpu-prof=dir]`)
if (!Number.isInteger(rounds) || rounds < 3) throw new Error(`rounds must be an integer ≥ 3, got ${positional[0]}`)
if (!Number.isFinite(settleMs) || settleMs < 0) throw new Error(`--settle must be a number of ms ≥ 0`)
if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true })

const address = process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock"
const registry = process.env.TEST_REGISTRY ?? "127.0.0.1:5000"
const repository = "test/busybox"
const tagRef = `${registry}/${repository}:latest`
const command = ["sleep", "3600"]
const suffix = `${process.pid}-${Date.now().toString(36)}`
const namespace = `cdd-bench-start-${suffix}`
const dir = mkdtempSync(join(tmpdir(), "cdd-bench-start-"))
const runcRoot = join(dir, "runc-state")
const bundle = join(dir, "bundle")

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const ctr = (...args) =>
  execFileSync("ctr", ["--address", address, "-n", namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
const runc = (...args) => execFileSync("runc", ["--root", runcRoot, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

let logCount = 0
/**
 * Runs a command to completion, timed from spawn to exit. Its stderr goes to a file, not a pipe: `runc run -d` hands
 * its stdio to the container, which would otherwise hold our pipe open for an hour.
 */
const timed = (file, args) =>
  new Promise((resolvePromise, reject) => {
    const log = join(dir, `child-${logCount++}.log`)
    const fd = openSync(log, "w")
    const started = process.hrtime.bigint()
    const child = spawn(file, args, { stdio: ["ignore", "ignore", fd] })
    closeSync(fd)
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      const stderr = readFileSync(log, "utf8")
      rmSync(log, { force: true })
      if (code === 0) resolvePromise(ms)
      else reject(new Error(`${file} ${args.join(" ")} exited ${code ?? signal}: ${stderr.slice(-2000)}`))
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// The plugin, driven as a Nomad client drives it

/** The entry bundled in memory, loaded from a file (see bench/pull.mjs for why not a data: URL). */
const loadEntry = async () => {
  const result = await build({
    entryPoints: ["scripts/start-bench-entry.ts"],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minifySyntax: true,
    write: false,
    logLevel: "warning",
    banner: { js: `import { createRequire as __benchCreateRequire } from "node:module"; const require = __benchCreateRequire(import.meta.url);` }
  })
  const file = join(dir, "start-bench-entry.mjs")
  writeFileSync(file, result.outputFiles[0].text)
  return import(pathToFileURL(file).href)
}

/** The manifest digest the registry answers for the tag: the digest-pinned reference of the same image. */
const digestRef = async () => {
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/latest`, {
    method: "HEAD",
    headers: {
      accept: [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json"
      ].join(", ")
    }
  })
  const digest = response.headers.get("docker-content-digest")
  if (!response.ok || digest === null) throw new Error(`HEAD ${tagRef}: ${response.status}, no digest (is the test environment up?)`)
  return `${registry}/${repository}@${digest}`
}

/** containerd's view of the namespace's tasks: id → status. */
const containerdTasks = () =>
  new Map(ctr("tasks", "ls").split("\n").slice(1).filter(Boolean).map((line) => {
    const [id, , status] = line.trim().split(/\s+/)
    return [id, status]
  }))

/** Exactly one task in the namespace, and it is RUNNING (only one case is alive at a time). */
const expectOneRunning = (what) => {
  const tasks = containerdTasks()
  const running = [...tasks.values()].filter((status) => status === "RUNNING")
  if (tasks.size !== 1 || running.length !== 1) {
    throw new Error(`${what}: expected one RUNNING task in containerd, found ${JSON.stringify([...tasks])}`)
  }
  if (timing) caseOfContainer.set([...tasks.keys()][0], what)
}

/** Which case created each container in the timed rounds (for --timeline's containerd events). */
const caseOfContainer = new Map()
let timing = false

// ---------------------------------------------------------------------------------------------------------------
// Statistics

const quantile = (sorted, q) => sorted[Math.round(q * (sorted.length - 1))]
const summarize = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: quantile(sorted, 0.5), p10: quantile(sorted, 0.1), p90: quantile(sorted, 0.9), min: sorted[0], max: sorted.at(-1) }
}
const fmt = (value) => value.toFixed(1)

// ---------------------------------------------------------------------------------------------------------------
// --timeline

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

const printTrace = (name, traces) => {
  const parsed = traces.map(parseTrace).filter((t) => t !== undefined)
  if (parsed.length === 0) return console.log(`\n${name}: no trace read (is the plugin's stderr reaching us?)`)
  const steps = new Map()
  for (const trace of parsed) {
    for (const call of trace.calls) {
      if (!steps.has(call.step)) steps.set(call.step, [])
      steps.get(call.step).push(call)
    }
  }
  console.log(`\n### ${name}: containerd calls inside StartTask (plugin's grpc-js trace, ${parsed.length} starts; ms after the request arrived)\n`)
  console.log("| step | starts at (median) | ends at (median) | takes (median, p10–p90) | calls |")
  console.log("| --- | ---: | ---: | ---: | ---: |")
  const rows = [...steps].map(([step, calls]) => ({
    step,
    start: summarize(calls.map((c) => c.start)).median,
    end: summarize(calls.map((c) => c.end)).median,
    takes: summarize(calls.map((c) => c.end - c.start)),
    count: calls.length
  }))
  rows.sort((a, b) => a.start - b.start)
  for (const row of rows) {
    console.log(`| ${row.step} | ${row.start} | ${row.end} | ${row.takes.median} (${row.takes.p10}–${row.takes.p90}) | ${row.count} |`)
  }
  const totals = summarize(parsed.map((t) => t.total))
  console.log(`| StartTask answered | | ${totals.median} | | ${parsed.length} |`)
}

/** `ctr events` lines of our namespace: time (ms), topic, container id. */
const parseEvents = (text) => {
  const events = []
  for (const line of text.split("\n")) {
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? \+0000 UTC (\S+) (\S+) (.*)$/.exec(line)
    if (m === null || m[4] !== namespace) continue
    let body
    try {
      body = JSON.parse(m[6])
    } catch {
      continue
    }
    // Snapshot events name the key: ctr's is the container id, the driver's is "<container id>-snapshot".
    const id = body.id ?? body.container_id ?? (typeof body.key === "string" ? body.key.replace(/-snapshot$/, "") : undefined)
    if (id === undefined) continue
    events.push({ at: Date.parse(`${m[1]}T${m[2]}Z`) + Number(m[3] ?? 0) * 1000, topic: m[5], id })
  }
  return events
}

const printEvents = (text, caseNames) => {
  const byContainer = new Map()
  for (const event of parseEvents(text)) {
    if (!byContainer.has(event.id)) byContainer.set(event.id, {})
    byContainer.get(event.id)[event.topic] ??= event.at
  }
  const spans = [
    ["snapshot prepared → container created", "/snapshot/prepare", "/containers/create"],
    ["container created → task created (Tasks.Create: shim, runc create)", "/containers/create", "/tasks/create"],
    ["task created → task started (Tasks.Start)", "/tasks/create", "/tasks/start"]
  ]
  console.log("\n### containerd's events per case (`ctr events`: the same steps for every client; median ms, p10–p90)\n")
  console.log(`| case | ${spans.map(([title]) => title).join(" | ")} | containers |`)
  console.log(`| --- | ${spans.map(() => "---:").join(" | ")} | ---: |`)
  for (const name of caseNames) {
    const containers = [...byContainer].filter(([id]) => caseOfContainer.get(id) === name).map(([, topics]) => topics)
    const cells = spans.map(([, from, to]) => {
      const values = containers.filter((t) => t[from] !== undefined && t[to] !== undefined).map((t) => t[to] - t[from])
      if (values.length === 0) return "–"
      const s = summarize(values)
      return `${fmt(s.median)} (${fmt(s.p10)}–${fmt(s.p90)})`
    })
    console.log(`| ${name} | ${cells.join(" | ")} | ${containers.length} |`)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Resources, cleaned up whatever happens

let plugin
let eventsWatcher // `ctr events` with --timeline: { child, text() }
const driverTasks = new Map() // task id → allocation
const ctrContainers = new Set()
const runcContainers = new Set()

const cleanup = async () => {
  eventsWatcher?.child.kill("SIGTERM")
  for (const [id, alloc] of driverTasks) {
    try {
      const calls = plugin?.calls
      if (calls !== undefined) await calls.destroy(id)
    } catch (error) {
      console.error(`cleanup: DestroyTask ${id}: ${error.message}`)
    }
    alloc.remove()
  }
  driverTasks.clear()
  if (plugin !== undefined) {
    await plugin.shutdown()
    plugin = undefined
  }
  for (const id of runcContainers) {
    try {
      runc("delete", "-f", id)
    } catch (error) {
      console.error(`cleanup: runc delete ${id}: ${error.message}`)
    }
  }
  runcContainers.clear()
  const attempt = (what, fn) => {
    try {
      return fn()
    } catch (error) {
      console.error(`cleanup: ${what}: ${String(error.stderr ?? error.message).trim()}`)
      return ""
    }
  }
  const list = (...args) => attempt(args.join(" "), () => ctr(...args)).split("\n").filter(Boolean)
  // Whatever containerd holds in the namespace: containers (with their tasks and snapshots) left by any case.
  for (const id of new Set([...ctrContainers, ...list("containers", "ls", "-q")])) {
    attempt(`task rm ${id}`, () => {
      if (containerdTasks().has(id)) ctr("tasks", "rm", "-f", id)
    })
    attempt(`containers rm ${id}`, () => ctr("containers", "rm", id))
  }
  ctrContainers.clear()
  for (const image of list("images", "ls", "-q")) attempt(`images rm ${image}`, () => ctr("images", "rm", "--sync", image))
  for (const lease of list("leases", "ls", "-q")) attempt(`leases rm ${lease}`, () => ctr("leases", "rm", "--sync", lease))
  // Children before parents: repeat while snapshots are left and some could be removed.
  for (let i = 0; i < 10; i++) {
    const keys = list("snapshots", "ls").slice(1).map((line) => line.trim().split(/\s+/)[0])
    if (keys.length === 0) break
    for (const key of keys) {
      try {
        ctr("snapshots", "rm", key)
      } catch {
        // a parent of another snapshot: removed in a later pass
      }
    }
  }
  for (const blob of list("content", "ls", "-q")) attempt(`content rm ${blob}`, () => ctr("content", "rm", blob))
  const namespaces = attempt("namespaces ls", () => ctr("namespaces", "ls", "-q")).split("\n")
  if (namespaces.includes(namespace)) attempt(`namespaces rm ${namespace}`, () => ctr("namespaces", "rm", namespace))
  // Tasks get the cgroup /<namespace>/<container>; runc removes the container's, the namespace's stays (empty).
  for (const cgroup of cgroupsOfNamespace()) attempt(`rmdir ${cgroup}`, () => rmdirSync(cgroup))
  rmSync(dir, { recursive: true, force: true })
}

/** The namespace's cgroup directories: one per v1 hierarchy (/sys/fs/cgroup/<controller>/<ns>), or one on v2. */
const cgroupsOfNamespace = () => {
  const root = "/sys/fs/cgroup"
  const hierarchies = existsSync(join(root, "cgroup.controllers")) ? [root] : readdirSync(root).map((name) => join(root, name))
  // v1 controllers mounted together appear under several names (cpu, cpuacct → cpu,cpuacct): one directory each.
  return [...new Set(hierarchies.map((hierarchy) => join(realpathSync(hierarchy), namespace)))].filter((path) => existsSync(path))
}

let interrupted = false
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    interrupted = true
    console.error(`\n${signal}: cleaning up`)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The contenders

const openPlugin = async (entry) => {
  const env = entry.nomadEnv(timeline ? { GRPC_TRACE: "channel,resolving_call,server_call", GRPC_VERBOSITY: "DEBUG" } : {})
  const pluginsDir = entry.pluginDir()
  if (cpuProfDir !== undefined) {
    // Node refuses --cpu-prof in NODE_OPTIONS: the plugin file becomes a wrapper that runs the bundle with it.
    const wrapper = join(pluginsDir, "containerd-driver")
    renameSync(wrapper, join(pluginsDir, "containerd-driver.cjs"))
    writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" --cpu-prof --cpu-prof-dir="${cpuProfDir}" "${join(pluginsDir, "containerd-driver.cjs")}" "$@"\n`, { mode: 0o755 })
  }
  const launched = await entry.launch(pluginsDir, env)
  const calls = entry.driverCalls(launched.driver)
  const shutdown = async () => {
    // SIGTERM is the plugin's graceful stop: with --cpu-prof, Node writes the profile as it exits.
    launched.child.kill("SIGTERM")
    const exited = await Promise.race([launched.exited.then(() => true), sleep(10_000).then(() => false)])
    if (!exited) console.error("the plugin did not exit within 10 s of SIGTERM; killing it")
    launched.close()
    rmSync(pluginsDir, { recursive: true, force: true })
  }
  plugin = { launched, calls, shutdown }
  await entry.unary(launched.base, launched.base.setConfig, {
    msgpackConfig: Buffer.from(entry.pluginConfigBytes({ containerd_address: address, namespace })),
    pluginApiVersion: "v0.1.0",
    nomadConfig: { driver: { ClientMaxPort: 14512, ClientMinPort: 14000 } }
  })
  await entry.unary(launched.driver, launched.driver.init, {})
  return plugin
}

/** StartTask of `image` running `sleep 3600`, as a Nomad client starts a task: fresh allocation dir and FIFOs. */
const driverCase = (entry, name, image) => {
  let current
  let traceFrom = 0
  return {
    name,
    traces: [],
    run: async () => {
      const alloc = entry.makeAllocation()
      const task = alloc.task("bench")
      const config = entry.taskConfig({ alloc, task, config: { image, command: command[0], args: command.slice(1) } })
      driverTasks.set(config.id, alloc)
      current = config.id
      traceFrom = plugin.launched.stderr().length
      const started = process.hrtime.bigint()
      await plugin.calls.start(config)
      return Number(process.hrtime.bigint() - started) / 1e6
    },
    verify: async function() {
      const inspected = await plugin.calls.inspect(current)
      if (inspected.task?.state !== entry.TaskState.RUNNING) throw new Error(`${name}: InspectTask says ${inspected.task?.state}`)
      expectOneRunning(name)
      // After InspectTask's round trip the plugin's trace lines of the StartTask have reached us (its stderr is a pipe,
      // written synchronously); parseTrace keeps only the lines up to the StartTask's end.
      if (timeline && timing) this.traces.push(plugin.launched.stderr().slice(traceFrom))
    },
    teardown: async () => {
      await plugin.calls.stop(current, 5_000, "SIGKILL")
      await plugin.calls.destroy(current)
      driverTasks.get(current).remove()
      driverTasks.delete(current)
    }
  }
}

let ctrCount = 0
const ctrRunCase = (name, stdio) => {
  let current
  return {
    name,
    run: async () => {
      current = `bench-ctr-${ctrCount++}`
      ctrContainers.add(current)
      const io = stdio === "null" ? ["--null-io"] : ["--log-uri", `file://${join(dir, `${current}.log`)}`]
      return timed("ctr", ["--address", address, "-n", namespace, "run", "-d", ...io, tagRef, current, ...command])
    },
    verify: async () => expectOneRunning(name),
    teardown: async () => {
      ctr("tasks", "rm", "-f", current)
      ctr("containers", "rm", current)
      ctrContainers.delete(current)
      rmSync(join(dir, `${current}.log`), { force: true })
    }
  }
}

let runcCount = 0
const runcRunCase = () => {
  let current
  return {
    name: "runc run -d",
    run: async () => {
      current = `bench-runc-${suffix}-${runcCount++}`
      runcContainers.add(current)
      return timed("runc", ["--root", runcRoot, "run", "-d", "--bundle", bundle, "--pid-file", join(dir, `${current}.pid`), current])
    },
    verify: async () => {
      const state = JSON.parse(runc("state", current))
      if (state.status !== "running") throw new Error(`runc run -d: runc state says ${state.status}`)
    },
    teardown: async () => {
      runc("delete", "-f", current)
      runcContainers.delete(current)
      rmSync(join(dir, `${current}.pid`), { force: true })
    }
  }
}

const spawnCase = (name, file, args) => ({
  name,
  run: () => timed(file, args),
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
    const blob = execFileSync("ctr", ["--address", address, "-n", namespace, "content", "get", layer.digest], { maxBuffer: 1 << 30 })
    const gzip = layer.mediaType.endsWith("gzip")
    execFileSync("tar", [gzip ? "-xzf" : "-xf", "-", "-C", rootfs], { input: blob })
  }
  execFileSync("runc", ["spec"], { cwd: bundle })
  const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"))
  spec.process.terminal = false
  spec.process.args = command
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2))
  return manifest.layers.length
}

// ---------------------------------------------------------------------------------------------------------------

const machine = () => {
  const server = /Server:\s*\n\s*Version:\s*(\S+)/.exec(execFileSync("ctr", ["--address", address, "version"], { encoding: "utf8" }))
  return [
    `- CPU: ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? "unknown"}`,
    `- kernel: Linux ${release()}; cgroup ${existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : "v1"}`,
    `- containerd ${server?.[1] ?? "unknown"}, ${execFileSync("runc", ["--version"], { encoding: "utf8" }).split("\n")[0]}, node ${process.version}`
  ].join("\n")
}

let failed = false
let loadAtStart = loadavg()
let report
try {
  console.log(`preparing: namespace ${namespace}, ${rounds} rounds, ${settleMs} ms settle`)
  loadAtStart = loadavg()
  if (timeline) {
    const child = spawn("ctr", ["--address", address, "events"], { stdio: ["ignore", "pipe", "ignore"] })
    let text = ""
    child.stdout.on("data", (chunk) => (text += chunk))
    eventsWatcher = { child, text: () => text }
  }
  const entry = await loadEntry()
  await openPlugin(entry)
  const pinnedRef = await digestRef()

  const contenders = [
    driverCase(entry, "driver StartTask (tag)", tagRef),
    driverCase(entry, "driver StartTask (digest)", pinnedRef),
    ctrRunCase("ctr run -d --null-io", "null"),
    ctrRunCase("ctr run -d --log-uri file://", "file"),
    runcRunCase(),
    spawnCase("ctr version", "ctr", ["--address", address, "version"]),
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
  // ctr finds it by the same name; the bundle is extracted from it; each contender then runs once (page cache,
  // code paths, the plugin's JIT).
  await once(contenders[0])
  await once(contenders[1])
  const layers = prepareBundle()
  for (const contender of contenders) await once(contender)

  const samples = new Map(contenders.map((c) => [c.name, []]))
  timing = true
  for (let round = 0; round < rounds && !interrupted; round++) {
    const line = []
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(round + k) % contenders.length]
      const ms = await once(contender)
      samples.get(contender.name).push(ms)
      line.push(`${contender.name} ${fmt(ms)}`)
    }
    console.log(`round ${String(round + 1).padStart(2)}: ${line.join(" | ")}`)
  }
  if (interrupted) throw new Error("interrupted")
  report = { samples, pinnedRef, layers, contenders, events: eventsWatcher?.text() }
} catch (error) {
  failed = true
  console.error(`\nbench/start.mjs FAILED: ${error.stack ?? error}`)
  if (plugin !== undefined && !interrupted) console.error(`plugin stderr (last 3000 chars):\n${plugin.launched.stderr().slice(-3000)}`)
} finally {
  await cleanup()
}

if (report !== undefined) {
  const { samples, pinnedRef, layers, contenders, events } = report
  const reference = "ctr run -d --null-io"
  const referenceMedian = summarize(samples.get(reference)).median
  /** Per-round differences (the contenders of one round ran within a second of each other). */
  const paired = (a, b) => samples.get(a).map((value, i) => value - samples.get(b)[i])
  const rows = [...samples].map(([name, values]) => ({ name, ...summarize(values) }))
  rows.push({ name: "ctr run -d --null-io − ctr version (paired)", ...summarize(paired(reference, "ctr version")) })
  rows.push({ name: "runc run -d − runc --version (paired)", ...summarize(paired("runc run -d", "runc --version")) })

  console.log(`\n## StartTask vs ctr run -d vs runc run -d (${rounds} rounds, interleaved)\n`)
  console.log(`| case | median ms | p10–p90 ms | min–max ms | median / \`${reference}\` |`)
  console.log("| --- | ---: | ---: | ---: | ---: |")
  for (const row of rows) {
    console.log(`| ${row.name} | ${fmt(row.median)} | ${fmt(row.p10)}–${fmt(row.p90)} | ${fmt(row.min)}–${fmt(row.max)} | ${(row.median / referenceMedian).toFixed(2)} |`)
  }
  console.log(`\nimage: ${tagRef} = ${pinnedRef} (${layers} layer${layers === 1 ? "" : "s"}), command: ${command.join(" ")}`)
  const load = (values) => values.map((l) => l.toFixed(2)).join(" ")
  console.log(`load average: ${load(loadAtStart)} at the start, ${load(loadavg())} at the end (compare within one run only)`)
  console.log(machine())
  for (const name of ["driver StartTask (tag)", "driver StartTask (digest)"]) {
    const ratio = summarize(samples.get(name)).median / referenceMedian
    console.log(`budget (${name} ≤ 1.0 × ${reference}, medians): ${ratio.toFixed(2)} × ctr: ${ratio <= 1.0 ? "within" : "OVER"}`)
  }
  if (timeline) {
    for (const contender of contenders.filter((c) => c.traces !== undefined)) printTrace(contender.name, contender.traces)
    printEvents(events, contenders.filter((c) => c.name.startsWith("driver") || c.name.startsWith("ctr run")).map((c) => c.name))
  }
  if (cpuProfDir !== undefined) console.log(`plugin CPU profile(s): ${readdirSync(cpuProfDir).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(cpuProfDir, f)).join(", ")}`)
}
if (failed) process.exit(1)
