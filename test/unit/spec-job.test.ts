// `containerd-driver spec` reads a job as `run` does (src/job) and builds the task's StartTask message as `run`
// does: variables, locals and functions; Nomad's JSON job form; a bare config; the task picked; the job's
// namespace; the task environment with --env on top; the config as the plugin decodes it from cty msgpack.
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import * as fs from "node:fs"
import { decodeConfig, dropNulls } from "../../src/config/Cty.js"
import { hclDecode } from "../../src/config/HclDecode.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { TaskConfig, taskOptions } from "../../src/config/TaskConfig.js"
import type { Job } from "../../src/job/Job.js"
import { JobFileError } from "../../src/job/JobFile.js"
import { nomadTaskFromProto } from "../../src/task/NomadTask.js"
import { specArgs } from "../../layers/SpecCommand.js"
import { type JobInputs, pickTask, readSpecJob, startMessage, type TaskOverrides } from "../../src/job/SpecTask.js"

// The original driver's redis example (Roblox/nomad-driver-containerd example/redis.nomad, its test 001), plus a DNS block.
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
    Datacenters: ["dc1"],
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

const node = { id: "node-1", name: "host-1", datacenter: "dc1", arch: "amd64", kernelVersion: "6.1" }
const host = { nodeCompute: 4000, cgroupVersion: 2 }
const none: TaskOverrides = { env: {}, user: undefined, cpu: undefined, memory: undefined, memoryMax: undefined }
const decodeTask = decodeConfig(TaskConfig, "task config")

/** The StartTask message of a job file's task, or the error; `read` failures as the command reports them. */
const message = (text: string, options: { inputs?: JobInputs; task?: string; overrides?: Partial<TaskOverrides> } = {}) => {
  let job: Job
  try {
    job = readSpecJob(text, options.inputs)
  } catch (error) {
    return Either.left(error instanceof JobFileError ? error.at("job.nomad") : `job.nomad: ${(error as Error).message}`)
  }
  return Either.flatMap(pickTask(job, options.task), (picked) =>
    Either.map(startMessage("job.nomad", job, picked, { ...none, ...options.overrides }, node, host), (m) => m.message))
}
const messageOf = (text: string, options?: Parameters<typeof message>[1]) => Either.getOrThrow(message(text, options))
/** The config the plugin decodes from the message (layers/tasks/start.ts). */
const configOf = (text: string, options?: Parameters<typeof message>[1]) =>
  Either.getOrThrow(decodeTask(messageOf(text, options).msgpackDriverConfig))

describe("the task of a job, as spec reads it", () => {
  it("gets the task's env (interpolated), user, resources and DNS, in the job's identity", () => {
    const m = messageOf(redisJob)
    expect(m).toMatchObject({ name: "redis-task", jobId: "redis", jobName: "redis", taskGroupName: "redis-group", namespace: "default", user: "redis" })
    expect(m.env).toMatchObject({
      GREETING: "hello redis-task",
      NOMAD_JOB_NAME: "redis",
      NOMAD_GROUP_NAME: "redis-group",
      NOMAD_TASK_NAME: "redis-task",
      NOMAD_NAMESPACE: "default",
      NOMAD_CPU_LIMIT: "500",
      NOMAD_MEMORY_LIMIT: "256",
      NOMAD_MEMORY_MAX_LIMIT: "512"
    })
    expect(m.resources?.allocatedResources?.memory).toEqual({ memoryMb: 256n, memoryMaxMb: 512n })
    expect(m.resources?.linuxResources?.memoryLimitBytes).toBe(512n * 2n ** 20n)
    expect(m.dns).toEqual({ servers: ["127.0.0.1", "127.0.0.2"], searches: ["internal.corp"], options: ["ndots:2"] })
    expect(configOf(redisJob)).toMatchObject({
      image: "redis:alpine",
      hostname: "foobar",
      sysctl: { "net.core.somaxconn": "16384" },
      auth: { username: "u", password: "p" }
    })
  })

  it("reads the JSON job form to the same StartTask message, config bytes included", () => {
    expect(messageOf(redisJson)).toEqual(messageOf(redisJob))
  })

  it("evaluates variables: a required one given by -var, a var file, NOMAD_VAR_, locals and functions", () => {
    const job = `variable "image" {}\nvariable "tag" {\n  default = "1"\n}\nlocals {\n  ref = "\${var.image}:\${var.tag}"\n}\n` +
      `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config {\n        image = local.ref\n        args = [upper("x")]\n      }\n    }\n  }\n}\n`
    expect(message(job)).toEqual(
      Either.left('job.nomad:1,1: Unset variable "image": a used variable must be set or have a default value; set it with -var, -var-file or NOMAD_VAR_image')
    )
    expect(configOf(job, { inputs: { vars: [["image", "busybox"]] } })).toMatchObject({ image: "busybox:1", args: ["X"] })
    expect(configOf(job, { inputs: { varFiles: [{ name: "v.hcl", text: `image = "alpine"\ntag = "3"\n` }], vars: [["tag", "4"]] } }))
      .toMatchObject({ image: "alpine:4" })
    expect(configOf(job, { inputs: { env: { NOMAD_VAR_image: "redis" } } })).toMatchObject({ image: "redis:1" })
  })

  it("puts the task in the job's namespace, where the plugin reads it for namespace_policy", () => {
    const m = messageOf(`job "j" {\n  namespace = "team-a"\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config { image = "x" }\n    }\n  }\n}\n`)
    expect(m.namespace).toBe("team-a")
    expect(m.env["NOMAD_NAMESPACE"]).toBe("team-a")
    expect(nomadTaskFromProto(m).namespace).toBe("team-a")
    const json = messageOf(JSON.stringify({ Job: { ID: "j", Namespace: "team-b", TaskGroups: [{ Name: "g", Tasks: [{ Name: "t", Driver: "containerd-driver", Config: { image: "x" } }] }] } }))
    expect(nomadTaskFromProto(json).namespace).toBe("team-b")
  })

  it("lays --env over the task's env, before the config is interpolated, and applies the resource and user overrides", () => {
    const job = `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      user = "app"\n      env { A = "job" }\n` +
      `      config {\n        image = "x"\n        args = ["\${A}", "\${NOMAD_CPU_LIMIT}"]\n      }\n    }\n  }\n}\n`
    const m = messageOf(job, { overrides: { env: { A: "cli" }, cpu: 700, memory: 64, user: "root" } })
    expect(m.env).toMatchObject({ A: "cli", NOMAD_CPU_LIMIT: "700", NOMAD_MEMORY_LIMIT: "64" })
    expect(m.user).toBe("root")
    expect(m.resources?.allocatedResources?.cpu?.cpuShares).toBe(700n)
    expect(Either.getOrThrow(decodeTask(m.msgpackDriverConfig)).args).toEqual(["cli", "700"])
  })

  it("puts the env a template with env = true renders into the task's env", () => {
    const job = `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config {\n        image = "x"\n        args = ["\${FROM_TEMPLATE}"]\n      }\n` +
      `      template {\n        data = "FROM_TEMPLATE={{ env \\"NOMAD_TASK_NAME\\" }}-rendered"\n        destination = "local/env"\n        env = true\n      }\n    }\n  }\n}\n`
    const m = messageOf(job)
    expect(m.env["FROM_TEMPLATE"]).toBe("t-rendered")
    expect(Either.getOrThrow(decodeTask(m.msgpackDriverConfig)).args).toEqual(["t-rendered"])
  })

  it("gives a bridge group's task its network namespace and the port variables", () => {
    const job = `job "j" {\n  group "g" {\n    network {\n      mode = "bridge"\n      port "http" { to = 8080 }\n    }\n` +
      `    task "t" {\n      driver = "containerd-driver"\n      config { image = "x" }\n    }\n  }\n}\n`
    const m = messageOf(job)
    expect(m.networkIsolationSpec?.path).toMatch(/^\/var\/run\/netns\//)
    expect(m.env["NOMAD_PORT_http"]).toBe("8080")
  })

  it("refuses a config the client would refuse, in hcldec's words for an unknown option, naming the line", () => {
    const job = (config: string) => `job "j" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n      config {\n${config}\n      }\n    }\n  }\n}\n`
    expect(message(job(`        image = "x"\n        imagee = "y"`))).toEqual(
      Either.left('job.nomad:7,9: invalid task config: Extraneous JSON object property; No argument or block type is named "imagee".')
    )
    expect(message(job(`        command = "sh"`))).toEqual(
      Either.left('job.nomad:3,5: invalid task config: Missing required argument: The argument "image" is required, but no definition was found.')
    )
    expect(Either.getLeft(message(job(`        image = "\${nope}"`)))._tag).toBe("Some")
  })
})

describe("a bare config", () => {
  it("is a task of its own: HCL block, HCL body or JSON object, in the default namespace", () => {
    const fromBlock = messageOf(`config {\n image = "busybox"\n args = ["sh"]\n}`)
    expect(fromBlock).toMatchObject({ name: "task", namespace: "default" })
    expect(Either.getOrThrow(decodeTask(fromBlock.msgpackDriverConfig))).toMatchObject({ image: "busybox", args: ["sh"] })
    expect(messageOf(`image = "busybox"\nargs = ["sh"]\n`)).toEqual(fromBlock)
    expect(messageOf(JSON.stringify({ image: "busybox", args: ["sh"] }))).toEqual(fromBlock)
  })

  it("has no variables, and says so naming the line", () => {
    expect(message(`config {\n  image = var.image\n}`)).toEqual(
      Either.left('job.nomad:2,14: Unsupported attribute: this object does not have an attribute named "image"')
    )
  })

  it("keeps interpolations for the client and reads heredocs", () => {
    const m = messageOf(`image = "x"\nargs = ["\${NOMAD_ALLOC_DIR}/x", <<-EOT\n    one\n      two\n    EOT\n]\n`)
    expect(Either.getOrThrow(decodeTask(m.msgpackDriverConfig)).args).toEqual(["/alloc/x", "one\n  two\n"])
  })

  it("refuses a number beyond float64 instead of letting it vanish, in HCL and in JSON", () => {
    expect(message(`config {\n  image = "x"\n  pids_limit = 1e400\n}`)).toEqual(
      Either.left("job.nomad:3,16: 1e400 is beyond the largest number a Nomad job can hold (about 1.8e308)")
    )
    expect(Either.isLeft(message(`config {\n  image = "x"\n  sysctl = { a = -1e999 }\n}`))).toBe(true)
    expect(message(`{"image": "x", "cpu_cfs_period": 1e400}`)).toEqual(
      Either.left("job.nomad: invalid JSON: \"cpu_cfs_period\" holds a number beyond the largest a Nomad job can hold (about 1.8e308)")
    )
  })
})

describe("picking the task", () => {
  // A block with more than one argument, or a nested block, takes lines of its own (as hclsyntax requires).
  const task = (name: string, driver: string, image: string) => `    task "${name}" {\n      driver = "${driver}"\n      config { image = "${image}" }\n    }\n`
  const two = `job "j" {\n  group "g" {\n${task("a", "containerd-driver", "x")}${task("b", "containerd-driver", "y")}${task("c", "docker", "z")}  }\n}\n`

  it("says which task to choose when there are several, and takes the one named", () => {
    expect(message(two)).toEqual(Either.left("several containerd-driver tasks (a, b): choose one with --task"))
    expect(configOf(two, { task: "b" }).image).toBe("y")
    expect(message(two, { task: "d" })).toEqual(Either.left('no task named "d" in the job (tasks: a, b, c)'))
  })

  it("says when the job has no containerd-driver task", () => {
    expect(message(`job "j" {\n  group "g" {\n${task("c", "docker", "z")}  }\n}\n`)).toEqual(
      Either.left('no task with driver = "containerd-driver" in the job')
    )
  })

  it("names the line of a syntax error", () => {
    expect(message(`job "j" {\n  group "g" {\n    x = \n  }\n}`)).toEqual(
      Either.left("job.nomad:3,9: Missing expression: an expression was expected, found a new line")
    )
  })
})

describe("spec's --var", () => {
  const options = { file: "job.nomad", configFile: undefined, task: undefined, env: [], user: undefined, cpu: undefined, memory: undefined, memoryMax: undefined }

  it("takes NAME=VALUE pairs in order, and var files, as run does", () => {
    expect(Either.getOrThrow(specArgs({ ...options, vars: ["a=1", "b=x=y"], varFiles: ["v.hcl"] }))).toMatchObject({
      vars: [["a", "1"], ["b", "x=y"]],
      varFiles: ["v.hcl"]
    })
    expect(specArgs({ ...options, vars: ["novalue"] })).toEqual(Either.left('-var needs NAME=VALUE, got "novalue"'))
  })
})

describe("the example jobs", () => {
  const taskDecode = Schema.decodeUnknownEither(TaskConfig, { errors: "all", onExcessProperty: "error" })
  for (const file of fs.readdirSync("example").filter((f) => f.endsWith(".nomad"))) {
    it(`${file}: every task decodes against the task options`, () => {
      const job = readSpecJob(fs.readFileSync(`example/${file}`, "utf8"))
      const tasks = job.groups.flatMap((g) => g.tasks)
      expect(tasks.length).toBeGreaterThan(0)
      for (const task of tasks) {
        const value = Either.getOrThrow(hclDecode(hclSpec(taskOptions), task.config))
        expect(Either.isRight(taskDecode(dropNulls(value))), `${file}: task ${task.name}`).toBe(true)
      }
    })
  }
})

describe("HCL values of a bare config", () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/)
  const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean())
  const render = (v: unknown): string =>
    typeof v === "string" ? JSON.stringify(v).replace(/\$\{/g, "$$$${").replace(/%\{/g, "%%{") : Array.isArray(v) ? `[${v.map(render).join(", ")}]` : String(v)

  it.prop("attributes written as HCL read back as the same values", [fc.dictionary(key, fc.oneof(scalar, fc.array(scalar)))], ([body]) => {
    const text = Object.entries(body).map(([k, v]) => `${k} = ${render(v)}`).join("\n")
    expect(readSpecJob(text).groups[0]!.tasks[0]!.config).toEqual(body)
  })
})
