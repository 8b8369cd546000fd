/**
 * `containerd-driver spec`, the built executable, on real jobs: the image is pulled from the loopback
 * registry into a throwaway namespace, and the printed spec reflects the job's options and the image.
 */
import { afterAll, describe, expect, it } from "vitest"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import * as Containerd from "../../layers/Containerd.js"
import { cleanupNamespace, uniqueNamespace } from "../support/containerdContract.js"
import { builtPlugin } from "../support/PluginProcess.js"
import { integrationEnv } from "./env.js"

const namespace = uniqueNamespace("cdd-spec")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-spec-"))
const configFile = path.join(dir, "plugin.json")
fs.writeFileSync(configFile, JSON.stringify({ containerd_address: integrationEnv.containerdAddress, namespace }))
const image = `${integrationEnv.registry}/test/multilayer:latest`

const spec = (job: string, ...args: Array<string>) => {
  const file = path.join(dir, `job-${Math.random().toString(36).slice(2)}`)
  fs.writeFileSync(file, job)
  const result = spawnSync(process.execPath, [builtPlugin, "spec", "--config", configFile, ...args, file], { encoding: "utf8" })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, json: () => JSON.parse(result.stdout) }
}

afterAll(async () => {
  await Effect.runPromise(
    cleanupNamespace(namespace).pipe(Effect.provide(Containerd.layer({ address: integrationEnv.containerdAddress, namespace })))
  )
  fs.rmSync(dir, { recursive: true, force: true })
})

const job = `
job "web" {
  group "g" {
    network {
      dns { servers = ["10.0.0.1"] }
    }
    task "app" {
      driver = "containerd-driver"
      user   = "app"
      config {
        image   = "${image}"
        args    = ["echo \${NOMAD_TASK_NAME}"]
        cap_add = ["sys_admin"]
        ulimit  = { nofile = "32768:65536" }
        mounts = [{ type = "bind", source = "local/conf", target = "/etc/app", options = ["rbind", "ro"] }]
      }
      env { GREETING = "hi" }
      resources {
        cpu    = 500
        memory = 128
      }
    }
  }
}
`

describe("containerd-driver spec", () => {
  it("prints the spec for a job's task: image config, options, user, env and resources", () => {
    const result = spec(job)
    expect(result.stderr).toContain(`# image ${image}`)
    expect(result.status).toBe(0)
    const s = result.json()
    expect(s.ociVersion).toBe("1.0.2-dev")
    // The image's ENTRYPOINT kept, `args` replacing its CMD, interpolated like Nomad does.
    expect(s.process.args).toEqual(["/bin/sh", "-c", "echo app"])
    expect(s.process.cwd).toBe("/data")
    // `app` resolved against the image's own /etc/passwd and /etc/group, with its supplementary group.
    expect(s.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 2000] })
    expect(s.process.env).toEqual(expect.arrayContaining(["FOO=bar", "GREETING=hi", "NOMAD_TASK_NAME=app"]))
    expect(s.process.capabilities.bounding).toContain("CAP_SYS_ADMIN")
    expect(s.process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", hard: 65536, soft: 32768 }])
    expect(s.linux.resources.memory).toEqual({ limit: 128 * 2 ** 20 })
    expect(s.linux.resources.cpu).toEqual({ shares: 500 })
    const destinations = s.mounts.map((m: { destination: string }) => m.destination)
    expect(destinations).toEqual(expect.arrayContaining(["/alloc", "/local", "/secrets", "/etc/hosts", "/etc/resolv.conf", "/etc/app"]))
    const conf = s.mounts.find((m: { destination: string }) => m.destination === "/etc/app")
    expect(conf.source).toMatch(/\/app\/local\/conf$/)
    expect(result.stderr).toContain("# generated file resolv.conf")
  })

  it("reads Nomad's JSON job form to the same spec", () => {
    const json = JSON.stringify({
      Job: {
        ID: "web",
        TaskGroups: [{
          Name: "g",
          Networks: [{ DNS: { Servers: ["10.0.0.1"] } }],
          Tasks: [{
            Name: "app",
            Driver: "containerd-driver",
            User: "app",
            Config: {
              image,
              args: ["echo ${NOMAD_TASK_NAME}"],
              cap_add: ["sys_admin"],
              ulimit: [{ nofile: "32768:65536" }],
              mounts: [{ type: "bind", source: "local/conf", target: "/etc/app", options: ["rbind", "ro"] }]
            },
            Env: { GREETING: "hi" },
            Resources: { CPU: 500, MemoryMB: 128 }
          }]
        }]
      }
    })
    expect(spec(json).json()).toEqual(spec(job).json())
  })

  it("fails with the original driver's message for an invalid option", () => {
    const result = spec(`config {\n  image = "${image}"\n  pid_mode = "container"\n}\n`)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain("Invalid pid_mode. Set pid_mode=host to enable host pid namespace.")
    expect(result.stdout).toBe("")
  })

  it("names a missing required option and an unknown one, as Nomad's validation would", () => {
    expect(spec(`config {\n  command = "sh"\n}\n`).stderr).toContain('The argument "image" is required')
    expect(spec(`config {\n  image = "${image}"\n  imagee = "x"\n}\n`).stderr).toContain('No argument or block type is named "imagee"')
  })

  it("reports an image the registry does not have, naming it", () => {
    const missing = `${integrationEnv.registry}/test/does-not-exist:latest`
    const result = spec(`config {\n  image = "${missing}"\n}\n`)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`Error in pulling image ${missing}`)
  })

  it("pulls the image into the configured namespace", () => {
    // Its own pull: the test must not rely on another one having run before it.
    expect(spec(`config {\n  image = "${image}"\n}\n`).status).toBe(0)
    const images = execFileSync("ctr", ["--address", integrationEnv.containerdAddress, "-n", namespace, "images", "ls", "-q"], { encoding: "utf8" })
    expect(images.split("\n")).toContain(image)
  })
})
