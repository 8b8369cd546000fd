// Pull + unpack of a ~95 MB, 4-layer image from the loopback test registry, side by side with containerd's own
// client, `ctr images pull --plain-http`, alternating, each run starting from a clean namespace (image removed with
// a synchronous GC in between, not timed). Two measurements, each with its own ctr runs:
//   (b) in-process: ImageStore.pull run N times in this one process, as the long-running plugin pulls (the ImageStore
//       is built once; scripts/pull-bench-entry.ts bundled in memory). DESIGN.md's budget applies here: ≤ 1.1 × ctr.
//   (a) CLI: `containerd-driver pull` as an operator runs it, a new process per pull (includes Node start-up).
// Usage, after `npm run build` with the test environment up (as root):
//   node bench/pull.mjs [runs] [image] [--only=in-process|cli] [--timeline] [--downloads=N]
//   default 7 runs of 127.0.0.1:5000/test/big:latest; --timeline prints every in-process run's steps;
//   --downloads sets the in-process ImageStore's maxConcurrentDownloads (default: its own default).
import { build } from "esbuild"
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"

const flags = process.argv.slice(2).filter((arg) => arg.startsWith("--"))
const positional = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
const runs = Number(positional[0] ?? 7)
const image = positional[1] ?? "127.0.0.1:5000/test/big:latest"
const only = flags.find((flag) => flag.startsWith("--only="))?.slice("--only=".length)
const showTimelines = flags.includes("--timeline")
const downloads = flags.find((flag) => flag.startsWith("--downloads="))?.slice("--downloads=".length)
const address = process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock"
const snapshotter = "overlayfs"
const contentRoot = "/var/lib/containerd/io.containerd.content.v1.content/blobs"
const suffix = `${process.pid}-${Date.now().toString(36)}`
const namespaces = {
  cli: `cdd-bench-cli-${suffix}`,
  inProcess: `cdd-bench-inproc-${suffix}`,
  ctr: `cdd-bench-ctr-${suffix}`
}
const dir = mkdtempSync(join(tmpdir(), "cdd-bench-pull-"))
const config = join(dir, "plugin.json")
writeFileSync(config, JSON.stringify({ containerd_address: address, namespace: namespaces.cli, snapshotter }))

const ctr = (namespace, ...args) =>
  execFileSync("ctr", ["--address", address, "-n", namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

/** Runs a command to completion: wall time in ms and its stdout. */
const timed = (command, args) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code === 0) resolve({ ms, stdout })
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`))
    })
  })

/** Removes every image of the namespace with a synchronous GC, so blobs and snapshots are gone too. */
const clean = (namespace) => {
  for (const ref of ctr(namespace, "images", "ls", "-q").split("\n").filter(Boolean)) ctr(namespace, "images", "rm", "--sync", ref)
  const left = ctr(namespace, "content", "ls", "-q").split("\n").filter(Boolean)
  if (left.length > 0) throw new Error(`namespace ${namespace} still holds ${left.length} blobs after GC`)
}

/** A Go duration as ctr prints it ("376.127725ms", "1.2s") in ms. */
const goMillis = (text) => {
  const match = /^([\d.]+)(ms|s|µs)$/.exec(text)
  if (match === null) return Number.NaN
  return Number(match[1]) * ({ ms: 1, s: 1000, µs: 0.001 })[match[2]]
}

/** ctr prints its unpack time ("done: 376ms") after the fetch; the rest of its wall time is start-up and fetch. */
const ctrPull = async () => {
  const { ms, stdout } = await timed("ctr", ["--address", address, "-n", namespaces.ctr, "images", "pull", "--plain-http", image])
  const done = /done: (\S+)/.exec(stdout)
  return { ms, unpackMs: done === null ? Number.NaN : goMillis(done[1]) }
}

/**
 * The bench entry, bundled in memory and loaded from a file in the temp directory (not a data: URL: every stack
 * frame would then name the whole bundle, and stack traces taken during a pull would dominate the profile).
 * CommonJS dependencies (grpc-js) get a `require` for Node's built-in modules.
 */
const loadEntry = async () => {
  const result = await build({
    entryPoints: ["scripts/pull-bench-entry.ts"],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minifySyntax: true,
    write: false,
    logLevel: "warning",
    banner: { js: `import { createRequire as __benchCreateRequire } from "node:module"; const require = __benchCreateRequire(import.meta.url);` }
  })
  const file = join(dir, "pull-bench-entry.mjs")
  writeFileSync(file, result.outputFiles[0].text)
  return import(pathToFileURL(file).href)
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0] }
}
const ms = (value) => `${value.toFixed(0).padStart(5)} ms`

/** Alternates `ours` and ctr `runs` times, cleaning both namespaces after each run; returns both series. */
const alternate = async (name, ours, ourNamespace) => {
  const results = { ours: [], ctr: [] }
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ["ours", "ctr"] : ["ctr", "ours"]
    for (const tool of order) {
      const result = tool === "ours" ? await ours() : await ctrPull()
      results[tool].push(result)
      clean(tool === "ours" ? ourNamespace : namespaces.ctr)
      const detail = tool === "ctr" ? `  (ctr unpack ${result.unpackMs.toFixed(0)} ms)` : ""
      console.log(`run ${i + 1} ${(tool === "ours" ? name : "ctr").padEnd(10)} ${ms(result.ms)}${detail}`)
    }
  }
  return results
}

const summary = (title, name, results) => {
  const ours = stats(results.ours.map((r) => r.ms))
  const reference = stats(results.ctr.map((r) => r.ms))
  const ctrUnpack = stats(results.ctr.map((r) => r.unpackMs))
  const ratio = ours.median / reference.median
  console.log(`\n${title}`)
  console.log(`  ${name.padEnd(24)} median ${ms(ours.median)}  min ${ms(ours.min)}  (${runs} runs)`)
  console.log(`  ${"ctr images pull".padEnd(24)} median ${ms(reference.median)}  min ${ms(reference.min)}  (same runs; its unpack median ${ctrUnpack.median.toFixed(0)} ms)`)
  console.log(`  ratio: median ${ratio.toFixed(2)} × ctr, min ${(ours.min / reference.min).toFixed(2)} × ctr`)
  return ratio
}

/** The median run's timeline, plus when each step happened at the earliest/median over all runs. */
const printTimelines = (pulls) => {
  const byMs = [...pulls].sort((a, b) => a.ms - b.ms)
  const median = byMs[Math.floor(byMs.length / 2)]
  const steps = new Map()
  for (const pull of pulls) {
    for (const event of pull.timeline) {
      if (event.step.endsWith(" waiting")) continue
      if (!steps.has(event.step)) steps.set(event.step, [])
      steps.get(event.step).push(event.at)
    }
  }
  console.log(`  in-process steps (ms after start: median over runs, [min..max]; median run ${median.ms.toFixed(0)} ms):`)
  const rows = [...steps.entries()].map(([step, ats]) => ({ step, ...stats(ats), max: Math.max(...ats) }))
  rows.sort((a, b) => a.median - b.median)
  for (const row of rows) console.log(`    ${row.median.toFixed(0).padStart(5)}  [${row.min.toFixed(0)}..${row.max.toFixed(0)}]  ${row.step}`)
  if (showTimelines) {
    for (const [i, pull] of pulls.entries()) {
      console.log(`  run ${i + 1} (${pull.ms.toFixed(0)} ms): ${pull.timeline.filter((e) => !e.step.endsWith(" waiting")).map((e) => `${e.at.toFixed(0)} ${e.step}`).join("; ")}`)
    }
  }
}

let inProcessRatio
let puller
try {
  // Warm-up (registry, page cache), then check that nothing outside our namespaces pins the blobs.
  await ctrPull()
  const digests = ctr(namespaces.ctr, "content", "ls", "-q").split("\n").filter(Boolean)
  clean(namespaces.ctr)
  const pinned = digests.filter((digest) => existsSync(join(contentRoot, ...digest.split(":"))))
  if (pinned.length > 0) {
    console.log(`note: ${pinned.length} blobs of ${image} are held by another namespace; their downloads are skipped for every tool`)
  }

  if (only !== "cli") {
    console.log("(b) in-process: ImageStore.pull in one long-running process")
    const entry = await loadEntry()
    puller = await entry.openPuller({
      address,
      namespace: namespaces.inProcess,
      snapshotter,
      maxConcurrentDownloads: downloads === undefined ? undefined : Number(downloads)
    })
    // Warm-up pull: the plugin has pulled before (connections open, code compiled by the JIT).
    await puller.pull(image)
    clean(namespaces.inProcess)
    const results = await alternate("in-process", () => puller.pull(image), namespaces.inProcess)
    inProcessRatio = summary("(b) in-process pull (the plugin's case; budget applies)", "ImageStore.pull", results)
    printTimelines(results.ours)
    await puller.close()
    puller = undefined
  }
  if (only !== "in-process") {
    console.log("\n(a) CLI: `containerd-driver pull`, a new process per pull")
    const cli = () => timed(process.execPath, ["dist/containerd-driver.cjs", "pull", "--config", config, image])
    const results = await alternate("cli", cli, namespaces.cli)
    summary("(a) CLI pull (for information: includes Node start-up)", "containerd-driver pull", results)
  }
} finally {
  await puller?.close()
  for (const namespace of Object.values(namespaces)) {
    try {
      clean(namespace)
      ctr(namespace, "namespaces", "rm", namespace)
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true })
}
if (inProcessRatio !== undefined) {
  console.log(`\nbudget (in-process ≤ 1.1 × ctr, medians): ${inProcessRatio.toFixed(2)} × ctr: ${inProcessRatio <= 1.1 ? "within" : "OVER"}`)
}
