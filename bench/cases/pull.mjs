// Pull + unpack of a ~95 MB, 4-layer image from the loopback test registry, side by side with containerd's own
// client, `ctr images pull --plain-http`, alternating, each run starting from a clean namespace (image removed with
// a synchronous GC in between, not timed). Two measurements, each with its own ctr runs:
//   - in-process: ImageStore.pull run N times in this one process, as the long-running plugin pulls (the ImageStore
//     is built once; scripts/pull-bench-entry.ts). The budget (docs/benchmarks.md) applies here: ≤ 1.1 × ctr (medians).
//   - cli (not part of the full run): `containerd-driver pull` as an operator runs it, a new process per pull
//     (includes Node start-up).
// The in-process timeline gives when each step happened (median over runs) for finding where the time goes.
import { existsSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { ctrIn } from "../lib/containerd.mjs"
import { timed } from "../lib/processes.mjs"
import { fmt, summarize } from "../lib/stats.mjs"

const budgetRatio = 1.1
const snapshotter = "overlayfs"
const contentRoot = "/var/lib/containerd/io.containerd.content.v1.content/blobs"

/** A Go duration as ctr prints it ("376.127725ms", "1.2s") in ms. */
const goMillis = (text) => {
  const match = /^([\d.]+)(ms|s|µs)$/.exec(text)
  if (match === null) return Number.NaN
  return Number(match[1]) * ({ ms: 1, s: 1000, µs: 0.001 })[match[2]]
}

export default {
  name: "pull",
  title: "pull + unpack of the ~95 MB, 4-layer test image vs ctr images pull",
  run: async (ctx) => {
    const runs = ctx.pullRounds ?? Math.max(3, Math.ceil(ctx.rounds / 2))
    const image = ctx.pullImage ?? `${ctx.registry}/test/big:latest`
    const modes = ctx.pullModes ?? ["in-process"]
    const namespaces = { cli: ctx.namespace("pull-cli"), inProcess: ctx.namespace("pull-inproc"), ctr: ctx.namespace("pull-ctr") }
    const ctr = (namespace) => ctrIn(ctx.address, namespace)

    /** Removes every image of the namespace with a synchronous GC, so that blobs and snapshots are gone too. */
    const clean = (namespace) => {
      for (const ref of ctr(namespace)("images", "ls", "-q").split("\n").filter(Boolean)) ctr(namespace)("images", "rm", "--sync", ref)
      const left = ctr(namespace)("content", "ls", "-q").split("\n").filter(Boolean)
      if (left.length > 0) throw new Error(`namespace ${namespace} still holds ${left.length} blobs after GC`)
    }

    /** ctr prints its unpack time ("done: 376ms") after the fetch; the rest of its wall time is start-up and fetch. */
    const ctrPull = async () => {
      const { ms, stdout } = await timed(ctx.scratch, "ctr", ["--address", ctx.address, "-n", namespaces.ctr, "images", "pull", "--plain-http", image], { withStdout: true })
      const done = /done: (\S+)/.exec(stdout)
      return { ms, unpackMs: done === null ? Number.NaN : goMillis(done[1]) }
    }

    /** Alternates `ours` and ctr `runs` times, cleaning both namespaces after each run; returns both series. */
    const alternate = async (name, ours, ourNamespace) => {
      const results = { ours: [], ctr: [] }
      for (let i = 0; i < runs; i++) {
        ctx.check()
        for (const tool of i % 2 === 0 ? ["ours", "ctr"] : ["ctr", "ours"]) {
          const result = tool === "ours" ? await ours() : await ctrPull()
          results[tool].push(result)
          clean(tool === "ours" ? ourNamespace : namespaces.ctr)
          const detail = tool === "ctr" ? `  (ctr unpack ${result.unpackMs.toFixed(0)} ms)` : ""
          console.log(`run ${i + 1} ${(tool === "ours" ? name : "ctr").padEnd(10)} ${result.ms.toFixed(0).padStart(5)} ms${detail}`)
        }
      }
      return results
    }

    /** When each step happened (ms after the start: median over runs, [min..max]), as markdown lines. */
    const timelineLines = (pulls) => {
      const steps = new Map()
      for (const pull of pulls) {
        for (const event of pull.timeline) {
          if (event.step.endsWith(" waiting")) continue
          if (!steps.has(event.step)) steps.set(event.step, [])
          steps.get(event.step).push(event.at)
        }
      }
      const rows = [...steps.entries()].map(([step, ats]) => ({ step, ...summarize(ats) }))
      rows.sort((a, b) => a.median - b.median)
      return [
        `In-process pull, when each step happened (ms after the pull started; median over ${pulls.length} runs, min–max):`,
        "",
        "| step | at (median) | min–max |",
        "| --- | ---: | ---: |",
        ...rows.map((row) => `| ${row.step} | ${fmt(row.median)} | ${fmt(row.min)}–${fmt(row.max)} |`),
        ""
      ]
    }

    const sections = []
    const section = (title, label, results, budget) => {
      const ctrLabel = "ctr images pull --plain-http"
      const ours = summarize(results.ours.map((r) => r.ms)).median
      const theirs = summarize(results.ctr.map((r) => r.ms)).median
      const ratio = ours / theirs
      const ctrUnpack = summarize(results.ctr.map((r) => r.unpackMs)).median
      return {
        title,
        reference: ctrLabel,
        rows: [
          { label, kind: "driver", unit: "ms", values: results.ours.map((r) => r.ms) },
          { label: ctrLabel, kind: "contender", unit: "ms", values: results.ctr.map((r) => r.ms) },
          { label: "ctr's own unpack step (its \"done:\" time)", kind: "derived", unit: "ms", values: results.ctr.map((r) => r.unpackMs), chart: false }
        ],
        verdicts: budget ? [{ budget: `pull ≤ ${budgetRatio} × \`${ctrLabel}\` (medians; aim ≈ 0.8 ×)`, measured: `${ratio.toFixed(2)} ×`, ok: ratio <= budgetRatio }] : [],
        chartBudget: budget ? { value: theirs * budgetRatio, label: `budget ${budgetRatio} × ctr` } : undefined,
        notes: [`\`${image}\`, ${runs} runs each, alternating, every run from an empty namespace (image removed with a synchronous GC in between, untimed); ctr fetches every layer before unpacking any (its unpack step alone: median ${fmt(ctrUnpack)} ms).`]
      }
    }

    // Warm-up (registry, page cache), then a check that nothing outside our namespaces pins the blobs.
    await ctrPull()
    const digests = ctr(namespaces.ctr)("content", "ls", "-q").split("\n").filter(Boolean)
    clean(namespaces.ctr)
    const pinned = digests.filter((digest) => existsSync(join(contentRoot, ...digest.split(":"))))
    const pinnedNote = pinned.length === 0
      ? []
      : [`**Note:** ${pinned.length} blobs of the image are held by another namespace of this containerd; their downloads were skipped for every tool alike.`]
    if (pinned.length > 0) console.log(`NOTE: ${pinned.length} blobs of ${image} are held by another namespace; their downloads are skipped for every tool`)

    if (modes.includes("in-process")) {
      const entry = await ctx.loadEntry("pull")
      const puller = await entry.openPuller({ address: ctx.address, namespace: namespaces.inProcess, snapshotter, maxConcurrentDownloads: ctx.pullDownloads })
      ctx.defer("puller", () => puller.close())
      // Warm-up pull: the plugin has pulled before (connections open, code compiled by the JIT).
      await puller.pull(image)
      clean(namespaces.inProcess)
      const results = await alternate("in-process", () => puller.pull(image), namespaces.inProcess)
      const s = section("pull + unpack, in-process as the plugin pulls", "ImageStore.pull (in-process, as the plugin)", results, true)
      s.notes.push("ImageStore.pull built once from the plugin's config and kept across pulls, as in the long-running plugin.", ...pinnedNote)
      s.details = timelineLines(results.ours)
      if (ctx.pullTimelines) {
        for (const [i, pull] of results.ours.entries()) {
          console.log(`  run ${i + 1} (${pull.ms.toFixed(0)} ms): ${pull.timeline.filter((e) => !e.step.endsWith(" waiting")).map((e) => `${e.at.toFixed(0)} ${e.step}`).join("; ")}`)
        }
      }
      sections.push(s)
    }
    if (modes.includes("cli")) {
      const config = join(ctx.scratch, "pull-plugin.json")
      writeFileSync(config, JSON.stringify({ containerd_address: ctx.address, namespace: namespaces.cli, snapshotter }))
      const cli = async () => ({ ms: await timed(ctx.scratch, process.execPath, [resolve(import.meta.dirname, "../../dist/containerd-driver.cjs"), "pull", "--config", config, image]) })
      const results = await alternate("cli", cli, namespaces.cli)
      const s = section("pull + unpack, `containerd-driver pull` (a process per pull; for information)", "containerd-driver pull (CLI)", results, false)
      s.notes.push("Includes Node's start-up in every pull. No budget.", ...pinnedNote)
      sections.push(s)
    }
    return sections
  }
}
