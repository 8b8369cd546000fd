// The original Go driver's eleven end-to-end scenarios (its tests/0NN-test-*.sh, run there through a Nomad agent)
// and its runnable examples (hello, signal), reproduced through the built plugin's Driver RPCs on the real
// containerd. Adapted to the offline test images: busybox applets instead of redis/ubuntu/capsh, capability masks
// read from /proc/1/status, the private image of the loopback registry, Nomad's volume and DNS data written into
// the TaskConfig as the client writes them, and a second plugin process for the plugin option.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failureOf, type Harness, harness } from "../support/driverHarness.js"
import { capability, capabilityBits, memoryLimits, statusField } from "../support/procStatus.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const sleeper = { image: busybox, command: "sleep", args: ["600s"] }

let h: Harness

beforeAll(async () => {
  h = await harness({ prefix: "cdd-orig", containerdAddress: integrationEnv.containerdAddress })
})

afterAll(async () => {
  await h?.dispose()
})

const lines = (text: string) => text.split("\n").filter((l) => l !== "")

describe.concurrent("the original driver's end-to-end scenarios", () => {
  it("001 redis: hostname, seccomp, cwd and the memory limits of memory and memory_max", async () => {
    const task = await h.start({
      config: { ...sleeper, hostname: "foobar", seccomp: true, cwd: "/home/redis" },
      cpu: 500,
      memoryMB: 256,
      memoryMaxMB: 512
    })
    expect(await h.exec(task.id, ["pwd"])).toMatchObject({ stdout: "/home/redis\n", exitCode: 0 })
    expect(await h.exec(task.id, ["hostname"])).toMatchObject({ stdout: "foobar\n", exitCode: 0 })
    const status = await h.exec(task.id, ["cat", "/proc/1/status"])
    expect(statusField(status.stdout, "Seccomp")).toBe("2")
    const { pid } = await h.probe.task(task.containerId)
    expect(memoryLimits(pid)).toEqual({ limit: String(512 * 2 ** 20), reservation: String(256 * 2 ** 20) })
    await h.driver().stop(task.id, 1000)
    expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 137, signal: 9 })
    await h.driver().destroy(task.id)
  })

  it("002 signal handler (and the signal example): an invalid signal is refused, valid ones reach the task's trap", async () => {
    const task = await h.start({
      config: {
        image: busybox,
        command: "sh",
        args: [
          "-c",
          'for s in HUP USR1 USR2; do trap "echo received SIG$s" $s; done; trap "echo received SIGTERM; exit 0" TERM; ' +
          "echo ready; while true; do sleep 1 & wait $!; done"
        ]
      }
    })
    await task.dirs.stdout.waitFor((t) => t.includes("ready"))
    const invalid = await failureOf(h.driver().signal(task.id, "INVALID"))
    expect(invalid.message).toContain("Invalid signal")
    await h.driver().signal(task.id, "SIGUSR1")
    await task.dirs.stdout.waitFor((t) => t.includes("received SIGUSR1"))
    await h.driver().signal(task.id, "SIGHUP")
    await task.dirs.stdout.waitFor((t) => t.includes("received SIGHUP"))
    expect(task.dirs.stdout.text()).not.toContain("received SIGUSR2")
    await h.driver().stop(task.id, 30_000)
    expect((await h.driver().wait(task.id)).result).toMatchObject({ exitCode: 0, signal: 0 })
    expect(task.dirs.stdout.text()).toContain("received SIGTERM")
    await h.driver().destroy(task.id)
  })

  it("003 capabilities: cap_add and cap_drop shape the effective set, readonly_rootfs refuses writes", async () => {
    const task = await h.start({
      config: {
        ...sleeper,
        readonly_rootfs: true,
        cap_add: ["CAP_SYS_ADMIN", "CAP_IPC_OWNER", "CAP_IPC_LOCK"],
        cap_drop: ["CAP_CHOWN", "CAP_SYS_CHROOT", "CAP_DAC_OVERRIDE"]
      }
    })
    const status = await h.exec(task.id, ["cat", "/proc/1/status"])
    const effective = capabilityBits(statusField(status.stdout, "CapEff"))
    for (const added of [capability.SYS_ADMIN, capability.IPC_OWNER, capability.IPC_LOCK]) expect(effective.has(added)).toBe(true)
    for (const dropped of [capability.CHOWN, capability.SYS_CHROOT, capability.DAC_OVERRIDE]) expect(effective.has(dropped)).toBe(false)
    // A default capability neither list names is still there.
    expect(effective.has(capability.NET_RAW)).toBe(true)
    const touch = await h.exec(task.id, ["touch", "/tmp/file.txt"])
    expect(touch.exitCode).not.toBe(0)
    expect(touch.stderr).toContain("Read-only file system")
  })

  it("004 privileged: every capability the plugin holds, the named devices, a read-only bind mount", async () => {
    const alloc = h.allocation()
    const source = path.join(alloc.dir, "host-s1")
    fs.mkdirSync(source)
    fs.writeFileSync(path.join(source, "bind.txt"), "hello\n")
    const task = await h.start({
      alloc,
      config: {
        ...sleeper,
        privileged: true,
        devices: ["/dev/loop0", "/dev/loop1"],
        mounts: [{ type: "bind", source, target: "/tmp/t1", options: ["rbind", "ro"] }]
      }
    })
    const pluginStatus = fs.readFileSync(`/proc/${h.plugin().process.child.pid}/status`, "utf8")
    const status = (await h.exec(task.id, ["cat", "/proc/1/status"])).stdout
    const held = capabilityBits(statusField(pluginStatus, "CapEff"))
    expect(capabilityBits(statusField(status, "CapBnd"))).toEqual(held)
    expect(capabilityBits(statusField(status, "CapEff"))).toEqual(held)
    expect(await h.exec(task.id, ["cat", "/tmp/t1/bind.txt"])).toMatchObject({ stdout: "hello\n", exitCode: 0 })
    expect((await h.exec(task.id, ["touch", "/tmp/t1/new.txt"])).exitCode).not.toBe(0)
    expect(fs.existsSync(path.join(source, "new.txt"))).toBe(false)
    for (const device of ["/dev/loop0", "/dev/loop1"]) {
      const stat = await h.exec(task.id, ["stat", "-c", "%F %t:%T", device])
      expect(stat).toMatchObject({ exitCode: 0, stdout: expect.stringContaining("block special file") })
    }
  })

  it("005 volume_mount: writes through the read-write volume reach the host, through the read-only one they fail", async () => {
    const alloc = h.allocation()
    const volume = path.join(alloc.dir, "host-volume-s1")
    fs.mkdirSync(volume)
    fs.writeFileSync(path.join(volume, "bind.txt"), "hello\n")
    const task = await h.start({
      alloc,
      config: sleeper,
      mounts: [
        { taskPath: "/tmp/t1", hostPath: volume, readonly: false, propagationMode: "private", selinuxLabel: "", requestName: "data" },
        {
          taskPath: "/tmp/read_only_target",
          hostPath: volume,
          readonly: true,
          propagationMode: "private",
          selinuxLabel: "",
          requestName: "read_only_data"
        }
      ]
    })
    expect(await h.exec(task.id, ["cat", "/tmp/t1/bind.txt"])).toMatchObject({ stdout: "hello\n", exitCode: 0 })
    expect(await h.exec(task.id, ["cat", "/tmp/read_only_target/bind.txt"])).toMatchObject({ stdout: "hello\n", exitCode: 0 })
    const refused = await h.exec(task.id, ["touch", "/tmp/read_only_target/writable_test.txt"])
    expect(refused.exitCode).not.toBe(0)
    expect(refused.stderr).toContain("Read-only file system")
    expect(fs.existsSync(path.join(volume, "writable_test.txt"))).toBe(false)
    expect((await h.exec(task.id, ["touch", "/tmp/t1/writable_test.txt"])).exitCode).toBe(0)
    expect(fs.existsSync(path.join(volume, "writable_test.txt"))).toBe(true)
  })

  it("006 dns: the group's dns block becomes the task's resolv.conf; sysctl values are set", async () => {
    const task = await h.start({
      config: { ...sleeper, sysctl: [{ "net.core.somaxconn": "16384", "net.ipv4.ip_forward": "1" }] },
      dns: { servers: ["127.0.0.1", "127.0.0.2"], searches: ["internal.corp"], options: ["ndots:2"] }
    })
    const resolv = lines((await h.exec(task.id, ["cat", "/etc/resolv.conf"])).stdout)
    // The block replaces the host's resolvers, loopback ones included (they are what the job asked for).
    const content = resolv.filter((l) => !l.startsWith("#"))
    expect(content.filter((l) => l.startsWith("nameserver "))).toEqual(["nameserver 127.0.0.1", "nameserver 127.0.0.2"])
    expect(content.filter((l) => !l.startsWith("nameserver ")).sort()).toEqual(["options ndots:2", "search internal.corp"])
    expect((await h.exec(task.id, ["cat", "/proc/sys/net/core/somaxconn"])).stdout).toBe("16384\n")
    expect((await h.exec(task.id, ["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout).toBe("1\n")
  })

  it("007 extra_hosts with host_network: the entries are in /etc/hosts", async () => {
    const task = await h.start({
      config: { ...sleeper, host_network: true, extra_hosts: ["postgres:127.0.1.1", "redis:127.0.1.2"] }
    })
    const hosts = lines((await h.exec(task.id, ["cat", "/etc/hosts"])).stdout)
    expect(hosts).toContain("127.0.1.1\tpostgres")
    expect(hosts).toContain("127.0.1.2\tredis")
  })

  it("008 entrypoint and args: the process they make writes to the task's stdout FIFO", async () => {
    const task = await h.start({
      config: {
        image: busybox,
        entrypoint: ["/bin/sh"],
        args: ["-c", "i=0; while [ $i -lt 100 ]; do echo container1 container2; i=$((i+1)); sleep 1; done"]
      }
    })
    await task.dirs.stdout.waitFor((t) => t.includes("container1 container2\n"))
    expect(task.dirs.stderr.text()).toBe("")
  })

  it("009 auth: a private image without credentials fails the start, not recoverable", async () => {
    const image = `${integrationEnv.authRegistry}/test/private:latest`
    const failure = await failureOf(h.start({ config: { image } }))
    expect(failure.recoverable).toBe(false)
    // The original driver's wording first (what its users grep for), then what to do about it.
    expect(failure.message.startsWith(
      `Error in pulling image ${image}: pull access denied, repository does not exist or may require authorization: ${image}: `
    )).toBe(true)
    expect(failure.message).toContain(`no credentials were sent to ${integrationEnv.authRegistry}`)
  })

  it("010 template: a relative local/ mount source is the task's local dir", async () => {
    const task = await h.start({
      config: {
        ...sleeper,
        mounts: [{ type: "bind", source: "local/mosquitto.conf", target: "/mosquitto/config/mosquitto.conf", options: ["rbind", "rw"] }]
      },
      files: { "local/mosquitto.conf": "listener 1883\n" }
    })
    expect(await h.exec(task.id, ["cat", "/mosquitto/config/mosquitto.conf"])).toMatchObject({ stdout: "listener 1883\n", exitCode: 0 })
  })

  it("011 allow_privileged = false: a privileged task fails with the original's message and leaves nothing", async () => {
    const strict = await harness({
      prefix: "cdd-orig-strict",
      containerdAddress: integrationEnv.containerdAddress,
      pluginConfig: { allow_privileged: false }
    })
    try {
      const failure = await failureOf(strict.start({ config: { ...sleeper, privileged: true } }))
      expect(failure.message).toContain(
        "Running privileged jobs are not allowed. Set allow_privileged to true in plugin config to allow running privileged jobs."
      )
      expect(failure.recoverable).toBe(false)
      const left = await strict.probe.state()
      expect(left.containers).toEqual([])
      expect(left.snapshots).toEqual([])
    } finally {
      await strict.dispose()
    }
  })

  it("hello example: the task's greeting reaches the stdout FIFO", async () => {
    const task = await h.start({
      config: {
        image: busybox,
        command: "sh",
        args: ["-c", 'while true; do echo "Hello world: sleeping for 3 seconds."; sleep 3; done']
      }
    })
    await task.dirs.stdout.waitFor((t) => t.includes("Hello world: sleeping for 3 seconds.\n"))
  })
})
