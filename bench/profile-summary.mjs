// Where a plugin's CPU time went, from a `.cpuprofile` (`node bench/run.mjs --cpu-prof=dir` or `node --cpu-prof`):
// self time summed per source module — the bundle's `// path` markers (esbuild writes one before each module) map
// every frame back to its module (a build with them: BUNDLE_READABLE=1 npm run build) — and per function. Usage:
//   node bench/profile-summary.mjs <file.cpuprofile> [--top=N] [--bundle=path] [--window=from-to]
// --bundle names a copy of the profiled bundle when its file is gone (the run's scratch dir is removed);
// --window keeps the samples between two CLOCK_MONOTONIC times in µs (process.hrtime, the profile's clock), as the
// fleet case prints them for its stats window.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const args = process.argv.slice(2)
const file = args.find((a) => !a.startsWith("--"))
const top = Number(args.find((a) => a.startsWith("--top="))?.slice(6) ?? 25)
if (file === undefined || !Number.isInteger(top)) {
  console.error("usage: node bench/profile-summary.mjs <file.cpuprofile> [--top=N] [--bundle=path] [--window=from-to]")
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, "utf8"))

/** For each bundle file: the sorted line numbers of its module markers and their paths. */
const markers = new Map()
const markersOf = (url) => {
  if (!url.startsWith("file://") && !url.startsWith("/")) return undefined
  if (!markers.has(url)) {
    let lines = []
    try {
      const path = url.startsWith("file://") ? fileURLToPath(url) : url
      const override = args.find((a) => a.startsWith("--bundle="))?.slice(9)
      const text = readFileSync(override ?? path, "latin1")
      // The built file is a launcher with the bundle in a comment (scripts/launcher.cjs), compiled on its own: the
      // profile's line numbers count from the bundle's start.
      const marker = "/*" + "PLUGIN\n"
      const start = text.indexOf(marker)
      lines = (start < 0 ? text : text.slice(start + marker.length, text.lastIndexOf("\n*/"))).split("\n")
    } catch {
      // the bundle was removed with the run's scratch dir: --bundle names a copy
    }
    const found = []
    lines.forEach((line, i) => {
      const m = /^\/\/ ((?:node_modules|src|layers|test|scripts)\/\S+)$/.exec(line)
      if (m !== null) found.push({ line: i, module: m[1] })
    })
    markers.set(url, found)
  }
  return markers.get(url)
}
const moduleOf = ({ url, lineNumber }) => {
  if (url === "") return "(native / V8)"
  const found = markersOf(url)
  if (found === undefined || found.length === 0) return url.startsWith("node:") ? url : url.replace(/^file:\/\//, "")
  let low = 0
  let high = found.length - 1
  let best = "(bundle prelude)"
  while (low <= high) {
    const mid = (low + high) >> 1
    if (found[mid].line <= lineNumber) {
      best = found[mid].module
      low = mid + 1
    } else high = mid - 1
  }
  return best
}

const window = args.find((a) => a.startsWith("--window="))?.slice(9).split("-").map(Number)
const [from, to] = window ?? [profile.startTime, profile.endTime]
if (!(from < to)) throw new Error("--window must be from-to, two µs times, from < to")

// Self time per node: each sample stands for the time until the next one; only samples inside the window count.
const selfMs = new Map()
const { nodes, samples, timeDeltas } = profile
let at = profile.startTime
for (let i = 0; i < samples.length; i++) {
  at += timeDeltas[i] ?? 0
  const ms = (timeDeltas[i + 1] ?? 0) / 1000
  if (at >= from && at < to) selfMs.set(samples[i], (selfMs.get(samples[i]) ?? 0) + ms)
}
const total = (Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1000
const byModule = new Map()
const byFunction = new Map()
for (const node of nodes) {
  const ms = selfMs.get(node.id) ?? 0
  if (ms === 0) continue
  const module = node.callFrame.functionName === "(idle)" ? "(idle)" : moduleOf(node.callFrame)
  byModule.set(module, (byModule.get(module) ?? 0) + ms)
  const fn = `${node.callFrame.functionName || "(anonymous)"} — ${module}:${node.callFrame.lineNumber + 1}`
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms)
}
const print = (title, map) => {
  console.log(`\n${title}`)
  for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(1).padStart(9)} ms ${((ms / total) * 100).toFixed(1).padStart(5)} %  ${name}`)
  }
}
// Each sample also charged to the innermost frame of the project's own code on its stack (src/, layers/): which of
// our functions the library and runtime time was spent for.
const parent = new Map()
for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node)
const byId = new Map(nodes.map((node) => [node.id, node]))
const byOwnCode = new Map()
for (const [id, ms] of selfMs) {
  let node = byId.get(id)
  if (node.callFrame.functionName === "(idle)") continue
  let owner = "(no project frame on the stack)"
  while (node !== undefined) {
    const module = moduleOf(node.callFrame)
    if (/^(src|layers)\//.test(module)) {
      owner = `${node.callFrame.functionName || "(anonymous)"} — ${module}:${node.callFrame.lineNumber + 1}`
      break
    }
    node = parent.get(node.id)
  }
  byOwnCode.set(owner, (byOwnCode.get(owner) ?? 0) + ms)
}

console.log(`${file}: ${total.toFixed(0)} ms profiled`)
print("self time by module", byModule)
print("self time by function", byFunction)
print("time by the innermost project function on the stack (src/, layers/)", byOwnCode)
