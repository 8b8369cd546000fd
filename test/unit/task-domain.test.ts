// The pure parts of the task lifecycle (src/task): signal names, exit results, the driver_state codec, and
// the mapping of Nomad's TaskConfig message onto the spec input.
import { it } from "@effect/vitest"
import { encode as encodeMsgpack } from "@msgpack/msgpack"
import { Either, FastCheck as fc } from "effect"
import * as os from "node:os"
import { describe, expect } from "vitest"
import { NetworkIsolationSpec_NetworkIsolationMode } from "../../src/gen/plugins/drivers/proto/driver.js"
import { type DriverState, decodeDriverState, encodeDriverState } from "../../src/task/DriverState.js"
import { fromExitStatus } from "../../src/task/ExitResult.js"
import { nomadTaskFromProto } from "../../src/task/NomadTask.js"
import { invalidSignalMessage, signalNumber } from "../../src/task/Signals.js"
import { containerId } from "../../src/task/TaskIdentity.js"
import { taskConfig } from "../support/nomadTask.js"

describe("signal names", () => {
  it("agree with this platform's signal numbers for every standard name (Node's table as the oracle)", () => {
    const names = Object.entries(os.constants.signals).filter(([name]) => !/^SIGRT/.test(name))
    expect(names.length).toBeGreaterThan(25)
    for (const [name, number] of names) {
      expect(signalNumber(name), name).toBe(number)
      expect(signalNumber(name.slice(3).toLowerCase()), name).toBe(number)
    }
  })

  it("takes numbers and real-time signals as Docker's STOPSIGNAL does, and nothing else", () => {
    expect(signalNumber("9")).toBe(9)
    expect(signalNumber("SIGRTMIN")).toBe(34)
    expect(signalNumber("SIGRTMIN+3")).toBe(37)
    expect(signalNumber("RTMAX-1")).toBe(63)
    for (const bad of ["", "0", "65", "SIGNOPE", "SIGRTMIN+31", "SIGRTMAX+1", "TERM9", "-15"]) {
      expect(signalNumber(bad), bad).toBeUndefined()
    }
    expect(invalidSignalMessage("INVALID")).toBe("Invalid signal: INVALID")
  })
})

describe("exit results", () => {
  it("report a signal death as Nomad's executor does: exit code 128 + N with signal N", () => {
    expect(fromExitStatus(0, false)).toEqual({ exitCode: 0, signal: 0, oomKilled: false, err: "" })
    expect(fromExitStatus(3, false)).toEqual({ exitCode: 3, signal: 0, oomKilled: false, err: "" })
    expect(fromExitStatus(137, false)).toEqual({ exitCode: 137, signal: 9, oomKilled: false, err: "" })
    expect(fromExitStatus(143, false).signal).toBe(15)
    expect(fromExitStatus(128, false).signal).toBe(0)
    expect(fromExitStatus(255, false).signal).toBe(0)
    expect(fromExitStatus(137, true)).toEqual({ exitCode: 137, signal: 9, oomKilled: true, err: "OOM Killed" })
  })
})

const stateArbitrary: fc.Arbitrary<DriverState> = fc.record({
  version: fc.constant(1 as const),
  namespace: fc.string(),
  containerId: fc.string(),
  snapshotter: fc.string(),
  snapshotKey: fc.string(),
  image: fc.string(),
  imageDigest: fc.string(),
  startedAt: fc.integer({ min: 0, max: 2 ** 45 }),
  stopSignal: fc.string(),
  generatedDir: fc.string()
})

describe("driver_state", () => {
  it.prop("decodes to what was encoded", [stateArbitrary], ([state]) => {
    expect(decodeDriverState(encodeDriverState(state))).toEqual(Either.right({ _tag: "Current", state }))
  })

  it("reads the original Go driver's handle state", () => {
    const startedAt = new Date("2024-05-01T12:00:00.000Z")
    const bytes = encodeMsgpack({ StartedAt: startedAt, ContainerName: "redis-1234", StdoutPath: "/a", StderrPath: "/b" })
    expect(decodeDriverState(bytes)).toEqual(
      Either.right({
        _tag: "Legacy",
        state: { containerName: "redis-1234", startedAt: startedAt.getTime(), stdoutPath: "/a", stderrPath: "/b" }
      })
    )
  })

  it("refuses other versions and damaged bytes with a message", () => {
    const other = new TextEncoder().encode(JSON.stringify({ version: 2, namespace: "nomad" }))
    for (const bytes of [other, new Uint8Array([0xc1]), new TextEncoder().encode("{not json"), new Uint8Array()]) {
      const decoded = decodeDriverState(bytes)
      expect(Either.isLeft(decoded)).toBe(true)
      if (Either.isLeft(decoded)) expect(decoded.left.message).toMatch(/driver state/)
    }
  })
})

describe("container ids", () => {
  it("keep the original driver's names when containerd accepts them", () => {
    expect(containerId(1, "a1b2", "redis")).toBe("redis-a1b2")
    expect(containerId(2, "a1b2", "redis")).toBe("a1b2.redis.scope")
  })

  it.prop("are always valid containerd identifiers, and distinct task names give distinct ids", [
    fc.uuid(),
    fc.string({ minLength: 1, maxLength: 120 }),
    fc.string({ minLength: 1, maxLength: 120 }),
    fc.constantFrom(1 as const, 2 as const)
  ], ([alloc, a, b, cgroup]) => {
    const id = containerId(cgroup, alloc, a)
    // containerd's identifiers package: alphanumerics joined by single '.', '_' or '-', at most 76 characters.
    expect(id).toMatch(/^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/)
    expect(id.length).toBeLessThanOrEqual(76)
    if (a !== b) expect(containerId(cgroup, alloc, b)).not.toBe(id)
  })
})

describe("Nomad's TaskConfig as spec input", () => {
  it("carries resources as numbers, the group network with its hosts entry, DNS and mounts", () => {
    const config = taskConfig({
      alloc: { id: "a1", dir: "/var/lib/nomad/alloc/a1" },
      task: { name: "web" },
      config: { image: "busybox" },
      cpu: 500,
      memoryMB: 256,
      memoryMaxMB: 512,
      user: "nobody",
      network: { path: "/var/run/netns/a1", hostname: "web-1", address: "172.26.64.5" },
      dns: { servers: ["10.0.0.2"], searches: ["corp"], options: ["ndots:2"] },
      mounts: [{ taskPath: "/data", hostPath: "/srv/data", readonly: true, propagationMode: "private", selinuxLabel: "", requestName: "" }]
    })
    const nomad = nomadTaskFromProto(config)
    expect(nomad.resources).toMatchObject({ cpu_shares: 500, memory_mb: 256, memory_max_mb: 512 })
    expect(nomad.resources.linux.memory_limit_bytes).toBe(512 * 2 ** 20)
    expect(nomad.network_isolation_spec).toEqual({
      mode: "group",
      path: "/var/run/netns/a1",
      hostsConfig: { hostname: "web-1", address: "172.26.64.5" }
    })
    expect(nomad.dns).toEqual({ servers: ["10.0.0.2"], searches: ["corp"], options: ["ndots:2"] })
    expect(nomad.mounts).toEqual([{ task_path: "/data", host_path: "/srv/data", readonly: true, propagation_mode: "private" }])
    expect(nomad.user).toBe("nobody")
    expect(nomad.env["NOMAD_TASK_NAME"]).toBe("web")
    const hostMode = nomadTaskFromProto({
      ...config,
      networkIsolationSpec: { mode: NetworkIsolationSpec_NetworkIsolationMode.HOST, path: "", labels: {}, hostsConfig: undefined },
      dns: undefined
    })
    expect(hostMode.network_isolation_spec).toEqual({ mode: "host", path: "" })
    expect(hostMode.dns).toBeUndefined()
  })

  it("carries every Linux resource field and the devices; an empty namespace is Nomad's default one", () => {
    const base = taskConfig({ alloc: { id: "a1", dir: "/var/lib/nomad/alloc/a1" }, task: { name: "web" }, config: { image: "busybox" } })
    const nomad = nomadTaskFromProto({
      ...base,
      namespace: "",
      resources: {
        allocatedResources: { cpu: { cpuShares: 750n }, memory: { memoryMb: 128n, memoryMaxMb: 192n }, networks: [] },
        linuxResources: {
          cpuPeriod: 100000n,
          cpuQuota: 50000n,
          cpuShares: 760n,
          memoryLimitBytes: 201326592n,
          oomScoreAdj: 0n,
          cpusetCpus: "2-3",
          PercentTicks: 0.25,
          cpusetCgroup: "/nomad/reserve"
        },
        ports: []
      },
      devices: [{ taskPath: "/dev/gpu0", hostPath: "/dev/nvidia0", cgroupPermissions: "rw" }]
    })
    expect(nomad.namespace).toBe("default")
    expect(nomad.resources).toEqual({
      cpu_shares: 750,
      memory_mb: 128,
      memory_max_mb: 192,
      linux: {
        cpu_shares: 760,
        memory_limit_bytes: 201326592,
        cpuset_cpus: "2-3",
        cpuset_cgroup: "/nomad/reserve",
        cpu_period: 100000,
        cpu_quota: 50000,
        PercentTicks: 0.25
      }
    })
    expect(nomad.devices).toEqual([{ task_path: "/dev/gpu0", host_path: "/dev/nvidia0", cgroup_permissions: "rw" }])
    expect(nomadTaskFromProto({ ...base, namespace: "team-a" }).namespace).toBe("team-a")
  })

  it("reads absent resource messages as zero, and an unknown network mode as host", () => {
    const base = taskConfig({ alloc: { id: "a1", dir: "/var/lib/nomad/alloc/a1" }, task: { name: "web" }, config: { image: "busybox" } })
    const nomad = nomadTaskFromProto({
      ...base,
      resources: undefined,
      networkIsolationSpec: { mode: 99 as NetworkIsolationSpec_NetworkIsolationMode, path: "/var/run/netns/x", labels: {}, hostsConfig: undefined }
    })
    expect(nomad.resources).toEqual({
      cpu_shares: 0,
      memory_mb: 0,
      memory_max_mb: 0,
      linux: { cpu_shares: 0, memory_limit_bytes: 0, cpuset_cpus: "", cpuset_cgroup: "", cpu_period: 0, cpu_quota: 0, PercentTicks: 0 }
    })
    expect(nomad.network_isolation_spec).toEqual({ mode: "host", path: "/var/run/netns/x" })
    const partial = nomadTaskFromProto({ ...base, resources: { allocatedResources: undefined, linuxResources: undefined, ports: [] } })
    expect(partial.resources.memory_mb).toBe(0)
    expect(partial.resources.linux.cpuset_cgroup).toBe("")
  })
})
