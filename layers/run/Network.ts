/**
 * A group's network namespace as the Nomad client makes it (hashicorp/nomad client/allocrunner/network_manager_linux.go,
 * networking_bridge_linux.go): a namespace named after the allocation (`ip netns add`, bind-mounted at
 * /var/run/netns/<alloc id>), configured by the CNI plugins of Nomad's bridge network (src/job/Cni.ts; Debian's
 * containernetworking-plugins) called directly, each with its CNI_COMMAND and config on stdin, after Nomad's
 * NOMAD-ADMIN forwarding chain; `none` gets only its loopback.
 * Released in reverse: DEL for every plugin with the ADD result, the namespace deleted; and when no allocation of
 * the bridge is left on the host, the bridge, its address reservations and the iptables chains the plugins and
 * Nomad share are removed too, so nothing is left behind. Setup and teardown of concurrent runs take turns on a
 * lock file. Also picks the host ports of a group (static ones as given, dynamic ones free on the host).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as dgram from "node:dgram"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import {
  adminChain,
  allocInterface,
  allocSubnet,
  bridgeName,
  bridgePlugins,
  type CniPlugin,
  networkName,
  nonePlugins,
  pluginInput,
  portMappings,
  resultAddress
} from "../../src/job/Cni.js"
import type { Port } from "../../src/job/Job.js"
import type { AllocatedPort } from "../../src/job/TaskEnv.js"
import { RunError } from "./RunError.js"

const netError = (message: string) => new RunError({ reason: "Network", message })

const run = (file: string, args: ReadonlyArray<string>, input?: string, env?: NodeJS.ProcessEnv): Effect.Effect<string, RunError> =>
  Effect.async<string, RunError>((resume) => {
    const child = spawn(file, args, { env: env ?? process.env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    child.on("error", (error) => resume(Effect.fail(netError(`cannot run ${file}: ${error.message}`))))
    child.on("close", (code) => {
      if (code === 0) resume(Effect.succeed(stdout))
      else resume(Effect.fail(netError(`${path.basename(file)} ${args.join(" ")} failed (exit ${code}): ${(stderr || stdout).trim()}`)))
    })
    child.stdin.on("error", () => {})
    child.stdin.end(input ?? "")
  })

const tryRun = (file: string, args: ReadonlyArray<string>) => Effect.ignore(run(file, args))

const searchPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

const which = (name: string): string | undefined => searchPath.map((d) => path.join(d, name)).find((f) => fs.existsSync(f))

const cniPath = (): ReadonlyArray<string> => (process.env["CNI_PATH"] ?? "/usr/lib/cni:/opt/cni/bin").split(":").filter((d) => d !== "")

const pluginBinary = (type: string): Effect.Effect<string, RunError> => {
  const found = cniPath().map((d) => path.join(d, type)).find((f) => fs.existsSync(f))
  return found === undefined
    ? Effect.fail(netError(`the CNI plugin ${type} is not installed in ${cniPath().join(" or ")}: install Debian's containernetworking-plugins (apt-get install containernetworking-plugins), or set CNI_PATH`))
    : Effect.succeed(found)
}

const tool = (name: string, pkg: string): Effect.Effect<string, RunError> => {
  const found = which(name)
  return found === undefined ? Effect.fail(netError(`${name} is needed for group networks: install it (apt-get install ${pkg})`)) : Effect.succeed(found)
}

// ---------------------------------------------------------------------------------------------------------------
// Taking turns with other runs

const lockFile = "/run/containerd-driver/cni.lock"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Runs `body` holding the lock file (a stale one, of a process that is gone, is taken over). */
const locked = <A, E>(body: Effect.Effect<A, E>): Effect.Effect<A, E | RunError> =>
  Effect.acquireUseRelease(
    Effect.async<void, RunError>((resume) => {
      const deadline = Date.now() + 60_000
      const attempt = () => {
        try {
          fs.mkdirSync(path.dirname(lockFile), { recursive: true })
          fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" })
          return resume(Effect.void)
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          // ENOENT: another run removed the empty lock directory meanwhile; try again.
          if (code === "ENOENT") return setTimeout(attempt, 10)
          if (code !== "EEXIST") return resume(Effect.fail(netError(`cannot take ${lockFile}: ${(error as Error).message}`)))
        }
        let holder = 0
        try {
          holder = Number(fs.readFileSync(lockFile, "utf8"))
        } catch {
          // Released meanwhile.
          return setTimeout(attempt, 10)
        }
        // Empty while its holder is still writing its pid; stale only when that process is gone.
        if (Number.isInteger(holder) && holder > 0 && !alive(holder)) fs.rmSync(lockFile, { force: true })
        if (Date.now() > deadline) return resume(Effect.fail(netError(`${lockFile} is held by process ${holder} for more than a minute`)))
        setTimeout(attempt, 50)
      }
      attempt()
    }),
    () => body,
    () =>
      Effect.sync(() => {
        fs.rmSync(lockFile, { force: true })
        removeIfEmpty(path.dirname(lockFile))
      })
  )

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

const iptables = (args: ReadonlyArray<string>) => Effect.flatMap(tool("iptables", "iptables"), (bin) => run(bin, ["-w", ...args]))

/** Nomad's ensureForwardingRules: the admin chain the firewall plugin jumps to, accepting traffic to the bridge. */
const ensureAdminChain = Effect.gen(function*() {
  yield* Effect.ignore(iptables(["-t", "filter", "-N", adminChain]))
  const rule = ["-o", bridgeName, "-d", allocSubnet, "-j", "ACCEPT"]
  const present = yield* Effect.either(iptables(["-t", "filter", "-C", adminChain, ...rule]))
  if (present._tag === "Left") yield* iptables(["-t", "filter", "-A", adminChain, ...rule])
})

const reservationsDir = `/var/lib/cni/networks/${networkName}`

/** Removes the bridge, its IPAM state and the shared chains when no allocation uses them any more. */
const releaseSharedIfUnused = Effect.gen(function*() {
  const reservations = fs.existsSync(reservationsDir)
    ? fs.readdirSync(reservationsDir).filter((f) => f !== "lock" && !f.startsWith("last_reserved_ip"))
    : []
  if (reservations.length > 0) return
  const bin = which("iptables")
  if (bin !== undefined) {
    const filter = yield* Effect.orElseSucceed(run(bin, ["-w", "-t", "filter", "-S", "CNI-FORWARD"]), () => "")
    const forwardRules = filter.split("\n").filter((l) => l.startsWith("-A CNI-FORWARD"))
    if (forwardRules.every((l) => l.includes(`-j ${adminChain}`))) {
      yield* tryRun(bin, ["-w", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules", "-j", "CNI-FORWARD"])
      for (const chain of ["CNI-FORWARD", adminChain]) {
        yield* tryRun(bin, ["-w", "-t", "filter", "-F", chain])
        yield* tryRun(bin, ["-w", "-t", "filter", "-X", chain])
      }
    }
    const dnat = yield* Effect.orElseSucceed(run(bin, ["-w", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"]), () => "")
    if (!dnat.split("\n").some((l) => l.startsWith("-A CNI-HOSTPORT-DNAT"))) {
      for (const hook of ["PREROUTING", "OUTPUT"]) {
        yield* tryRun(bin, ["-w", "-t", "nat", "-D", hook, "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"])
      }
      yield* tryRun(bin, ["-w", "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ"])
      for (const chain of ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]) {
        yield* tryRun(bin, ["-w", "-t", "nat", "-F", chain])
        yield* tryRun(bin, ["-w", "-t", "nat", "-X", chain])
      }
    }
  }
  const ip = which("ip")
  if (ip !== undefined) {
    const ports = yield* Effect.orElseSucceed(run(ip, ["-o", "link", "show", "master", bridgeName]), () => "x")
    if (ports.trim() === "") yield* tryRun(ip, ["link", "delete", bridgeName])
  }
  fs.rmSync(reservationsDir, { recursive: true, force: true })
  removeIfEmpty(path.dirname(reservationsDir))
  removeIfEmpty(path.dirname(path.dirname(reservationsDir)))
})

/** Removes a directory this made, unless something else is in it. */
const removeIfEmpty = (dir: string) => {
  try {
    fs.rmdirSync(dir)
  } catch {
    // Not empty (someone else's), or gone already.
  }
}

// ---------------------------------------------------------------------------------------------------------------

export interface GroupNamespace {
  readonly path: string
  /** The allocation's address on the bridge (bridge mode). */
  readonly address: string | undefined
  readonly interfaceName: string
}

const cniEnv = (command: "ADD" | "DEL", allocId: string, netnsPath: string): NodeJS.ProcessEnv => ({
  ...process.env,
  CNI_COMMAND: command,
  CNI_CONTAINERID: allocId,
  CNI_NETNS: netnsPath,
  CNI_IFNAME: allocInterface,
  CNI_PATH: cniPath().join(":")
})

/** Calls each plugin with ADD, feeding each the previous result; returns the final result. */
const addChain = (plugins: ReadonlyArray<CniPlugin>, allocId: string, netnsPath: string, ports: ReadonlyArray<AllocatedPort>) =>
  Effect.gen(function*() {
    let result: unknown
    for (const plugin of plugins) {
      const bin = yield* pluginBinary(plugin.type)
      const out = yield* run(bin, [], pluginInput(plugin, portMappings(ports), result), cniEnv("ADD", allocId, netnsPath))
      result = JSON.parse(out) as unknown
    }
    return result
  })

const delChain = (plugins: ReadonlyArray<CniPlugin>, allocId: string, netnsPath: string, ports: ReadonlyArray<AllocatedPort>, result: unknown) =>
  Effect.forEach([...plugins].reverse(), (plugin) =>
    Effect.flatMap(pluginBinary(plugin.type), (bin) =>
      Effect.ignore(run(bin, [], pluginInput(plugin, portMappings(ports), result), cniEnv("DEL", allocId, netnsPath)))), { discard: true })

export const groupNamespace = (
  allocId: string,
  mode: "bridge" | "none",
  ports: ReadonlyArray<AllocatedPort>
): Effect.Effect<GroupNamespace, RunError, Scope.Scope> =>
  Effect.gen(function*() {
    const ip = yield* tool("ip", "iproute2")
    const plugins = mode === "bridge" ? bridgePlugins : nonePlugins
    for (const plugin of plugins) yield* pluginBinary(plugin.type)
    const netnsPath = `/var/run/netns/${allocId}`
    const result = yield* Effect.acquireRelease(
      locked(Effect.gen(function*() {
        yield* run(ip, ["netns", "add", allocId])
        if (mode === "bridge") yield* ensureAdminChain
        return yield* addChain(plugins, allocId, netnsPath, ports).pipe(
          Effect.tapError(() => Effect.ignore(run(ip, ["netns", "delete", allocId])))
        )
      })),
      (added) =>
        Effect.ignore(locked(Effect.gen(function*() {
          yield* delChain(plugins, allocId, netnsPath, ports, added)
          yield* tryRun(ip, ["netns", "delete", allocId])
          if (mode === "bridge") yield* releaseSharedIfUnused
        })))
    )
    return { path: netnsPath, address: mode === "bridge" ? resultAddress(result) : undefined, interfaceName: allocInterface }
  })

// ---------------------------------------------------------------------------------------------------------------
// Ports

/** Nomad's default dynamic port range (client min_dynamic_port / max_dynamic_port). */
const dynamicRange = [20000, 32000] as const
const taken = new Set<number>()

const free = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => {
      server.close(() => {
        const socket = dgram.createSocket("udp4")
        socket.once("error", () => resolve(false))
        socket.bind(port, "0.0.0.0", () => socket.close(() => resolve(true)))
      })
    })
  })

/** Host ports for a group's ports: static ones as given, dynamic ones free TCP and UDP ports of Nomad's range. */
export const allocatePorts = (ports: ReadonlyArray<Port>, bridge: boolean): Effect.Effect<ReadonlyArray<AllocatedPort>, RunError> =>
  Effect.promise(async () => {
    const out: Array<AllocatedPort> = []
    for (const p of ports) {
      let value = p.static
      for (let attempt = 0; value === undefined && attempt < 200; attempt++) {
        const candidate = dynamicRange[0] + Math.floor(Math.random() * (dynamicRange[1] - dynamicRange[0]))
        if (!taken.has(candidate) && (await free(candidate))) value = candidate
      }
      if (value === undefined) return undefined
      taken.add(value)
      out.push({ label: p.label, value, to: bridge ? p.to ?? value : value })
    }
    return out
  }).pipe(Effect.flatMap((out) => (out === undefined ? Effect.fail(netError("no free dynamic port found in 20000-32000")) : Effect.succeed(out))))

/** The host address ports are advertised at: the first external IPv4 address, else loopback. */
export const hostAddress = (): string => {
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    if (name === bridgeName || name.startsWith("veth")) continue
    const v4 = addresses?.find((a) => a.family === "IPv4" && !a.internal)
    if (v4 !== undefined) return v4.address
  }
  return "127.0.0.1"
}
