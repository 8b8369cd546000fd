/**
 * A second, private containerd (own socket, root and state, no CRI) that a test can start, stop or SIGKILL at
 * will and start again on the same state, to watch the plugin cope with containerd appearing, disappearing, crashing
 * and coming back. Never the test environment's containerd: other tests on this machine share that one.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface SecondContainerd {
  readonly socket: string
  readonly start: () => Promise<void>
  /** SIGTERM; resolves once the process is gone. */
  readonly stop: () => Promise<void>
  /** SIGKILL, as the OOM killer or a crash ends it; resolves once the process is gone. */
  readonly kill: () => Promise<void>
  readonly dispose: () => Promise<void>
}

export const secondContainerd = (): SecondContainerd => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-ctd-"))
  const socket = path.join(dir, "containerd.sock")
  const config = path.join(dir, "config.toml")
  fs.writeFileSync(
    config,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${socket}.ttrpc"`
    ].join("\n")
  )
  let child: ChildProcess | undefined
  const answers = () => {
    try {
      execFileSync("ctr", ["--address", socket, "version"], { stdio: "ignore", timeout: 2000 })
      return true
    } catch {
      return false
    }
  }
  const end = async (signal: NodeJS.Signals) => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise((r) => running.once("exit", r))
    running.kill(signal)
    await exited
  }
  return {
    socket,
    start: async () => {
      child = spawn("containerd", ["--config", config], { stdio: "ignore" })
      for (let i = 0; i < 200 && !answers(); i++) await new Promise((r) => setTimeout(r, 50))
      if (!answers()) throw new Error(`containerd did not come up on ${socket}`)
    },
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    dispose: async () => {
      await end("SIGTERM")
      // A shim or mount left by a failed test must not keep the directory: unmount what is under it first.
      const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4])
        .filter((m): m is string => m !== undefined && m.startsWith(dir))
      for (const m of mounts.reverse()) {
        try {
          execFileSync("umount", ["-l", m], { stdio: "ignore" })
        } catch {
          // already gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
