/**
 * `containerd-driver run` under test: the built executable started as a user starts it, with a plugin config on a
 * namespace of its own, its output collected, an optional SIGINT (Ctrl-C) once the output shows something, and
 * what a run must leave behind afterwards checked: no container or snapshot of its allocations in containerd, no
 * network namespace, no iptables rule naming them, and nothing in its temporary directory.
 */
import { spawn } from "node:child_process"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { uniqueNamespace } from "./containerdContract.js"
import { type ContainerdProbe, containerdProbe } from "./containerdProbe.js"
import { builtPlugin } from "./PluginProcess.js"

export interface RunOutcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** The allocation ids the run reported (from its task directories). */
  readonly allocIds: ReadonlyArray<string>
  /** Milliseconds from the SIGINT to the exit, when one was sent. */
  readonly stopMs: number | undefined
  /** The run's TMPDIR (its allocation directories go there). */
  readonly tmpdir: string
}

export interface RunOptions {
  readonly args: ReadonlyArray<string>
  /** Sends SIGINT once the combined output satisfies this; a second one after `forceAfterMs` if given. */
  readonly interruptWhen?: (output: string) => boolean
  readonly forceAfterMs?: number
  /** Called with the output so far whenever it grows (e.g. to reach a port the run printed). */
  readonly onOutput?: (output: string) => void
  readonly env?: Record<string, string>
  readonly timeoutMs?: number
}

export interface RunHarness {
  readonly namespace: string
  readonly configFile: string
  readonly probe: ContainerdProbe
  readonly run: (options: RunOptions) => Promise<RunOutcome>
  /** What of the run's allocations is left anywhere; all empty when it cleaned up. */
  readonly leftovers: (outcome: RunOutcome) => Promise<Record<string, ReadonlyArray<string>>>
  readonly dispose: () => Promise<void>
}

/** Runs started at once: each is two Node processes and its containers, on a machine of two cores. */
const maxParallelRuns = 3
let running = 0
const queue: Array<() => void> = []
const slot = async (): Promise<() => void> => {
  if (running >= maxParallelRuns) await new Promise<void>((resolve) => queue.push(resolve))
  running++
  return () => {
    running--
    queue.shift()?.()
  }
}

const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g

export const runHarness = (containerdAddress: string, prefix: string): RunHarness => {
  if (!fs.existsSync(builtPlugin)) throw new Error(`${builtPlugin} is missing: run npm run build first`)
  const namespace = uniqueNamespace(prefix)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-run-test-"))
  const configFile = path.join(dir, "plugin.json")
  fs.writeFileSync(configFile, JSON.stringify({ containerd_address: containerdAddress, namespace }))
  const probe = containerdProbe(containerdAddress, namespace)
  const runOnce = (options: RunOptions): Promise<RunOutcome> =>
    new Promise((resolve, reject) => {
      const tmp = fs.mkdtempSync(path.join(dir, "tmp-"))
      const child = spawn(process.execPath, [builtPlugin, "run", "--config", configFile, ...options.args], {
        env: { ...process.env, TMPDIR: tmp, ...options.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      let interruptedAt: number | undefined
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new Error(`run did not end within ${options.timeoutMs ?? 90_000} ms; stdout:\n${stdout}\nstderr:\n${stderr}`))
      }, options.timeoutMs ?? 90_000)
      const check = () => {
        options.onOutput?.(stdout + stderr)
        if (interruptedAt === undefined && options.interruptWhen?.(stdout + stderr)) {
          interruptedAt = Date.now()
          child.kill("SIGINT")
          if (options.forceAfterMs !== undefined) setTimeout(() => child.kill("SIGINT"), options.forceAfterMs)
        }
      }
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString("utf8")
        check()
      })
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString("utf8")
        check()
      })
      child.on("exit", (code) => {
        clearTimeout(timer)
        const allocIds = [...new Set([...stderr.matchAll(/Building Task Directory \(([^)]+)\)/g)].flatMap((m) => m[1]!.match(uuid) ?? []))]
        resolve({ code, stdout, stderr, allocIds, stopMs: interruptedAt === undefined ? undefined : Date.now() - interruptedAt, tmpdir: tmp })
      })
    })
  return {
    namespace,
    configFile,
    probe,
    run: async (options) => {
      const release = await slot()
      try {
        return await runOnce(options)
      } finally {
        release()
      }
    },
    leftovers: async (outcome) => {
      const state = await probe.state()
      const mentions = (list: ReadonlyArray<string>) => list.filter((x) => outcome.allocIds.some((id) => x.includes(id)))
      const netns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").filter((l) => outcome.allocIds.some((id) => l.includes(id)))
      // Per-allocation rules name the allocation (bridge, portmap) or its address (firewall).
      const addresses = [...outcome.stderr.matchAll(/allocation address ([\d.]+)\)/g)].map((m) => `${m[1]}/32`)
      const rules = execFileSync("iptables-save", [], { encoding: "utf8" })
        .split("\n")
        .filter((l) => [...outcome.allocIds, ...addresses].some((id) => l.includes(id)))
      const files = fs.readdirSync(outcome.tmpdir).map((f) => path.join(outcome.tmpdir, f))
      return { containers: mentions(state.containers), tasks: mentions(state.tasks), snapshots: mentions(state.snapshots), netns, rules, files }
    },
    dispose: async () => {
      try {
        await probe.clean()
      } finally {
        await probe.dispose()
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

export const nothingLeft = { containers: [], tasks: [], snapshots: [], netns: [], rules: [], files: [] }
