// Child processes the benchmarks time, and what /proc says about the processes they watch (CPU time, RSS).
import { execFileSync, spawn } from "node:child_process"
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"

let logCount = 0
/**
 * Runs a command to completion, timed from spawn to exit (ms). Its stderr goes to a file in `dir`, not a pipe:
 * `runc run -d` hands its stdio to the container, which would otherwise hold the pipe open as long as it runs.
 * Rejects with the command's stderr when it fails. With `withStdout`, resolves with `{ ms, stdout }`.
 */
export const timed = (dir, file, args, { withStdout = false } = {}) =>
  new Promise((resolve, reject) => {
    const log = join(dir, `child-${process.pid}-${logCount++}.log`)
    const fd = openSync(log, "w")
    const started = process.hrtime.bigint()
    const child = spawn(file, args, { stdio: ["ignore", withStdout ? "pipe" : "ignore", fd] })
    closeSync(fd)
    let stdout = ""
    child.stdout?.on("data", (chunk) => (stdout += chunk))
    child.on("error", (error) => {
      rmSync(log, { force: true })
      reject(error)
    })
    child.on("exit", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      const stderr = readFileSync(log, "utf8")
      rmSync(log, { force: true })
      if (code === 0) resolve(withStdout ? { ms, stdout } : ms)
      else reject(new Error(`${file} ${args.join(" ")} exited ${code ?? signal}: ${stderr.slice(-2000)}`))
    })
  })

/** Milliseconds since `started` (a process.hrtime.bigint()). */
export const since = (started) => Number(process.hrtime.bigint() - started) / 1e6

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
export const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())

/** A process's CPU time (user + system, all its threads) in ms; 0 once it is gone. */
export const cpuMs = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
  } catch {
    return 0
  }
}

/** A process's resident set size in MB (VmRSS). */
export const rssMb = (pid) => {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) / 1024
}

const processTable = () =>
  readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map((pid) => {
    try {
      return { pid: Number(pid), cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0") }
    } catch {
      return { pid: Number(pid), cmdline: [] }
    }
  })

/** The containerd daemon serving `address`. */
export const containerdPid = (address) => {
  const found = processTable().find(({ cmdline }) =>
    cmdline[0]?.endsWith("containerd") && (cmdline.includes(address) || !cmdline.includes("--address"))
  )
  if (found === undefined) throw new Error(`no containerd process serving ${address}`)
  return found.pid
}

/** The shims of a containerd namespace's tasks (runc v2: one per container, started with `-namespace <ns>`). */
export const shimPids = (namespace) =>
  processTable().filter(({ cmdline }) => cmdline[0]?.includes("containerd-shim") && cmdline.includes(namespace)).map(({ pid }) => pid)
