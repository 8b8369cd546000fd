// Soak: start, exec, stop, wait and destroy one task after another through one plugin process, as a node that runs
// short jobs all day does. Afterwards nothing of them may be left — containers, tasks, snapshots, leases, content
// ingests, mounts, shims, network namespaces, FIFOs, the generated files' dir — the plugin's open descriptors must
// be back where they were, and its resident memory flat (figure: the slope per 100 cycles).
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import { emptyNamespace } from "../support/containerdProbe.js"
import { harness } from "../support/driverHarness.js"
import { integrationEnv } from "../integration/env.js"
import { full, openFds, rssKiB, sizes, sleep, slope, writeFigures } from "./lib/soak.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`

/** FIFOs under `dir`, except logmon's (alloc/logs), which belong to the test as Nomad's. */
const fifosUnder = (dir: string): Array<string> => {
  const found: Array<string> = []
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (entry.isFIFO() && !p.includes(`${path.sep}alloc${path.sep}logs${path.sep}`)) found.push(p)
    }
  }
  walk(dir)
  return found
}

const mountsOf = (namespace: string) =>
  fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(`/${namespace}/`)).length

const shimsOf = (namespace: string) => {
  try {
    return execFileSync("pgrep", ["-f", `containerd-shim.* -namespace ${namespace} `], { encoding: "utf8" }).trim().split("\n").filter(Boolean).length
  } catch {
    return 0 // pgrep exits 1 when nothing matches
  }
}

describe("soak: start/stop/destroy cycles", () => {
  it(`${sizes.cycles} cycles leave nothing behind`, { timeout: full ? 1_200_000 : 150_000 }, async () => {
    // The plugin inherits this process's TMPDIR: a private one, so that only its own scratch files are counted.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-soak-leak-"))
    process.env["TMPDIR"] = tmp
    const h = await harness({ prefix: "cdd-soak-leak", containerdAddress: integrationEnv.containerdAddress })
    try {
      const pid = h.plugin().process.child.pid!
      const allocIds: Array<string> = []
      const generatedLeft: Array<string> = []
      const cycle = async () => {
        const t = await h.start({ config: { image: busybox, command: "sleep", args: ["600"] } })
        allocIds.push(t.alloc.id)
        const out = await h.exec(t.id, ["echo", "cycle"])
        if (out.stdout !== "cycle\n") throw new Error(`exec answered ${JSON.stringify(out)}`)
        await h.driver().stop(t.id, 100)
        const { result } = await h.driver().wait(t.id)
        if (result.signal !== 9) throw new Error(`stopped task ended ${JSON.stringify(result)}`)
        await h.driver().destroy(t.id)
        if (fs.existsSync(path.join(t.dirs.dir, "containerd-driver"))) generatedLeft.push(t.id)
        t.alloc.remove()
      }
      // One cycle first, so that the image, the connections and the plugin's caches are in place for the baseline.
      await cycle()
      await sleep(500)
      const baseline = { fds: openFds(pid), rssKiB: rssKiB(pid), mounts: mountsOf(h.namespace), fifos: fifosUnder(tmp).length }
      const rss: Array<readonly [number, number]> = [[0, baseline.rssKiB]]
      const started = Date.now()
      for (let i = 1; i <= sizes.cycles; i++) {
        await cycle()
        if (i % 10 === 0) rss.push([i, rssKiB(pid)])
      }
      const cyclesMs = Date.now() - started
      // Descriptors closed asynchronously (gRPC streams, FIFOs) get a moment to go.
      let fds = openFds(pid)
      for (let i = 0; i < 50 && fds > baseline.fds; i++) {
        await sleep(200)
        fds = openFds(pid)
      }
      const left = await h.probe.state()
      const ingests = await h.probe.run(Effect.flatMap(Containerd.Containerd, (cd) => cd.content.listStatuses({}))).then((r) => r.statuses.length)
      const netns = fs.existsSync("/var/run/netns") ? fs.readdirSync("/var/run/netns").filter((n) => allocIds.includes(n)).length : 0
      const after = {
        fds,
        mounts: mountsOf(h.namespace),
        shims: shimsOf(h.namespace),
        fifos: fifosUnder(tmp).length,
        scratchDirs: fs.readdirSync(tmp).filter((n) => n.startsWith("containerd-driver-")).length
      }
      const rssSlope = slope(rss) * 100
      // The first cycles also grow the heap to its working size; the second half shows what each cycle keeps.
      const rssSlopeSecondHalf = slope(rss.filter(([cycle]) => cycle >= sizes.cycles / 2)) * 100
      writeFigures("leak-cycles", {
        cycles: sizes.cycles,
        msPerCycle: Math.round(cyclesMs / sizes.cycles),
        leftContainers: left.containers.length,
        leftTasks: left.tasks.length,
        leftSnapshots: left.snapshots.length,
        leftLeases: left.leases.length,
        leftIngests: ingests,
        leftMounts: after.mounts - baseline.mounts,
        leftShims: after.shims,
        leftNetns: netns,
        leftFifos: after.fifos - baseline.fifos,
        leftScratchDirs: after.scratchDirs,
        leftGeneratedDirs: generatedLeft.length,
        pluginFdsBaseline: baseline.fds,
        pluginFdsAfter: fds,
        rssKiBBaseline: baseline.rssKiB,
        rssKiBAfter: rss[rss.length - 1]![1],
        rssSlopeKiBPer100Cycles: Math.round(rssSlope),
        rssSlopeSecondHalfKiBPer100Cycles: Math.round(rssSlopeSecondHalf),
        rssSamples: rss
      })
      expect(left).toEqual(emptyNamespace)
      expect({ ingests, netns, generatedLeft, ...after, fds: Math.max(0, fds - baseline.fds) }).toEqual({
        ingests: 0,
        netns: 0,
        generatedLeft: [],
        fds: 0,
        mounts: baseline.mounts,
        shims: 0,
        fifos: baseline.fifos,
        scratchDirs: 0
      })
    } finally {
      await h.dispose()
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })
})
