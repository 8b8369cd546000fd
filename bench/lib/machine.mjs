// The machine and versions a run measured on, for the report: results only compare within one run on one machine.
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os"
import { resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const run = (file, args) => {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: root }).trim()
  } catch {
    return "unknown"
  }
}

export const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(" ")

/** Markdown bullet lines describing the machine, the daemons' versions and the driver's commit. */
export const describeMachine = (address) => {
  const os = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "Linux"
  const server = /Server:\s*\n\s*Version:\s*(\S+)/.exec(run("ctr", ["--address", address, "version"]))?.[1] ?? "unknown"
  const runc = run("runc", ["--version"]).split("\n")[0]
  const commit = run("git", ["rev-parse", "--short", "HEAD"])
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"]) === "" ? "" : " (with uncommitted changes)"
  return [
    `- CPU: ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? "unknown"}; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- OS: ${os}, Linux ${release()}, cgroup ${existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : "v1"}`,
    `- containerd ${server}; ${runc}; ctr ${run("ctr", ["--version"]).replace(/^ctr (github.com\/containerd\/containerd )?/, "")}`,
    `- Node ${process.version}; containerd-driver at ${commit}${dirty}`
  ]
}
