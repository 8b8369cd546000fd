// `containerd-driver run` as a user drives it, beyond the examples: clear errors for malformed job files, unknown
// task options and unsupported job features (naming the file, line, task and option) before anything starts;
// the restart policy; several allocations of a group from Nomad's JSON job form; and Ctrl-C during a pull, while
// tasks run, and twice — each leaving nothing behind.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { nothingLeft, type RunHarness, runHarness } from "../support/runCommand.js"
import { integrationEnv } from "./env.js"

const busybox = `${integrationEnv.registry}/test/busybox:latest`
const big = `${integrationEnv.registry}/test/big:latest`

let h: RunHarness
let dir: string

beforeAll(() => {
  h = runHarness(integrationEnv.containerdAddress, "cdd-run-ctl")
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-run-jobs-"))
})

afterAll(async () => {
  await h?.dispose()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Writes a job file; returns its path. */
const jobFile = (name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

const batch = (task: string, group = "", type = "batch") => `job "ctl" {
  type = "${type}"
  group "g" {
    ${group}
    task "t" {
      driver = "containerd-driver"
      ${task}
    }
  }
}
`

describe.concurrent("refused before anything starts, naming the file and line", { timeout: 60_000 }, () => {
  it.each([
    ["a syntax error", "syntax.nomad", `job "x" {\n  group "g" {\n    count = \n  }\n}\n`, /^Error: \S+syntax\.nomad:3,13: Missing expression: an expression was expected, found a new line$/m],
    [
      "an unknown task option",
      "option.nomad",
      batch(`config {\n        image  = "${busybox}"\n        imagee = "x"\n      }`),
      /^Error: \S+option\.nomad:9,9: task "t": invalid config: unknown option "imagee": containerd-driver has no such task option; did you mean "image"\?$/m
    ],
    [
      "a config value of the wrong type",
      "type.nomad",
      batch(`config {\n        image      = "${busybox}"\n        privileged = "sometimes"\n      }`),
      /^Error: \S+type\.nomad:9,9: task "t": invalid config: .*privileged.*a bool is required/m
    ],
    ["an unsupported job feature", "artifact.nomad", batch(`artifact {\n        source = "https://example.com/a.tgz"\n      }`), /^Error: \S+artifact\.nomad:7,7: artifact in task "t": artifact \(Nomad's go-getter downloads\) is not available outside Nomad$/m],
    ["another driver", "docker.nomad", batch(`config { image = "x" }`).replace("containerd-driver", "docker"), /^Error: \S+docker\.nomad:5,5: task "t" uses driver "docker"; containerd-driver run runs only driver = "containerd-driver" tasks$/m],
    ["a missing host volume", "volume.nomad", batch(`config { image = "x" }`, `volume "v" {\n      type = "host"\n      source = "nope"\n    }`), /needs the host volume "nope": give its path with --host-volume nope=PATH/],
    ["an undeclared -var", "var.nomad", batch(`config { image = "x" }`), /Undefined -var variable: a "v" variable was passed in the command line/]
  ] as const)("%s", async (_, name, text, message) => {
    const outcome = await h.run({ args: [...(name === "var.nomad" ? ["-var", "v=1"] : []), jobFile(name, text)] })
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toMatch(message)
    // Nothing ran: no allocation was made.
    expect(outcome.allocIds).toEqual([])
    expect(outcome.stdout).toBe("")
  })
})

describe.concurrent("running", { timeout: 120_000 }, () => {
  it("restarts a failed task after its delay, per its restart policy, until it succeeds", async () => {
    const file = jobFile("restart.nomad", batch(`config {
        image   = "${busybox}"
        command = "sh"
        args    = ["-c", "if [ -e /alloc/data/tried ]; then echo second try; else touch /alloc/data/tried; echo first try; exit 3; fi"]
      }
      restart {
        attempts = 2
        delay    = "1s"
      }`))
    const outcome = await h.run({ args: [file] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(outcome.stdout.split("\n").filter((l) => l !== "")).toEqual(["g[0].t: first try", "g[0].t: second try"])
    expect(outcome.stderr).toContain("==> g[0].t: Terminated: Exit Code: 3")
    expect(outcome.stderr).toContain("==> g[0].t: Restarting: Task restarting in 1s")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("fails the job when the restart policy gives up", async () => {
    const file = jobFile("fail.nomad", batch(`config {
        image   = "${busybox}"
        command = "false"
      }
      restart {
        attempts = 0
        mode     = "fail"
      }`))
    const outcome = await h.run({ args: [file] })
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toContain("==> g[0].t: Terminated: Exit Code: 1")
    expect(outcome.stderr).toContain("==> g[0].t: Not Restarting: Exceeded allowed attempts 0 in interval 86400s and mode is \"fail\"")
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("runs every allocation of a group's count, from Nomad's JSON job form", async () => {
    const file = jobFile("count.json", JSON.stringify({
      Job: {
        ID: "counted",
        Type: "batch",
        TaskGroups: [{
          Name: "g",
          Count: 2,
          Tasks: [{ Name: "t", Driver: "containerd-driver", Config: { image: busybox, command: "sh", args: ["-c", "echo index ${NOMAD_ALLOC_INDEX}"] } }]
        }]
      }
    }))
    const outcome = await h.run({ args: [file] })
    expect(outcome.code, outcome.stderr).toBe(0)
    expect(outcome.stdout.split("\n").filter((l) => l !== "").sort()).toEqual(["g[0].t: index 0", "g[1].t: index 1"])
    expect(outcome.allocIds).toHaveLength(2)
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })
})

describe("Ctrl-C", { timeout: 120_000 }, () => {
  it("while tasks run: each is stopped with its kill_signal, the batch run exits 130", async () => {
    const file = jobFile("stop.nomad", batch(`kill_signal  = "SIGUSR1"
      kill_timeout = "20s"
      config {
        image   = "${busybox}"
        command = "sh"
        args    = ["-c", "trap 'echo got USR1; exit 0' USR1; echo running; while true; do sleep 1 & wait $!; done"]
      }`, "count = 2"))
    const outcome = await h.run({ args: [file], interruptWhen: (out) => out.split("running").length === 3 })
    expect(outcome.code, outcome.stderr).toBe(130)
    expect(outcome.stdout.split("\n").filter((l) => l.endsWith("got USR1")).sort()).toEqual(["g[0].t: got USR1", "g[1].t: got USR1"])
    expect(outcome.stderr.match(/Killed: Task successfully killed \(Exit Code: 0\)/g)).toHaveLength(2)
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("twice: the tasks are destroyed at once instead of waiting out a long kill_timeout", async () => {
    const file = jobFile("force.nomad", batch(`kill_timeout = "30s"
      config {
        image   = "${busybox}"
        command = "sh"
        args    = ["-c", "trap 'echo ignoring TERM' TERM; echo running; while true; do sleep 1 & wait $!; done"]
      }`, "", "service"))
    const outcome = await h.run({ args: [file], interruptWhen: (out) => out.includes("g[0].t: running"), forceAfterMs: 1_000 })
    expect(outcome.stderr).toContain("==> Destroying the job's tasks")
    expect(outcome.stdout).toContain("g[0].t: ignoring TERM")
    expect(outcome.stopMs).toBeLessThan(25_000)
    expect(await h.leftovers(outcome)).toEqual(nothingLeft)
  })

  it("during a pull: the pull is given the kill timeout, then cancelled, and nothing is left", async () => {
    // A namespace of its own, so that the image has to be pulled.
    const fresh = runHarness(integrationEnv.containerdAddress, "cdd-run-pull")
    try {
      const file = jobFile("pull.nomad", batch(`kill_timeout = "1s"
      config {
        image   = "${big}"
        command = "sleep"
        args    = ["600"]
      }`, "", "service"))
      const outcome = await fresh.run({ args: [file], interruptWhen: (out) => out.includes("Driver: Downloading image") })
      expect(outcome.code, outcome.stderr).toBe(0)
      expect(outcome.stderr).toMatch(/==> g\[0\]\.t: Killed: Task (killed while starting|successfully killed)/)
      expect(await fresh.leftovers(outcome)).toEqual(nothingLeft)
      expect((await fresh.probe.state()).containers).toEqual([])
    } finally {
      await fresh.dispose()
    }
  })
})
