// A job file read as `nomad job run` reads it (src/job/JobFile.ts, JobSpec.ts, JobJson.ts): variables from their
// defaults, NOMAD_VAR_*, var files and -var in that order; locals in any order; dynamic blocks; Nomad's defaults;
// and the errors Nomad gives for malformed files and unknown or unsupported parts, naming the line.
import { describe, expect, it } from "@effect/vitest"
import { jobFunctions } from "../../src/job/HclFunctions.js"
import type { Job } from "../../src/job/Job.js"
import { evaluateJobFile, JobFileError, type VariableInputs } from "../../src/job/JobFile.js"
import { readJsonJob } from "../../src/job/JobJson.js"
import { readJob } from "../../src/job/JobSpec.js"

const read = (text: string, inputs: VariableInputs = {}): Job => readJob(evaluateJobFile(text, jobFunctions(undefined), inputs).job!)

/** The error reading `text` gives, as `file:line,column: detail`. */
const failure = (text: string, inputs: VariableInputs = {}): string => {
  try {
    read(text, inputs)
  } catch (error) {
    if (error instanceof JobFileError) return error.at("job.nomad")
    throw error
  }
  throw new Error("the job was accepted")
}

const job = (task: string, group = "", top = "") => `${top}
job "web" {
  group "g" {
    ${group}
    task "t" {
      driver = "containerd-driver"
      ${task}
    }
  }
}
`

describe("variables and locals", () => {
  const withVariables = `
locals {
  tag   = "\${local.base}-\${var.tier}"
  base  = "v\${var.major}"
}
variable "tier" {
  type    = string
  default = "dev"
}
variable "major" {
  type    = number
  default = 1
}
variable "ports" {
  type    = list(number)
  default = [80]
}
${job(`config {
        image = "busybox:\${local.tag}"
        args  = [for p in var.ports : tostring(p)]
      }`.replace("tostring(p)", "format(\"%d\", p)"))}`

  it("uses defaults, evaluating locals in any order", () => {
    expect(read(withVariables).groups[0]!.tasks[0]!.config).toMatchObject({ image: "busybox:v1-dev", args: ["80"] })
  })

  it("takes NOMAD_VAR_*, then var files, then -var, the last one winning; typed values are converted", () => {
    const config = read(withVariables, {
      env: { NOMAD_VAR_tier: "env", NOMAD_VAR_major: "2" },
      varFiles: [{ name: "a.hcl", text: "tier = \"file\"\nports = [1, 2]\n" }, { name: "b.json", text: "{\"major\": 3}" }],
      vars: [["tier", "cli"]]
    }).groups[0]!.tasks[0]!.config
    expect(config).toMatchObject({ image: "busybox:v3-cli", args: ["1", "2"] })
  })

  it("refuses undeclared, unset, mistyped and invalid variables as Nomad does", () => {
    expect(failure(withVariables, { vars: [["nope", "1"]] })).toContain("Undefined -var variable: a \"nope\" variable was passed in the command line")
    expect(failure(withVariables, { varFiles: [{ name: "x.hcl", text: "nope = 1\n" }] })).toMatch(/^x\.hcl:1,1: Undefined variable/)
    expect(failure(withVariables, { vars: [["ports", "[\"a\"]"]] })).toContain("not compatible with the variable's type constraint")
    expect(failure(`variable "x" {}\n${job("")}`)).toMatch(/^job\.nomad:1,1: Unset variable "x"/)
    const validated = `variable "n" {\n  default = 5\n  validation {\n    condition = var.n < 3\n    error_message = "N is too big."\n  }\n}\n${job("")}`
    expect(failure(validated)).toContain("N is too big.")
    expect(failure(`variable "x" { default = 1 }\nvariable "x" { default = 2 }\n${job("")}`)).toMatch(/^job\.nomad:2,1: Duplicate variable/)
  })

  it("expands dynamic blocks", () => {
    const j = read(job("", `dynamic "task" {
      for_each = ["a", "b"]
      labels   = [task.value]
      content {
        driver = "containerd-driver"
        config { image = "img-\${task.key}" }
      }
    }`))
    expect(j.groups[0]!.tasks.map((t) => [t.name, t.config["image"]])).toEqual([["a", "img-0"], ["b", "img-1"], ["t", undefined]])
  })
})

describe("a job as Nomad defaults it", () => {
  it("fills Nomad's defaults: service restart policy, resources, kill timeout, host networking", () => {
    const j = read(job(`config { image = "x" }`))
    expect(j).toMatchObject({ id: "web", name: "web", type: "service", namespace: "default", region: "global" })
    const g = j.groups[0]!
    expect(g).toMatchObject({ count: 1, network: undefined, restart: { attempts: 2, intervalMs: 1_800_000, delayMs: 15_000, mode: "fail" } })
    expect(g.tasks[0]).toMatchObject({ killTimeoutMs: 5_000, killSignal: "", resources: { cpu: 100, memoryMB: 300, memoryMaxMB: 0 }, logsDisabled: false })
  })

  it("reads groups, ports, DNS, volumes, lifecycle, templates, and a task restart block over the group's", () => {
    const j = read(job(
      `kill_signal = "SIGINT"
      kill_timeout = "45s"
      env { A = "1" }
      meta = { team = "x" }
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      restart { attempts = 1 }
      volume_mount {
        volume      = "data"
        destination = "/data"
        read_only   = true
      }
      template {
        data        = "x"
        destination = "local/x"
        env         = true
      }
      resources {
        cpu        = 200
        memory     = 64
        memory_max = 128
      }
      config { image = "x" }`,
      `count = 3
    network {
      mode = "bridge"
      port "http" { to = 8080 }
      port "admin" { static = 9000 }
      dns { servers = ["1.1.1.1"] }
    }
    restart {
      attempts = 9
      delay    = "1s"
    }
    volume "data" {
      type   = "host"
      source = "s1"
    }
    task "main" {
      driver = "containerd-driver"
      config { image = "y" }
    }`
    ))
    const g = j.groups[0]!
    expect(g.count).toBe(3)
    expect(g.network).toMatchObject({ mode: "bridge", ports: [{ label: "http", static: undefined, to: 8080 }, { label: "admin", static: 9000, to: undefined }], dns: { servers: ["1.1.1.1"] } })
    expect(g.volumes["data"]).toMatchObject({ source: "s1", readOnly: false })
    const t = g.tasks.find((x) => x.name === "t")!
    expect(t).toMatchObject({
      killSignal: "SIGINT",
      killTimeoutMs: 45_000,
      env: { A: "1" },
      meta: { team: "x" },
      lifecycle: { hook: "prestart", sidecar: true },
      restart: { attempts: 1, delayMs: 1_000 },
      volumeMounts: [{ volume: "data", destination: "/data", readOnly: true }],
      templates: [{ data: "x", destination: "local/x", env: true, changeMode: "restart", perms: "0644" }],
      resources: { cpu: 200, memoryMB: 64, memoryMaxMB: 128 }
    })
    expect(g.tasks.find((x) => x.name === "main")!.restart).toMatchObject({ attempts: 9, delayMs: 1_000 })
  })

  it("uses the batch restart defaults for batch jobs", () => {
    const j = read(job(`config { image = "x" }`).replace("job \"web\" {", "job \"web\" {\n  type = \"batch\""))
    expect(j.groups[0]!.restart).toEqual({ attempts: 3, intervalMs: 86_400_000, delayMs: 15_000, mode: "fail" })
  })

  it("lists what only Nomad's servers or catalogs use, and goes on", () => {
    const j = read(job(`service { name = "web" }\n      config { image = "x" }`, `constraint {\n      attribute = "x"\n    }`))
    expect(j.ignored).toEqual([expect.stringMatching(/^line 4: constraint in group "g"$/), expect.stringMatching(/^line \d+: service in task "t"$/)])
  })

  it("reads Nomad's JSON job form to the same job", () => {
    const json = {
      Job: {
        ID: "web",
        Type: "batch",
        TaskGroups: [{
          Name: "g",
          Count: 2,
          Networks: [{ Mode: "bridge", DynamicPorts: [{ Label: "http", To: 8080 }] }],
          Tasks: [{
            Name: "t",
            Driver: "containerd-driver",
            Config: { image: "x", args: ["a"] },
            KillTimeout: 10e9,
            Resources: { CPU: 250, MemoryMB: 64 },
            Templates: [{ EmbeddedTmpl: "x", DestPath: "local/x" }]
          }]
        }]
      }
    }
    const j = readJsonJob(json)
    expect(j).toMatchObject({ id: "web", type: "batch" })
    expect(j.groups[0]).toMatchObject({ name: "g", count: 2, network: { mode: "bridge", ports: [{ label: "http", to: 8080 }] }, restart: { attempts: 3 } })
    expect(j.groups[0]!.tasks[0]).toMatchObject({ config: { image: "x", args: ["a"] }, killTimeoutMs: 10_000, resources: { cpu: 250, memoryMB: 64 }, templates: [{ destination: "local/x" }] })
  })
})

describe("errors Nomad would give, naming the line", () => {
  it.each([
    ["a misspelled task argument", job(`kill_timout = "5s"`), /^job\.nomad:7,7: Unsupported argument: an argument named "kill_timout" is not expected in task "t"; did you mean "kill_timeout"\?$/],
    ["an unknown block", job(`configg { image = "x" }`), /^job\.nomad:7,7: Unsupported block type: blocks of type "configg" are not expected in task "t"; did you mean "config"\?$/],
    ["a value of the wrong type", job(`kill_timeout = [1]`), /^job\.nomad:7,7: Invalid duration: kill_timeout/],
    ["a bad restart mode", job(`restart { mode = "sometimes" }`), /Invalid mode "sometimes": expected one of "fail", "delay"/],
    ["an artifact", job(`artifact { source = "https://example.com/x" }`), /^job\.nomad:7,7: artifact in task "t": artifact \(Nomad's go-getter downloads\) is not available outside Nomad$/],
    ["a vault block", job(`vault { policies = ["x"] }`), /vault in task "t": Vault is not available outside Nomad/],
    ["a CSI volume", job("", `volume "v" {\n      type = "csi"\n      source = "x"\n    }`), /Unsupported volume type "csi": CSI volumes is not available outside Nomad/],
    ["a template source", job(`template {\n        source = "x"\n        destination = "local/x"\n      }`), /source in a template of task "t": a template source is a file on a Nomad client/],
    ["a cni network mode", job("", `network { mode = "cni/mynet" }`), /Unsupported network mode "cni\/mynet"/],
    ["a volume_mount of no volume", job(`volume_mount {\n        volume = "nope"\n        destination = "/x"\n      }`), /the group has no volume "nope"/],
    ["two jobs", `${job("")}\njob "other" {}\n`, /Duplicate job block/],
    ["no groups", `job "x" {\n}\n`, /^job\.nomad:1,1: Missing groups: a job needs at least one group/],
    ["a periodic job", job("").replace("group \"g\" {", "periodic { cron = \"* * * * *\" }\n  group \"g\" {"), /periodic in job "web": periodic jobs are launched on a schedule by Nomad's servers/]
  ] as const)("%s", (_, text, message) => {
    expect(failure(text)).toMatch(message)
  })
})
