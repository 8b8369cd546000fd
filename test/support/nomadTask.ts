/**
 * What a Nomad client prepares around a task before it calls the driver (Nomad's task runner hooks: task dir,
 * logmon): the allocation and task directories, logmon's log FIFOs (created, and read by the test as logmon would),
 * the task environment, and the TaskConfig message with the job's config block encoded exactly as Nomad encodes
 * it. Shared by the unit tests (FakeContainerd) and the integration tests (the built plugin, real containerd).
 */
import { execFileSync } from "node:child_process"
import { randomBytes, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { driverOptions } from "../../src/config/DriverConfig.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { nomadTaskEnv } from "../../src/config/NomadClient.js"
import { taskOptions } from "../../src/config/TaskConfig.js"
import {
  type DNSConfig,
  type Mount,
  NetworkIsolationSpec_NetworkIsolationMode,
  type TaskConfig
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { encodeLikeNomad } from "./NomadCty.js"

/** The plugin config block as Nomad encodes it for SetConfig. */
export const pluginConfigBytes = (config: Record<string, unknown> = {}): Uint8Array =>
  encodeLikeNomad(hclSpec(driverOptions), config)

/** A task's config block as the Nomad client encodes it for StartTask. */
export const taskConfigBytes = (config: Record<string, unknown>): Uint8Array => encodeLikeNomad(hclSpec(taskOptions), config)

/** A FIFO read continuously, as logmon reads a task's stdout or stderr. */
export interface LogReader {
  readonly path: string
  /** Everything read so far. */
  readonly text: () => string
  /** Resolves once the text read so far satisfies `predicate`; rejects after `ms`. */
  readonly waitFor: (predicate: (text: string) => boolean, ms?: number) => Promise<string>
  readonly close: () => void
}

export const readFifo = (file: string): LogReader => {
  if (!fs.existsSync(file)) execFileSync("mkfifo", ["-m", "0600", file])
  let text = ""
  const waiters = new Set<() => void>()
  const open = () => {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    const socket = new net.Socket({ fd, readable: true, writable: false })
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8")
      for (const waiter of waiters) waiter()
    })
    socket.on("error", () => {})
    return socket
  }
  // A reader sees end-of-file whenever the last writer closes (a task exited, a shim went away); logmon keeps
  // reading the same FIFO for the next writer, and so does this.
  let socket = open()
  let closed = false
  const reopen = () => {
    if (closed) return
    socket = open()
    socket.on("end", reopen)
  }
  socket.on("end", reopen)
  return {
    path: file,
    text: () => text,
    waitFor: (predicate, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(text)) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve(text)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`${path.basename(file)}: not seen within ${ms} ms; read so far: ${JSON.stringify(text.slice(-2000))}`))
        }, ms)
        waiters.add(check)
        check()
      }),
    close: () => {
      closed = true
      socket.destroy()
    }
  }
}

export interface Allocation {
  readonly id: string
  readonly dir: string
  /**
   * Creates a task's directories and log FIFOs (read from now on) like Nomad's task dir and logmon hooks; the
   * same ones for every start attempt of the task.
   */
  readonly task: (name: string) => TaskDirs
  readonly remove: () => void
}

export interface TaskDirs {
  readonly name: string
  readonly dir: string
  readonly stdout: LogReader
  readonly stderr: LogReader
}

/** An allocation directory as Nomad builds it (alloc/{logs,tmp,data}, and per task local, secrets, tmp). */
export const makeAllocation = (root: string = os.tmpdir()): Allocation => {
  const id = randomUUID()
  const dir = fs.mkdtempSync(path.join(root, "cdd-alloc-"))
  for (const sub of ["alloc/logs", "alloc/tmp", "alloc/data"]) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o777 })
  // A task's dirs and logmon are set up once per allocation and kept across restarts of the task.
  const tasks = new Map<string, TaskDirs>()
  return {
    id,
    dir,
    task: (name) => {
      const known = tasks.get(name)
      if (known !== undefined) return known
      const taskDir = path.join(dir, name)
      for (const sub of ["local", "secrets", "tmp"]) fs.mkdirSync(path.join(taskDir, sub), { recursive: true, mode: 0o777 })
      const stdout = readFifo(path.join(dir, "alloc/logs", `.${name}.stdout.fifo`))
      const stderr = readFifo(path.join(dir, "alloc/logs", `.${name}.stderr.fifo`))
      const dirs = { name, dir: taskDir, stdout, stderr }
      tasks.set(name, dirs)
      return dirs
    },
    remove: () => {
      for (const { stderr, stdout } of tasks.values()) {
        stdout.close()
        stderr.close()
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface TaskRequest {
  readonly alloc: Pick<Allocation, "id" | "dir">
  readonly task: Pick<TaskDirs, "name"> & { readonly stdout?: Pick<LogReader, "path">; readonly stderr?: Pick<LogReader, "path"> }
  /** The job's `config { ... }` block. */
  readonly config: Record<string, unknown>
  readonly job?: string
  readonly group?: string
  /** Task `env { ... }`. */
  readonly env?: Record<string, string>
  readonly user?: string
  readonly cpu?: number
  readonly memoryMB?: number
  readonly memoryMaxMB?: number
  readonly mounts?: ReadonlyArray<Mount>
  /** A group network namespace (bridge mode): its path, and the hosts entry Nomad supplies. */
  readonly network?: { readonly path: string; readonly hostname?: string; readonly address?: string }
  readonly dns?: DNSConfig
}

/** The TaskConfig message a Nomad client sends for one start attempt (a new task id each time). */
export const taskConfig = (request: TaskRequest): TaskConfig => {
  const job = request.job ?? "example"
  const group = request.group ?? "group"
  const cpu = request.cpu ?? 100
  const memoryMB = request.memoryMB ?? 300
  const memoryMaxMB = request.memoryMaxMB ?? 0
  return {
    id: `${request.alloc.id}/${request.task.name}/${randomBytes(4).toString("hex")}`,
    name: request.task.name,
    msgpackDriverConfig: Buffer.from(taskConfigBytes(request.config)),
    env: nomadTaskEnv({ job, group, task: request.task.name, allocId: request.alloc.id, cpu, memoryMB, memoryMaxMB, env: request.env ?? {} }),
    deviceEnv: {},
    resources: {
      allocatedResources: {
        cpu: { cpuShares: BigInt(cpu) },
        memory: { memoryMb: BigInt(memoryMB), memoryMaxMb: BigInt(memoryMaxMB) },
        networks: []
      },
      linuxResources: {
        cpuPeriod: 0n,
        cpuQuota: 0n,
        cpuShares: BigInt(cpu),
        memoryLimitBytes: BigInt(Math.max(memoryMB, memoryMaxMB) * 2 ** 20),
        oomScoreAdj: 0n,
        cpusetCpus: "",
        PercentTicks: cpu / (os.availableParallelism() * 1000),
        cpusetCgroup: ""
      },
      ports: []
    },
    mounts: [...(request.mounts ?? [])],
    devices: [],
    user: request.user ?? "",
    allocDir: request.alloc.dir,
    stdoutPath: request.task.stdout?.path ?? "",
    stderrPath: request.task.stderr?.path ?? "",
    taskGroupName: group,
    jobName: job,
    allocId: request.alloc.id,
    networkIsolationSpec: request.network === undefined
      ? undefined
      : {
        mode: NetworkIsolationSpec_NetworkIsolationMode.GROUP,
        path: request.network.path,
        labels: {},
        hostsConfig: request.network.hostname === undefined
          ? undefined
          : { hostname: request.network.hostname, address: request.network.address ?? "" }
      },
    dns: request.dns,
    jobId: job,
    namespace: "default",
    nodeName: os.hostname(),
    nodeId: "9f1c6a2e-0000-4000-8000-000000000001",
    parentJobId: ""
  }
}
