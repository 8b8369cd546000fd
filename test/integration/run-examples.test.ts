// Every example job of example/ run end to end through `containerd-driver run` (the built executable, real
// containerd, the loopback registry's test images), each checked for its behaviour — its output, a bridge port
// reached from the host, a template rendered, a signal handled on stop — and for leaving nothing behind.
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { nothingLeft, type RunHarness, runHarness } from "../support/runCommand.js"
import { integrationEnv } from "./env.js"

let h: RunHarness

beforeAll(() => {
  h = runHarness(integrationEnv.containerdAddress, "cdd-run-ex")
})

afterAll(async () => {
  await h?.dispose()
})

/** The lines a task printed on stdout, without the `group[i].task: ` prefix. */
const linesOf = (stdout: string, prefix: string) =>
  stdout.split("\n").filter((l) => l.startsWith(`${prefix}: `)).map((l) => l.slice(prefix.length + 2))

const capabilityBit = (hex: string, bit: number) => (BigInt(`0x${hex}`) >> BigInt(bit)) & 1n

const get = (url: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const request = http.get(url, (response) => {
      let body = ""
      response.on("data", (c: Buffer) => (body += c.toString("utf8")))
      response.on("end", () => resolve(body))
    })
    request.setTimeout(5_000, () => request.destroy(new Error("no answer within 5 s")))
    request.on("error", reject)
  })

describe.concurrent("the original driver's examples, offline", { timeout: 180_000 }, () => {
  it("hello: a batch job prints its greeting (a -var given) and ends with 0", async () => {
    const outcome = await h.run({ args: ["-var", "greeting=Bonjour", "example/hello.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(linesOf(outcome.stdout, "hello[0].hello")).toEqual(Array(3).fill("Bonjour world from hello: sleeping for 1 second."))
    expect(outcome.stderr).toContain("==> hello[0].hello: Terminated: Exit Code: 0")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("capabilities: added ones are effective, dropped ones are not, and the root file system is read-only", async () => {
    const outcome = await h.run({ args: ["example/capabilities.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    const [capEff, touch] = linesOf(outcome.stdout, "capabilities[0].capabilities")
    const hex = /CapEff:\s+([0-9a-f]+)/.exec(capEff ?? "")![1]!
    expect(capabilityBit(hex, 21)).toBe(1n) // CAP_SYS_ADMIN
    expect(capabilityBit(hex, 14)).toBe(1n) // CAP_IPC_LOCK
    expect(capabilityBit(hex, 0)).toBe(0n) // CAP_CHOWN
    expect(capabilityBit(hex, 1)).toBe(0n) // CAP_DAC_OVERRIDE
    expect(touch).toContain("Read-only file system")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("privileged: every capability the host has, the read-only bind mount, and the devices", async () => {
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-s1-"))
    try {
      fs.writeFileSync(path.join(hostDir, "bind.txt"), "hello\n")
      const outcome = await h.run({ args: ["-var", `host_dir=${hostDir}`, "example/privileged.nomad"] })
      expect(outcome.code, outcome.stderr).toBe(0)
      const [bounding, bound, device] = linesOf(outcome.stdout, "privileged[0].privileged")
      const hostBounding = /CapBnd:\s+([0-9a-f]+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]
      expect(bounding).toBe(`CapBnd:\t${hostBounding}`)
      expect(bound).toBe("hello")
      expect(device).toBe("block special file /dev/loop0")
      expect(await h.leftovers(outcome)).toEqual(nothingLeft)
    } finally {
      fs.rmSync(hostDir, { recursive: true, force: true })
    }
  })

  it("volume_mount: the host volume read-write and read-only", async () => {
    const volume = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-volume-"))
    try {
      fs.writeFileSync(path.join(volume, "bind.txt"), "hello\n")
      const outcome = await h.run({ args: ["--host-volume", `s1=${volume}`, "example/volume_mount.nomad"] })
      expect(outcome.code, outcome.stderr).toBe(0)
      const lines = linesOf(outcome.stdout, "volume_mount[0].volume_mount")
      expect(lines.slice(0, 2)).toEqual(["hello", "hello"])
      expect(lines[2]).toContain("Read-only file system")
      expect(fs.readdirSync(volume).sort()).toEqual(["bind.txt", "writable_test.txt"])
      expect(await h.leftovers(outcome)).toEqual(nothingLeft)
    } finally {
      fs.rmSync(volume, { recursive: true, force: true })
    }
  })

  it("dns: the group's resolvers, search domain and options, and the task's sysctls", async () => {
    const outcome = await h.run({ args: ["example/dns.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    const lines = linesOf(outcome.stdout, "dns[0].dns")
    expect(lines).toEqual(expect.arrayContaining(["nameserver 127.0.0.1", "nameserver 127.0.0.2", "search internal.corp", "options ndots:2"]))
    expect(lines).toContain("somaxconn=16384 ip_forward=1")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("extra_hosts: the entries in /etc/hosts", async () => {
    const outcome = await h.run({ args: ["example/extra_hosts.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(linesOf(outcome.stdout, "extra_hosts[0].extra_hosts")).toEqual(expect.arrayContaining(["127.0.1.1\tpostgres", "127.0.1.2\tredis"]))
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("entrypoint: the image's entrypoint replaced, the task's logs shown", async () => {
    const outcome = await h.run({ args: ["example/entrypoint.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(linesOf(outcome.stdout, "entrypoint[0].entrypoint")).toEqual(Array(3).fill("container1 container2"))
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("template: rendered with the task's environment into local/ and bind-mounted from there", async () => {
    const outcome = await h.run({ args: ["example/template.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(linesOf(outcome.stdout, "template[0].mosquitto")).toEqual([
      "# rendered for template.template[0]",
      "listener 1883",
      "listener 9001",
      "listener 9002",
      "allow_anonymous true"
    ])
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("stress: load within the task's limits, then a clean exit", async () => {
    const outcome = await h.run({ args: ["-var", "seconds=2", "example/stress.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(linesOf(outcome.stdout, "stress[0].stress")).toEqual(["stressed for 2 seconds"])
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("lifecycle: prestart before main, the sidecar stopped after it, poststop last", async () => {
    const outcome = await h.run({ args: ["example/lifecycle.nomad"] })
    expect(outcome.code, outcome.stderr).toBe(0)
    const order = outcome.stdout.split("\n").filter((l) => l !== "")
    const at = (line: string) => order.indexOf(line)
    expect(at("app[0].main: main read: prepared by init")).toBeGreaterThan(at("app[0].init: init done"))
    expect(at("app[0].sidecar: sidecar stopping")).toBeGreaterThan(at("app[0].main: main read: prepared by init"))
    expect(at("app[0].cleanup: cleanup after main")).toBeGreaterThan(at("app[0].sidecar: sidecar stopping"))
    expect(order).toContain("app[0].sidecar: sidecar running")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })
})

describe("services, stopped with Ctrl-C", { timeout: 120_000 }, () => {
  it("signal: the kill_signal is handled on stop, and the service ends with 0", async () => {
    const outcome = await h.run({ args: ["example/signal.nomad"], interruptWhen: (out) => out.includes("ready for signals") })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(linesOf(outcome.stdout, "signal[0].signal")).toEqual(["ready for signals", "received SIGINT, exiting"])
    expect(outcome.stderr).toContain("==> signal[0].signal: Killed: Task successfully killed (Exit Code: 0)")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("httpd: a bridge-mode port reached from the host serves the rendered template, then no netns or rule is left", async () => {
    let page: Promise<string> | undefined
    const outcome = await h.run({
      args: ["example/httpd.nomad"],
      onOutput: (out) => {
        const port = /Ports: http (\d+) -> 8080/.exec(out)?.[1]
        if (page === undefined && port !== undefined && out.includes("Started")) page = get(`http://127.0.0.1:${port}/`)
      },
      interruptWhen: (out) => out.includes("response:200")
    })
    expect(await page).toMatch(/^hello from httpd\.web\[0\] on port 8080\n$/)
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(outcome.stderr).toMatch(/allocation address 172\.26\.(6[4-9]|7\d)\.\d+/)
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })
})
