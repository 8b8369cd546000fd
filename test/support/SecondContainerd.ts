/**
 * A second, private containerd (own socket, root and state, no CRI) that a test can start and stop
 * at will, to watch the plugin cope with containerd appearing, disappearing and coming back.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface SecondContainerd {
  readonly socket: string
  readonly start: () => Promise<void>
  readonly stop: () => Promise<void>
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
  const stop = async () => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((r) => running.once("exit", r))
    running.kill("SIGTERM")
    await exited
  }
  return {
    socket,
    start: async () => {
      child = spawn("containerd", ["--config", config], { stdio: "ignore" })
      for (let i = 0; i < 100 && !answers(); i++) await new Promise((r) => setTimeout(r, 50))
      if (!answers()) throw new Error(`containerd did not come up on ${socket}`)
    },
    stop,
    dispose: async () => {
      await stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
