// The built plugin as a Nomad client runs it: copied into a plugin_dir, launched with go-plugin's environment,
// configured (SetConfig with the plugin block encoded as Nomad encodes it, then Init) on the case's own containerd
// namespace. With --cpu-prof the plugin runs under `node --cpu-prof` and writes its profile when it exits gracefully.
import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { since } from "./processes.mjs"

/**
 * `{ launched, calls, pid, stderr, relaunch, crash, shutdown }`; `relaunch` (after `crash`) starts a new process
 * in the same plugin_dir and configures it, and resolves with `{ handshakeMs, readyMs }` from its spawn.
 * `env` adds to the plugin's environment (e.g. GRPC_TRACE).
 */
export const openPlugin = async (ctx, { namespace, profileName, env = {} }) => {
  const { driver: entry } = ctx
  const dir = entry.pluginDir()
  // --plugin: another build in place of dist's.
  if (ctx.pluginFile !== undefined) {
    copyFileSync(ctx.pluginFile, join(dir, "containerd-driver"))
    chmodSync(join(dir, "containerd-driver"), 0o755)
  }
  if (ctx.cpuProfDir !== undefined) {
    // Node refuses --cpu-prof in NODE_OPTIONS: the plugin file becomes a wrapper that runs the bundle with it.
    const profiles = join(ctx.cpuProfDir, profileName)
    mkdirSync(profiles, { recursive: true })
    const plugin = join(dir, "containerd-driver")
    renameSync(plugin, join(dir, "containerd-driver.cjs"))
    writeFileSync(plugin, `#!/bin/sh\nexec "${process.execPath}" --cpu-prof --cpu-prof-dir="${profiles}" "${join(dir, "containerd-driver.cjs")}" "$@"\n`, { mode: 0o755 })
  }
  // The socket goes into the plugin_dir too: a plugin that is SIGKILLed leaves it there, removed with the dir.
  const pluginEnv = entry.nomadEnv({
    PLUGIN_UNIX_SOCKET_DIR: dir,
    ...(ctx.nodeOptions === undefined ? {} : { NODE_OPTIONS: ctx.nodeOptions }),
    ...env
  })
  let launched
  let calls

  const start = async () => {
    const started = process.hrtime.bigint()
    launched = await entry.launch(dir, pluginEnv)
    const handshakeMs = since(started)
    calls = entry.driverCalls(launched.driver)
    try {
      await entry.unary(launched.base, launched.base.setConfig, {
        msgpackConfig: Buffer.from(entry.pluginConfigBytes({ containerd_address: ctx.address, namespace })),
        pluginApiVersion: "v0.1.0",
        nomadConfig: { driver: { ClientMaxPort: 14512, ClientMinPort: 14000 } }
      })
      await entry.unary(launched.driver, launched.driver.init, {})
    } catch (error) {
      throw new Error(`the plugin refused its configuration: ${error.message}; stderr: ${launched.stderr().slice(-2000)}`)
    }
    return { handshakeMs, readyMs: since(started) }
  }

  const gone = () => launched.child.exitCode !== null || launched.child.signalCode !== null
  let closed = false
  await start().catch((error) => {
    launched?.close()
    rmSync(dir, { recursive: true, force: true })
    throw error
  })
  return {
    get launched() {
      return launched
    },
    get calls() {
      return calls
    },
    get pid() {
      return launched.child.pid
    },
    stderr: () => launched.stderr(),
    relaunch: start,
    /** SIGKILL, as a crash; resolves once the process is gone. */
    crash: async () => {
      if (!gone()) launched.child.kill("SIGKILL")
      await launched.exited
      launched.close()
    },
    /** SIGTERM, the plugin's graceful stop (with --cpu-prof, Node writes the profile as it exits). */
    shutdown: async () => {
      if (closed) return
      closed = true
      if (!gone()) {
        launched.child.kill("SIGTERM")
        const exited = await Promise.race([launched.exited.then(() => true), sleep(10_000).then(() => false)])
        if (!exited) console.error("the plugin did not exit within 10 s of SIGTERM; killing it")
      }
      launched.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
