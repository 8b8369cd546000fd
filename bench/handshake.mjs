// Plugin start → handshake line, measured the way Nomad launches the plugin (exec with go-plugin's
// environment, piped stdio), side by side with bare `node` printing a line: the floor for any
// Node plugin. Usage: node bench/handshake.mjs [runs] (after `npm run build`). Budget: 250 ms.
import { spawn } from "node:child_process"
import { copyFileSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const runs = Number(process.argv[2] ?? 20)
const dir = mkdtempSync(join(tmpdir(), "cdd-bench-"))
const plugin = join(dir, "containerd-driver")
copyFileSync("dist/containerd-driver.cjs", plugin)

const env = {
  ...process.env,
  NOMAD_PLUGIN_MAGIC_COOKIE: "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255",
  PLUGIN_PROTOCOL_VERSIONS: "2",
  PLUGIN_MIN_PORT: "10000",
  PLUGIN_MAX_PORT: "25000"
}

const firstLine = (command, args) =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (chunk) => {
      out += chunk
      if (out.includes("\n")) {
        const ms = Number(process.hrtime.bigint() - start) / 1e6
        child.kill("SIGKILL")
        resolve(ms)
      }
    })
    child.on("error", reject)
    child.on("exit", (code) => { if (!out.includes("\n")) reject(new Error(`exited ${code} before a line`)) })
  })

const measure = async (name, command, args) => {
  const times = []
  for (let i = 0; i < runs; i++) times.push(await firstLine(command, args))
  times.sort((a, b) => a - b)
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1)
  console.log(`${name.padEnd(28)} median ${at(0.5)} ms  p90 ${at(0.9)} ms  min ${at(0)} ms  (${runs} runs)`)
  return Number(at(0.5))
}

await measure("node -e 'console.log(1)'", process.execPath, ["-e", "console.log(1)"])
const median = await measure("containerd-driver handshake", plugin, [])
console.log(`budget 250 ms: ${median <= 250 ? "within" : "OVER"}`)
