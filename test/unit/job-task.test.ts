import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import * as fs from "node:fs"
import { dropNulls } from "../../src/config/Cty.js"
import { parseHcl } from "../../src/config/Hcl.js"
import { hclDecode } from "../../src/config/HclDecode.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { readJobTask } from "../../src/config/JobTask.js"
import { jobFunctions } from "../../src/job/HclFunctions.js"
import { evaluateJobFile } from "../../src/job/JobFile.js"
import { readJob } from "../../src/job/JobSpec.js"
import { TaskConfig, taskOptions } from "../../src/config/TaskConfig.js"

// The original driver's redis example (anchor-roblox-driver.md §9, test 001), plus a DNS block.
const redisJob = `
job "redis" {
  datacenters = ["dc1"]
  group "redis-group" {
    network {
      dns {
        servers  = ["127.0.0.1", "127.0.0.2"]
        searches = ["internal.corp"]
        options  = ["ndots:2"]
      }
    }
    task "redis-task" {
      driver = "containerd-driver"
      user   = "redis"
      config {
        image    = "redis:alpine"
        hostname = "foobar"
        seccomp  = true
        cwd      = "/home/redis"
        sysctl = {
          "net.core.somaxconn" = "16384"
        }
        mounts = [
          {
            type    = "bind"
            target  = "/tmp/t1"
            source  = "/tmp/s1"
            options = ["rbind", "ro"]
          }
        ]
        auth {
          username = "u"   # a block, not an attribute
          password = "p"
        }
      }
      env { GREETING = "hello \${NOMAD_TASK_NAME}" }
      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }
    }
  }
}
`

// The same job in Nomad's JSON form (what `nomad job run -output` prints), config as jobspec2 stores it.
const redisJson = JSON.stringify({
  Job: {
    ID: "redis",
    TaskGroups: [{
      Name: "redis-group",
      Networks: [{ DNS: { Servers: ["127.0.0.1", "127.0.0.2"], Searches: ["internal.corp"], Options: ["ndots:2"] } }],
      Tasks: [{
        Name: "redis-task",
        Driver: "containerd-driver",
        User: "redis",
        Config: {
          image: "redis:alpine",
          hostname: "foobar",
          seccomp: true,
          cwd: "/home/redis",
          sysctl: [{ "net.core.somaxconn": "16384" }],
          mounts: [{ type: "bind", target: "/tmp/t1", source: "/tmp/s1", options: ["rbind", "ro"] }],
          auth: [{ username: "u", password: "p" }]
        },
        Env: { GREETING: "hello ${NOMAD_TASK_NAME}" },
        Resources: { CPU: 500, MemoryMB: 256, MemoryMaxMB: 512 }
      }]
    }]
  }
})

describe("reading the task from a job", () => {
  it("finds the containerd-driver task of an HCL job with its env, user, resources and DNS", () => {
    const task = Either.getOrThrow(readJobTask(redisJob))
    expect(task).toMatchObject({
      job: "redis",
      group: "redis-group",
      task: "redis-task",
      user: "redis",
      env: { GREETING: "hello ${NOMAD_TASK_NAME}" },
      cpu: 500,
      memoryMB: 256,
      memoryMaxMB: 512,
      dns: { servers: ["127.0.0.1", "127.0.0.2"], searches: ["internal.corp"], options: ["ndots:2"] }
    })
  })

  it("reads the JSON job form to the same task, and both decode to the same config", () => {
    const fromHcl = Either.getOrThrow(readJobTask(redisJob))
    const fromJson = Either.getOrThrow(readJobTask(redisJson))
    expect(fromJson).toEqual(fromHcl)
    const spec = hclSpec(taskOptions)
    expect(Either.getOrThrow(hclDecode(spec, fromHcl.config))).toEqual(Either.getOrThrow(hclDecode(spec, fromJson.config)))
  })

  it("accepts a bare config block", () => {
    const task = Either.getOrThrow(readJobTask(`config {\n image = "busybox"\n args = ["sh"]\n}`))
    expect(task.config).toEqual({ image: "busybox", args: ["sh"] })
  })

  it("says which task to choose when there are several", () => {
    const two = `job "j" { group "g" {
      task "a" { driver = "containerd-driver"\n config { image = "x" } }
      task "b" { driver = "containerd-driver"\n config { image = "y" } } } }`
    expect(readJobTask(two)).toEqual(Either.left('several containerd-driver tasks (a, b): choose one with --task'))
    expect(Either.getOrThrow(readJobTask(two, "b")).config).toEqual({ image: "y" })
  })

  it("names the line of a syntax error", () => {
    expect(readJobTask(`job "j" {\n  group "g" {\n    x = \n  }\n}`)).toEqual(
      Either.left("line 3: Missing expression: an expression was expected, found a new line")
    )
  })

  it("evaluates variables at their defaults, and refuses one the job does not declare, naming it", () => {
    const job = `variable "image" {\n  default = "busybox:1.36"\n}\njob "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config {\n        image = var.image\n        args = [upper("x")]\n      }\n    }\n  }\n}\n`
    expect(Either.getOrThrow(readJobTask(job)).config).toEqual({ image: "busybox:1.36", args: ["X"] })
    expect(readJobTask(`config {\n  image = var.image\n}`)).toEqual(Either.left('line 2: Unsupported attribute: this object does not have an attribute named "image"'))
  })

  it("refuses a number beyond float64 instead of letting it vanish, naming the attribute and line", () => {
    expect(readJobTask(`config {\n  image = "x"\n  pids_limit = 1e400\n}`)).toEqual(
      Either.left("line 3: 1e400 is beyond the largest number a Nomad job can hold (about 1.8e308)")
    )
    expect(Either.isLeft(readJobTask(`config {\n  image = "x"\n  sysctl = { a = -1e999 }\n}`))).toBe(true)
    expect(Either.isLeft(readJobTask(`config {\n  image = "x"\n  args = [1, 2e308]\n}`))).toBe(true)
  })

  it("refuses the same number in a JSON job", () => {
    expect(readJobTask(`{"image": "x", "cpu_cfs_period": 1e400}`)).toEqual(
      Either.left("invalid JSON: \"cpu_cfs_period\" holds a number beyond the largest a Nomad job can hold (about 1.8e308)")
    )
  })

  it("keeps numbers a float64 holds", () => {
    const task = Either.getOrThrow(readJobTask(`config {\n  image = "x"\n  pids_limit = 1e300\n  cpu_cfs_period = 100000\n}`))
    expect(task.config).toMatchObject({ pids_limit: 1e300, cpu_cfs_period: 100000 })
  })

  it("keeps interpolations verbatim and reads heredocs", () => {
    const root = Either.getOrThrow(parseHcl(`a = "\${NOMAD_ALLOC_DIR}/x"\nb = <<-EOT\n    one\n      two\n    EOT\n`))
    expect(root.body).toEqual({ a: "${NOMAD_ALLOC_DIR}/x", b: "one\n  two\n" })
  })
})

describe("the example jobs", () => {
  const taskDecode = Schema.decodeUnknownEither(TaskConfig, { errors: "all", onExcessProperty: "error" })
  for (const file of fs.readdirSync("example").filter((f) => f.endsWith(".nomad"))) {
    it(`${file}: every task decodes against the task options`, () => {
      const job = readJob(evaluateJobFile(fs.readFileSync(`example/${file}`, "utf8"), jobFunctions(undefined)).job!)
      const tasks = job.groups.flatMap((g) => g.tasks)
      expect(tasks.length).toBeGreaterThan(0)
      for (const task of tasks) {
        const value = Either.getOrThrow(hclDecode(hclSpec(taskOptions), task.config))
        expect(Either.isRight(taskDecode(dropNulls(value))), `${file}: task ${task.name}`).toBe(true)
      }
    })
  }
})

describe("HCL values", () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/)
  const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean())
  const render = (v: unknown): string =>
    typeof v === "string" ? JSON.stringify(v).replace(/\$\{/g, "$$$${").replace(/%\{/g, "%%{") : Array.isArray(v) ? `[${v.map(render).join(", ")}]` : String(v)

  it.prop("attributes written as HCL read back as the same values", [fc.dictionary(key, fc.oneof(scalar, fc.array(scalar)))], ([body]) => {
    const text = Object.entries(body).map(([k, v]) => `${k} = ${render(v)}`).join("\n")
    const parsed = parseHcl(text)
    expect(Either.isRight(parsed)).toBe(true)
    expect(Either.getOrThrow(parsed).body).toEqual(body)
  })
})
