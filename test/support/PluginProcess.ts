/**
 * Launches the built plugin exactly as a Nomad client does (hashicorp/nomad helper/pluginutils/loader,
 * hashicorp/go-plugin client.go): the file copied into a plugin_dir under its plugin name, exec'd without a shell,
 * the agent's environment plus go-plugin's variables, piped stdio; then dials the socket from the handshake line.
 */
import * as grpc from "@grpc/grpc-js"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BasePluginClient } from "../../src/gen/plugins/base/proto/base.js"
import { DriverClient } from "../../src/gen/plugins/drivers/proto/driver.js"
import { GRPCControllerClient } from "../../src/gen/plugin/grpc_controller.js"
import { HealthClient } from "../../src/gen/grpc/health/v1/health.js"

export const builtPlugin = path.resolve("dist/containerd-driver.cjs")

export const nomadEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  NOMAD_PLUGIN_MAGIC_COOKIE: "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255",
  PLUGIN_PROTOCOL_VERSIONS: "2",
  PLUGIN_MIN_PORT: "10000",
  PLUGIN_MAX_PORT: "25000",
  ...extra
})

/** A plugin_dir holding the built plugin as `containerd-driver`, like an operator installs it. */
export const pluginDir = (): string => {
  if (!fs.existsSync(builtPlugin)) throw new Error(`${builtPlugin} is missing: run npm run build first`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-plugins-"))
  fs.copyFileSync(builtPlugin, path.join(dir, "containerd-driver"))
  fs.chmodSync(path.join(dir, "containerd-driver"), 0o755)
  return dir
}

export interface Launched {
  readonly child: ChildProcessWithoutNullStreams
  readonly handshake: string
  readonly socketPath: string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  readonly base: BasePluginClient
  readonly driver: DriverClient
  readonly controller: GRPCControllerClient
  readonly health: HealthClient
  readonly close: () => void
}

export const launch = (dir: string, env: NodeJS.ProcessEnv = nomadEnv()): Promise<Launched> =>
  new Promise((resolve, reject) => {
    const child = spawn(path.join(dir, "containerd-driver"), [], { env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    const timer = setTimeout(() => reject(new Error(`no handshake within 10 s; stderr: ${stderr}`)), 10_000)
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("exit", (code) => {
      if (!stdout.includes("\n")) reject(new Error(`plugin exited ${code} before the handshake; stderr: ${stderr}`))
    })
    child.stdout.on("data", (chunk) => {
      const first = !stdout.includes("\n")
      stdout += chunk
      if (!first || !stdout.includes("\n")) return
      clearTimeout(timer)
      const handshake = stdout.slice(0, stdout.indexOf("\n"))
      const [core, app, network, address, protocol] = handshake.split("|")
      if (core !== "1" || app !== "2" || network !== "unix" || protocol !== "grpc" || !address) {
        return reject(new Error(`unexpected handshake ${JSON.stringify(handshake)}`))
      }
      const target = `unix://${address}`
      const creds = grpc.credentials.createInsecure()
      const base = new BasePluginClient(target, creds)
      const driver = new DriverClient(target, creds)
      const controller = new GRPCControllerClient(target, creds)
      const health = new HealthClient(target, creds)
      resolve({
        child,
        handshake,
        socketPath: address,
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        base,
        driver,
        controller,
        health,
        close: () => {
          for (const c of [base, driver, controller, health]) c.close()
          if (child.exitCode === null) child.kill("SIGKILL")
        }
      })
    })
  })

/** A unary call as a promise (typed from the generated client's full overload). */
export const unary = <Req, Res>(
  client: grpc.Client,
  method: (
    request: Req,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, res: Res) => void
  ) => unknown,
  request: Req
): Promise<Res> =>
  new Promise((resolve, reject) =>
    method.call(client, request, new grpc.Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res)))
  )

/** Resolves with the milliseconds the process took to exit, or rejects after `ms`. */
export const exitWithin = (launched: Launched, ms: number): Promise<number> => {
  const start = Date.now()
  return Promise.race([
    launched.exited.then(() => Date.now() - start),
    new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms))
  ])
}
