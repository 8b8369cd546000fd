// The operator's policy through the built plugin on the real containerd, with example/hardened-plugin-config.json
// as the plugin config: every route from a task to the host is refused for the tasks of ordinary Nomad namespaces —
// StartTask fails, not recoverable, with the option, its value and the setting named, and nothing is left in
// containerd — while what the policy allows runs, and the `infra` namespace, whose namespace_policy block reopens
// the routes, gets them back (and only it: `infra-2` does not match the block). Then allow-lists with globs, a glob
// namespace_policy block, and extra_labels on a second node.
import { Effect } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Containerd } from "../../layers/Containerd.js"
import type { TaskHandle } from "../../src/gen/plugins/drivers/proto/driver.js"
import { knownCapabilities } from "../../src/oci/Capabilities.js"
import { containerOf, failureOf, type Harness, harness, type StartRequest } from "../support/driverHarness.js"
import { capability, capabilityBits, statusField } from "../support/procStatus.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const sleeper = { image: busybox, command: "sleep", args: ["600s"] }

const hardened = JSON.parse(
  fs.readFileSync(fileURLToPath(new URL("../../example/hardened-plugin-config.json", import.meta.url)), "utf8")
) as Record<string, unknown>

let h: Harness
/** Tasks this file started with StartTask itself (in a Nomad namespace of its choice); destroyed at the end. */
const own = new Set<string>()

beforeAll(async () => {
  // The JSON form is what `doctor --config` reads; Nomad hands the agent's blocks over as lists of maps.
  const asNomadHandsIt = {
    ...hardened,
    volumes: [hardened["volumes"]],
    namespace_policy: Object.entries(hardened["namespace_policy"] as Record<string, Record<string, unknown>>).map(
      ([label, block]) => ({ [label]: [{ ...block, volumes: [block["volumes"]] }] })
    ),
    gc: [{ ...(hardened["gc"] as object), dangling_containers: [(hardened["gc"] as Record<string, unknown>)["dangling_containers"]] }]
  }
  h = await harness({ prefix: "cdd-policy", containerdAddress: integrationEnv.containerdAddress, pluginConfig: asNomadHandsIt })
})

afterAll(async () => {
  await Promise.all([...own].map((id) => h?.driver().destroy(id).catch(() => {})))
  await h?.dispose()
})

/** Allocations whose task was refused: nothing of them may be left in containerd. */
const refusedAllocs = new Set<string>()

/** StartTask of a task in the Nomad namespace `namespace`. */
const startIn = async (namespace: string, request: StartRequest) => {
  const { alloc, config, dirs } = h.prepare(request)
  own.add(config.id)
  const handle = await h.driver().start({ ...config, namespace }).catch((error: unknown) => {
    refusedAllocs.add(alloc.id)
    throw error
  })
  return { id: config.id, handle, dirs }
}

const refusal = async (namespace: string, config: Record<string, unknown>) => {
  const failure = await failureOf(startIn(namespace, { config }))
  expect(failure.recoverable).toBe(false)
  return failure.message
}

const capEff = async (id: string) => capabilityBits(statusField((await h.exec(id, ["cat", "/proc/1/status"])).stdout, "CapEff"))

describe.concurrent("a hardened node", () => {
  it("refuses each route to the host for an ordinary namespace, naming option, value and setting, and leaves nothing", async () => {
    const routes: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
      [{ privileged: true }, /Running privileged jobs are not allowed\. Set allow_privileged to true in plugin config/],
      [{ cap_add: ["ALL"] }, /cap_add "ALL" is not allowed: .*allow_caps = \[.*\] in the plugin config/],
      [{ cap_add: ["sys_admin"] }, /cap_add "sys_admin" is not allowed: CAP_SYS_ADMIN is not in allow_caps = .* in the plugin config/],
      [
        { mounts: [{ type: "bind", source: "/", target: "/host", options: ["rbind", "rw"] }] },
        /mounts: binding the host path "\/" at "\/host" is not allowed: volumes\.enabled = false in the plugin config/
      ],
      [{ pid_mode: "host" }, /pid_mode = "host" is not allowed: allow_host_pid = false in the plugin config/],
      [{ host_network: true }, /host_network = true is not allowed: allow_host_network = false in the plugin config/],
      [{ devices: ["/dev/zero"] }, /devices "\/dev\/zero" is not allowed: it matches none of allowed_devices = \[\] in the plugin config/],
      [{ runtime: "runc" }, /runtime "runc" is not allowed: it matches none of allow_runtimes = \[\] in the plugin config/],
      [{ seccomp: false }, /seccomp = false is not allowed: allow_seccomp_unconfined = false in the plugin config/]
    ]
    for (const [options, message] of routes) {
      for (const namespace of ["default", "infra-2"]) {
        expect(await refusal(namespace, { ...sleeper, ...options })).toMatch(message)
      }
    }
    const left = await h.probe.state()
    expect(refusedAllocs.size).toBe(routes.length * 2)
    expect([...left.containers, ...left.snapshots].filter((name) => [...refusedAllocs].some((alloc) => name.includes(alloc)))).toEqual([])
  })

  it("runs what the policy allows, confined: the default set without NET_RAW, seccomp on, a relative bind", async () => {
    const task = await startIn("default", {
      config: {
        ...sleeper,
        cap_add: ["chown"],
        mounts: [{ type: "bind", source: "local/app.conf", target: "/etc/app.conf", options: ["rbind", "ro"] }]
      },
      files: { "local/app.conf": "setting = 1\n" }
    })
    const caps = await capEff(task.id)
    expect(caps.has(capability.NET_RAW)).toBe(false)
    expect(caps.has(capability.CHOWN)).toBe(true)
    expect(caps.has(capability.SYS_ADMIN)).toBe(false)
    expect(statusField((await h.exec(task.id, ["cat", "/proc/1/status"])).stdout, "Seccomp")).toBe("2")
    expect((await h.exec(task.id, ["cat", "/etc/app.conf"])).stdout).toBe("setting = 1\n")
  })

  it("gives the infra namespace what its namespace_policy block reopens", async () => {
    const privileged = await startIn("infra", { config: { ...sleeper, privileged: true } })
    // Every capability the plugin process holds (the test runs as root).
    expect((await capEff(privileged.id)).size).toBeGreaterThanOrEqual(knownCapabilities.length - 3)
    const host = await startIn("infra", {
      config: {
        ...sleeper,
        pid_mode: "host",
        host_network: true,
        cap_add: ["ALL"],
        seccomp: false,
        devices: ["/dev/zero"],
        runtime: "runc",
        mounts: [{ type: "bind", source: "/etc", target: "/host-etc", options: ["rbind", "ro"] }]
      }
    })
    // The host's PID namespace: pid 1 is the host's init, not the task's sleep.
    expect((await h.exec(host.id, ["cat", "/proc/1/comm"])).stdout).not.toBe("sleep\n")
    expect(statusField((await h.exec(host.id, ["cat", "/proc/self/status"])).stdout, "Seccomp")).toBe("0")
    expect((await h.exec(host.id, ["cat", "/host-etc/hostname"])).exitCode).toBe(0)
    expect((await h.exec(host.id, ["ls", "/dev/zero"])).exitCode).toBe(0)
  })
})

describe("allow-lists with globs, and a namespace_policy glob", () => {
  it("admit what matches and refuse the rest; the team-* block applies to team-a only", async () => {
    const g = await harness({
      prefix: "cdd-policy-globs",
      containerdAddress: integrationEnv.containerdAddress,
      pluginConfig: {
        allowed_devices: ["/dev/ze*"],
        allow_runtimes: ["ru?c"],
        allow_caps: ["chown", "kill", "setuid", "setgid", "sys_time"],
        namespace_policy: [{ "team-*": [{ allowed_devices: [] }] }],
        extra_labels: ["job_*"]
      }
    })
    const started: Array<string> = []
    const start = async (namespace: string, config: Record<string, unknown>) => {
      const { config: task } = g.prepare({ config })
      started.push(task.id)
      handles.set(task.id, await g.driver().start({ ...task, namespace }))
      return task.id
    }
    const handles = new Map<string, TaskHandle>()
    try {
      const id = await start("default", { ...sleeper, devices: ["/dev/zero"], runtime: "runc", cap_add: ["sys_time"] })
      const { container } = await g.probe.run(Effect.flatMap(Containerd, (cd) => cd.containers.get({ id: containerOf(handles.get(id)!) })))
      expect(Object.keys(container?.labels ?? {}).filter((l) => l.startsWith("com.hashicorp.nomad.")).sort()).toEqual([
        "com.hashicorp.nomad.alloc_id",
        "com.hashicorp.nomad.job_id",
        "com.hashicorp.nomad.job_name"
      ])
      const caps = capabilityBits(statusField((await g.exec(id, ["cat", "/proc/1/status"])).stdout, "CapEff"))
      // sys_time (25) added; the default set cut down to allow_caps: no NET_RAW, no MKNOD (27).
      expect([...caps].sort((a, b) => a - b)).toEqual([0, 5, 6, 7, 25])
      expect((await g.exec(id, ["ls", "/dev/zero"])).exitCode).toBe(0)

      const refused = async (namespace: string, config: Record<string, unknown>) =>
        (await failureOf(start(namespace, { ...sleeper, ...config }))).message
      expect(await refused("default", { devices: ["/dev/null"] })).toContain(
        "devices \"/dev/null\" is not allowed: it matches none of allowed_devices = [\"/dev/ze*\"] in the plugin config"
      )
      expect(await refused("default", { runtime: "crun" })).toContain("runtime \"crun\" is not allowed")
      expect(await refused("default", { cap_add: ["net_admin"] })).toContain("CAP_NET_ADMIN is not in allow_caps")
      expect(await refused("team-a", { devices: ["/dev/zero"] })).toContain(
        "allowed_devices = [] in namespace_policy \"team-*\" (the task's Nomad namespace is \"team-a\")"
      )
      // team-a keeps the node's other settings.
      await start("team-a", { ...sleeper, runtime: "runc" })
    } finally {
      await Promise.all(started.map((id) => g.driver().destroy(id).catch(() => {})))
      await g.dispose()
    }
  })
})
