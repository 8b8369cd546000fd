// What reading the metrics of N running tasks costs, one Tasks.Metrics call for all N ids (the Stats layer's shared
// poller, layers/stats/Poller.ts) against N calls of one id each (a timer and a call per stats stream, as the
// original driver did), on the real containerd. Per round and contender: wall time, this client's CPU, containerd's
// CPU, and the CPU of the N tasks' shims (each shim reads its task's cgroup files, whoever asks). Contenders:
//   - one call, N `id==` filters
//   - calls of at most 64 ids, up to 4 at once        (what the shared poller does each tick)
//   - one call, no filter (every task of the namespace)
//   - N calls of one id, all at once                  (N streams whose timers fire together)
//   - N calls of one id, one after the other          (N streams whose timers are spread over the interval)
// Rounds interleave the contenders in a rotated order. Nothing is asserted; the numbers are printed.
// Usage, with the test environment up (as root): node bench/stats-poll.mjs [tasks] [rounds]   (default 100, 20)
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { removeNamespaceCgroups } from "./lib/containerd.mjs"
import { containerdPid, cpuMs, shimPids } from "./lib/processes.mjs"

const taskCount = Number(process.argv[2] ?? 100)
const rounds = Number(process.argv[3] ?? 20)
if (!Number.isInteger(taskCount) || taskCount < 1) throw new Error(`tasks must be a positive integer, got ${process.argv[2]}`)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${process.argv[3]}`)

const address = process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock"
const image = `${process.env.TEST_REGISTRY ?? "127.0.0.1:5000"}/test/busybox:latest`
const namespace = `cdd-bench-stats-${process.pid}-${Date.now().toString(36)}`
const root = resolve(import.meta.dirname, "..")
const dir = mkdtempSync(join(tmpdir(), "cdd-bench-stats-"))
const ids = Array.from({ length: taskCount }, (_, i) => `task-${i}`)

const ctr = (...args) =>
  execFileSync("ctr", ["--address", address, "-n", namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

// ---------------------------------------------------------------------------------------------------------------

const loadClient = async () => {
  const result = await build({
    stdin: {
      contents: `export * as Containerd from "./layers/Containerd.ts"; export { Effect, ManagedRuntime } from "effect"`,
      resolveDir: root,
      loader: "ts"
    },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    write: false,
    logLevel: "warning",
    banner: { js: `import { createRequire as __benchCreateRequire } from "node:module"; const require = __benchCreateRequire(import.meta.url);` }
  })
  const file = join(dir, "stats-poll-entry.mjs")
  writeFileSync(file, result.outputFiles[0].text)
  return import(pathToFileURL(file).href)
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length

const main = async () => {
  const { Containerd, Effect, ManagedRuntime } = await loadClient()
  const runtime = ManagedRuntime.make(Containerd.layer({ address, namespace }))
  const metrics = (filters) =>
    runtime.runPromise(Effect.flatMap(Containerd.Containerd, (cd) => cd.tasks.metrics({ filters })))

  process.stderr.write(`starting ${taskCount} busybox tasks in ${namespace} ...\n`)
  ctr("images", "pull", "--plain-http", image)
  for (const id of ids) ctr("run", "-d", "--null-io", image, id, "sleep", "3600")
  const shims = shimPids(namespace)
  const containerd = containerdPid(address)
  process.stderr.write(`${shims.length} shims, containerd pid ${containerd}\n`)

  const contenders = {
    "1 call, N id filters": async () => {
      const { metrics: found } = await metrics(ids.map((id) => `id==${id}`))
      return found.length
    },
    "calls of ≤64 ids, 4 at once": async () => {
      const chunks = []
      for (let i = 0; i < ids.length; i += 64) chunks.push(ids.slice(i, i + 64))
      let n = 0
      for (let i = 0; i < chunks.length; i += 4) {
        const answers = await Promise.all(chunks.slice(i, i + 4).map((chunk) => metrics(chunk.map((id) => `id==${id}`))))
        n += answers.reduce((sum, answer) => sum + answer.metrics.length, 0)
      }
      return n
    },
    "1 call, no filter": async () => (await metrics([])).metrics.length,
    "N calls at once": async () =>
      (await Promise.all(ids.map((id) => metrics([`id==${id}`])))).reduce((n, r) => n + r.metrics.length, 0),
    "N calls in sequence": async () => {
      let n = 0
      for (const id of ids) n += (await metrics([`id==${id}`])).metrics.length
      return n
    }
  }
  const names = Object.keys(contenders)
  const results = Object.fromEntries(names.map((name) => [name, { wall: [], client: [], containerd: [], shims: [] }]))

  await contenders["1 call, N id filters"]() // warm-up: connection, first-call costs
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length])
    for (const name of order) {
      const before = { wall: performance.now(), client: process.cpuUsage(), containerd: cpuMs(containerd), shims: shims.map(cpuMs) }
      const read = await contenders[name]()
      const clientCpu = process.cpuUsage(before.client)
      const sample = results[name]
      sample.wall.push(performance.now() - before.wall)
      sample.client.push((clientCpu.user + clientCpu.system) / 1000)
      sample.containerd.push(cpuMs(containerd) - before.containerd)
      sample.shims.push(shims.reduce((sum, pid, i) => sum + cpuMs(pid) - before.shims[i], 0))
      if (read !== taskCount) throw new Error(`${name}: read ${read} of ${taskCount} tasks`)
    }
  }
  await runtime.dispose()

  const rows = names.map((name) => {
    const r = results[name]
    return {
      contender: name,
      "wall ms (median)": median(r.wall).toFixed(1),
      "client CPU ms (mean)": mean(r.client).toFixed(1),
      "containerd CPU ms (mean)": mean(r.containerd).toFixed(1),
      "shims CPU ms (mean)": mean(r.shims).toFixed(1)
    }
  })
  console.log(`Tasks.Metrics for ${taskCount} running tasks, ${rounds} rounds (CPU of containerd and shims in 10 ms clock ticks)`)
  console.table(rows)
}

try {
  await main()
} finally {
  process.stderr.write("cleaning up ...\n")
  for (const id of ids) {
    try { ctr("tasks", "kill", "-s", "SIGKILL", id) } catch {}
  }
  for (const id of ids) {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        ctr("tasks", "delete", id)
        break
      } catch (error) {
        if (String(error.stderr ?? "").includes("not found")) break
        await new Promise((done) => setTimeout(done, 100))
      }
    }
    try { ctr("containers", "delete", id) } catch {}
  }
  try { ctr("images", "rm", image) } catch {}
  // containerd's garbage collection of the image's content runs in the background: removal may need a moment.
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      execFileSync("ctr", ["--address", address, "namespaces", "rm", namespace], { stdio: "ignore" })
      removeNamespaceCgroups(namespace)
      break
    } catch {
      await new Promise((done) => setTimeout(done, 250))
    }
  }
  rmSync(dir, { recursive: true, force: true })
}
