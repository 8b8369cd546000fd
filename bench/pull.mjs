// Pull + unpack of a ~95 MB, 4-layer image from the loopback test registry: `containerd-driver pull` side by side
// with containerd's own client, `ctr images pull --plain-http`, alternating, each run starting from a clean
// namespace (image removed with a synchronous GC in between). Budget (DESIGN.md): ≤ 1.1 × ctr.
// Usage, after `npm run build` with the test environment up (as root):
//   node bench/pull.mjs [runs] [image]      default 7 runs of 127.0.0.1:5000/test/big:latest
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const runs = Number(process.argv[2] ?? 7)
const image = process.argv[3] ?? "127.0.0.1:5000/test/big:latest"
const address = process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock"
const contentRoot = "/var/lib/containerd/io.containerd.content.v1.content/blobs"
const suffix = `${process.pid}-${Date.now().toString(36)}`
const namespaces = { driver: `cdd-bench-driver-${suffix}`, ctr: `cdd-bench-ctr-${suffix}` }
const dir = mkdtempSync(join(tmpdir(), "cdd-bench-pull-"))
const config = join(dir, "plugin.json")
writeFileSync(config, JSON.stringify({ containerd_address: address, namespace: namespaces.driver, snapshotter: "overlayfs" }))

const ctr = (namespace, ...args) =>
  execFileSync("ctr", ["--address", address, "-n", namespace, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const timed = (command, args) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code === 0) resolve(ms)
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`))
    })
  })

/** Removes every image of the namespace with a synchronous GC, so blobs and snapshots are gone too. */
const clean = (namespace) => {
  for (const ref of ctr(namespace, "images", "ls", "-q").split("\n").filter(Boolean)) ctr(namespace, "images", "rm", "--sync", ref)
  const left = ctr(namespace, "content", "ls", "-q").split("\n").filter(Boolean)
  if (left.length > 0) throw new Error(`namespace ${namespace} still holds ${left.length} blobs after GC`)
}

/** Layer blobs another namespace keeps in containerd's shared store would not be downloaded again: say so. */
const blobsHeldElsewhere = (namespace) =>
  ctr(namespace, "content", "ls", "-q").split("\n").filter(Boolean)

const tools = {
  driver: () => timed(process.execPath, ["dist/containerd-driver.cjs", "pull", "--config", config, image]),
  ctr: () => timed("ctr", ["--address", address, "-n", namespaces.ctr, "images", "pull", "--plain-http", image])
}

const results = { driver: [], ctr: [] }
try {
  // Warm-up (registry and page cache), then check that nothing outside our namespaces pins the blobs.
  await tools.ctr()
  const digests = blobsHeldElsewhere(namespaces.ctr)
  clean(namespaces.ctr)
  const pinned = digests.filter((digest) => existsSync(join(contentRoot, ...digest.split(":"))))
  if (pinned.length > 0) {
    console.log(`warning: ${pinned.length} blobs of ${image} are held by another namespace; downloads are skipped for both tools`)
  }
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ["driver", "ctr"] : ["ctr", "driver"]
    for (const tool of order) {
      const ms = await tools[tool]()
      results[tool].push(ms)
      clean(namespaces[tool])
      console.log(`run ${i + 1} ${tool.padEnd(6)} ${ms.toFixed(0).padStart(6)} ms`)
    }
  }
} finally {
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

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0] }
}
const driver = stats(results.driver)
const reference = stats(results.ctr)
const ratio = driver.median / reference.median
console.log(`containerd-driver pull   median ${driver.median.toFixed(0)} ms  min ${driver.min.toFixed(0)} ms  (${runs} runs)`)
console.log(`ctr images pull          median ${reference.median.toFixed(0)} ms  min ${reference.min.toFixed(0)} ms  (${runs} runs)`)
console.log(`ratio (median) ${ratio.toFixed(2)} × ctr; min ratio ${(driver.min / reference.min).toFixed(2)}; budget 1.1: ${ratio <= 1.1 ? "within" : "OVER"}`)
