// Plugin start → handshake line, measured the way Nomad launches the plugin (exec of the file in plugin_dir with
// go-plugin's environment, piped stdio), interleaved with bare `node` printing a line: the floor for any Node plugin.
// Budget: 250 ms (median). Every start after the first uses the V8 code cache the first one wrote
// (scripts/launcher.cjs); a start without it (a new version's first) is measured too.
import { spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { since } from "../lib/processes.mjs"
import { fmt, summarize } from "../lib/stats.mjs"

const budgetMs = 250

/** Spawn → first line on stdout (ms); the process is killed then, or `lingerMs` later. */
const firstLine = (command, args, env, lingerMs = 0) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stderr.on("data", (chunk) => (err += chunk))
    child.stdout.on("data", (chunk) => {
      out += chunk
      if (out.includes("\n")) {
        const ms = since(started)
        setTimeout(() => {
          child.kill("SIGKILL")
          resolve(ms)
        }, lingerMs)
      }
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      if (!out.includes("\n")) reject(new Error(`${command} exited ${code} before a line: ${err.slice(-2000)}`))
    })
  })

export default {
  name: "handshake",
  title: "plugin start → handshake line, beside bare node",
  run: async (ctx) => {
    const runs = ctx.handshakeRuns ?? ctx.rounds * 2
    const dir = ctx.driver.pluginDir()
    ctx.defer("plugin dir", () => rmSync(dir, { recursive: true, force: true }))
    // Its socket goes into the plugin dir, removed with it (the process is SIGKILLed after the handshake).
    const cacheDir = `${dir}/code-cache`
    const env = ctx.driver.nomadEnv({ PLUGIN_UNIX_SOCKET_DIR: dir, CONTAINERD_DRIVER_CODE_CACHE: cacheDir })
    // A path under a file: the launcher can neither read nor write a cache there.
    const noCacheEnv = { ...env, CONTAINERD_DRIVER_CODE_CACHE: "/dev/null/no-code-cache" }
    const contenders = [
      { label: "containerd-driver handshake", kind: "driver", command: `${dir}/containerd-driver`, args: [], env },
      { label: "node -e 'console.log(1)'", kind: "floor", command: process.execPath, args: ["-e", "console.log(1)"], env },
      { label: "containerd-driver handshake, no code cache (a new version's first start)", kind: "driver", command: `${dir}/containerd-driver`, args: [], env: noCacheEnv }
    ]
    const samples = new Map(contenders.map((c) => [c.label, []]))
    // Warm-up: the page cache, and the plugin's code cache (written 2 s after a start, as when Nomad first runs it).
    await firstLine(contenders[0].command, [], env, 3000)
    for (const contender of contenders) await firstLine(contender.command, contender.args, contender.env)
    for (let round = 0; round < runs; round++) {
      ctx.check()
      const order = [0, 1, 2].map((i) => contenders[(i + round) % 3])
      for (const contender of order) samples.get(contender.label).push(await firstLine(contender.command, contender.args, contender.env))
    }
    const median = summarize(samples.get(contenders[0].label)).median
    console.log(`handshake median ${fmt(median)} ms, node ${fmt(summarize(samples.get(contenders[1].label)).median)} ms (${runs} runs each)`)
    return [{
      title: "plugin start → handshake line",
      reference: contenders[1].label,
      rows: contenders.map((c) => ({ label: c.label, kind: c.kind, unit: "ms", values: samples.get(c.label) })),
      verdicts: [{ budget: `handshake ≤ ${budgetMs} ms (median)`, measured: `${fmt(median)} ms`, ok: median <= budgetMs }],
      chartBudget: { value: budgetMs, label: `budget ${budgetMs} ms` },
      notes: [`The built plugin exec'd from a plugin_dir with go-plugin's environment, as Nomad launches it, timed to its handshake line on stdout; interleaved with bare \`node\` printing one line, ${runs} runs each. Starts use the V8 code cache a first start wrote (scripts/launcher.cjs); the row without it is a new version's first start.`]
    }]
  }
}
