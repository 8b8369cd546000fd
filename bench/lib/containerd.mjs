// containerd beside the driver: its own client (`ctr`), its events (containerd's own timestamps of every step, the
// driver's and ctr's alike), and what a benchmark namespace leaves outside containerd's metadata (cgroups).
import { execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync, realpathSync, rmdirSync } from "node:fs"
import { join } from "node:path"
import { fmt, summarize } from "./stats.mjs"

/** `ctr` in one namespace, to completion; its stdout. */
export const ctrIn = (address, namespace) => (...args) =>
  execFileSync("ctr", ["--address", address, "-n", namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 26 })

/** containerd's view of a namespace's tasks: id → status (RUNNING, STOPPED, ...). */
export const taskStatuses = (ctr) =>
  new Map(ctr("tasks", "ls").split("\n").slice(1).filter(Boolean).map((line) => {
    const [id, , status] = line.trim().split(/\s+/)
    return [id, status]
  }))

/** Fails unless containerd has exactly `count` tasks in the namespace, all RUNNING. */
export const expectRunning = (ctr, count, what) => {
  const tasks = taskStatuses(ctr)
  const running = [...tasks.values()].filter((status) => status === "RUNNING").length
  if (tasks.size !== count || running !== count) {
    throw new Error(`${what}: expected ${count} RUNNING task(s) in containerd, found ${tasks.size} (${running} running): ${JSON.stringify([...tasks].slice(0, 5))}`)
  }
  return [...tasks.keys()]
}

/**
 * A task's cgroup is /<namespace>/<container> (src/oci/DefaultSpec.ts); runc removes the container's, the
 * namespace's stays, empty: one directory per v1 hierarchy, or one on v2. Removed at the end of a case.
 */
export const removeNamespaceCgroups = (namespace) => {
  const root = "/sys/fs/cgroup"
  const hierarchies = existsSync(join(root, "cgroup.controllers")) ? [root] : readdirSync(root).map((name) => join(root, name))
  // v1 controllers mounted together appear under several names (cpu, cpuacct → cpu,cpuacct): one directory each.
  const dirs = [...new Set(hierarchies.map((hierarchy) => join(realpathSync(hierarchy), namespace)))].filter((dir) => existsSync(dir))
  const failed = []
  for (const dir of dirs) {
    try {
      rmdirSync(dir)
    } catch (error) {
      failed.push(`${dir}: ${error.code ?? error.message}`)
    }
  }
  if (failed.length > 0) throw new Error(`cgroups of namespace ${namespace} not removed: ${failed.join(", ")}`)
}

/** `ctr events` of one namespace from now on: `{ at, topic, id }` with containerd's timestamps (ms). */
export const watchEvents = (address, namespace) => {
  const child = spawn("ctr", ["--address", address, "events"], { stdio: ["ignore", "pipe", "ignore"] })
  let text = ""
  child.stdout.on("data", (chunk) => (text += chunk))
  const events = () => {
    const parsed = []
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
      parsed.push({ at: Date.parse(`${m[1]}T${m[2]}Z`) + Number(m[3] ?? 0) * 1000, topic: m[5], id })
    }
    return parsed
  }
  return { events, stop: () => child.kill("SIGTERM") }
}

const spans = [
  ["snapshot prepared → container created", "/snapshot/prepare", "/containers/create"],
  ["container created → task created (Tasks.Create: shim, runc create)", "/containers/create", "/tasks/create"],
  ["task created → task started (Tasks.Start)", "/tasks/create", "/tasks/start"]
]

/**
 * The containerd-side steps of each case's containers, from containerd's events: a markdown table of median
 * (p10–p90) ms per step. `caseOf` maps a container id to its case; containers of no case are left out.
 */
export const eventSpansTable = (events, caseOf, caseNames) => {
  const byContainer = new Map()
  for (const event of events) {
    if (!byContainer.has(event.id)) byContainer.set(event.id, {})
    byContainer.get(event.id)[event.topic] ??= event.at
  }
  const lines = [
    `| case | ${spans.map(([title]) => title).join(" | ")} | containers |`,
    `| --- | ${spans.map(() => "---:").join(" | ")} | ---: |`
  ]
  for (const name of caseNames) {
    const containers = [...byContainer].filter(([id]) => caseOf.get(id) === name).map(([, topics]) => topics)
    const cells = spans.map(([, from, to]) => {
      const values = containers.filter((t) => t[from] !== undefined && t[to] !== undefined).map((t) => t[to] - t[from])
      if (values.length === 0) return "–"
      const s = summarize(values)
      return `${fmt(s.median)} (${fmt(s.p10)}–${fmt(s.p90)})`
    })
    lines.push(`| ${name} | ${cells.join(" | ")} | ${containers.length} |`)
  }
  return lines
}
