/**
 * `containerd-driver spec` reads a job as `containerd-driver run` does (the built executable, real containerd, the
 * loopback registry): variables given by --var, -var and --var-file; the spec of example/hello.nomad is the spec
 * `run` hands containerd for that task; the job's namespace selects its namespace_policy.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { builtPlugin } from "../support/PluginProcess.js"
import { type RunHarness, runHarness } from "../support/runCommand.js"
import { integrationEnv } from "./env.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdd-spec-job-"))
const image = `${integrationEnv.registry}/test/busybox:latest`

let h: RunHarness
let policyConfig: string

beforeAll(() => {
  // `run` and `spec` on one plugin config (one containerd namespace), as on one node.
  h = runHarness(integrationEnv.containerdAddress, "cdd-spec-job")
  policyConfig = path.join(dir, "policy.json")
  fs.writeFileSync(
    policyConfig,
    JSON.stringify({
      containerd_address: integrationEnv.containerdAddress,
      namespace: h.namespace,
      namespace_policy: { "team-a": { allow_privileged: false } }
    })
  )
})

afterAll(async () => {
  await h?.dispose()
  fs.rmSync(dir, { recursive: true, force: true })
})

const write = (name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

const spec = (args: ReadonlyArray<string>, configFile = h.configFile) => {
  const result = spawnSync(process.execPath, [builtPlugin, "spec", "--config", configFile, ...args], { encoding: "utf8", timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, json: () => JSON.parse(result.stdout) }
}

const required = write(
  "required.nomad",
  `variable "image" {\n  type = string\n}\nvariable "word" {\n  default = "default"\n}\n` +
    `job "vars" {\n  group "g" {\n    task "t" {\n      driver = "containerd-driver"\n` +
    `      config {\n        image = var.image\n        command = "echo"\n        args = [var.word]\n      }\n    }\n  }\n}\n`
)

describe("containerd-driver spec of a job with variables", () => {
  it("refuses a required variable left unset, naming it and where to set it", () => {
    const result = spec([required])
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('Unset variable "image"')
    expect(result.stderr).toContain("-var")
    expect(result.stdout).toBe("")
  })

  it("takes it from --var, -var (as Nomad spells it) and --var-file, later ones winning", () => {
    const withVar = spec(["--var", `image=${image}`, required])
    expect(withVar.stderr).toContain(`# image ${image}`)
    expect(withVar.status).toBe(0)
    expect(withVar.json().process.args).toEqual(["echo", "default"])

    const oneDash = spec(["-var", `image=${image}`, "-var", "word=given", required])
    expect(oneDash.status).toBe(0)
    expect(oneDash.json().process.args).toEqual(["echo", "given"])

    const varFile = write("vars.hcl", `image = "${image}"\nword = "from-file"\n`)
    const fromFile = spec(["--var-file", varFile, required])
    expect(fromFile.status).toBe(0)
    expect(fromFile.json().process.args).toEqual(["echo", "from-file"])
    expect(spec(["--var-file", varFile, "--var", "word=last", required]).json().process.args).toEqual(["echo", "last"])
  })
})

describe("containerd-driver spec of example/hello.nomad", { timeout: 120_000 }, () => {
  it("is the spec run gives containerd for its task: the same process, env and resources", async () => {
    // The container `run` creates for the task, read from containerd while the task runs.
    let recorded: Record<string, any> | undefined
    const ctr = (...args: Array<string>) =>
      execFileSync("ctr", ["--address", integrationEnv.containerdAddress, "-n", h.namespace, ...args], { encoding: "utf8" })
    const outcome = await h.run({
      args: ["example/hello.nomad"],
      interruptWhen: (output) => {
        if (recorded !== undefined || !output.includes("world from hello")) return false
        const ids = ctr("containers", "ls", "-q").split("\n").filter((id) => id !== "")
        expect(ids).toHaveLength(1)
        recorded = JSON.parse(ctr("containers", "info", ids[0]!))["Spec"]
        return true
      }
    })
    expect(recorded, outcome.stderr).toBeDefined()
    const runAllocId = outcome.allocIds[0]!
    expect(runAllocId).toBeDefined()

    const result = spec(["example/hello.nomad"])
    expect(result.status, result.stderr).toBe(0)
    const shown = result.json()

    // Only the allocation's id (and the short one) differ: spec shows a fixed one.
    const normalized = (env: ReadonlyArray<string>, allocId: string) =>
      env.map((e) => e.split(allocId).join("ALLOC").split(allocId.slice(0, 8)).join("SHORT")).sort()
    const runEnv = normalized(recorded!["process"]["env"], runAllocId)
    const specEnv = normalized(shown.process.env, "00000000-0000-0000-0000-000000000000")
    expect(specEnv).toEqual(runEnv)
    expect(specEnv).toEqual(expect.arrayContaining([
      "NOMAD_JOB_NAME=hello",
      "NOMAD_JOB_ID=hello",
      "NOMAD_GROUP_NAME=hello",
      "NOMAD_TASK_NAME=hello",
      "NOMAD_NAMESPACE=default",
      "NOMAD_REGION=global",
      "NOMAD_MEMORY_LIMIT=32",
      "NOMAD_ALLOC_ID=ALLOC"
    ]))
    expect(shown.process.args).toEqual(recorded!["process"]["args"])
    expect(shown.process.args).toEqual([
      "sh",
      "-c",
      'for i in 1 2 3; do echo "Hello world from hello: sleeping for 1 second."; sleep 1; done'
    ])
    expect({ ...shown.process, env: [] }).toEqual({ ...recorded!["process"], env: [] })
    expect(shown.linux.resources).toEqual(recorded!["linux"]["resources"])
  })
})

describe("containerd-driver spec of a job in a Nomad namespace", () => {
  const privileged = (namespace: string | undefined) =>
    write(
      `privileged-${namespace ?? "none"}.nomad`,
      `job "p" {\n${namespace === undefined ? "" : `  namespace = "${namespace}"\n`}  group "g" {\n    task "t" {\n` +
        `      driver = "containerd-driver"\n      config {\n        image = "${image}"\n        privileged = true\n      }\n    }\n  }\n}\n`
    )

  it("is judged by the namespace_policy of the job's namespace: team-a refuses privileged, default allows it", () => {
    const refused = spec([privileged("team-a")], policyConfig)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain('namespace_policy "team-a"')
    expect(refused.stderr).toContain('the task\'s Nomad namespace is "team-a"')
    expect(refused.stdout).toBe("")

    const allowed = spec([privileged(undefined)], policyConfig)
    expect(allowed.status, allowed.stderr).toBe(0)
    expect(allowed.json().process.env).toContain("NOMAD_NAMESPACE=default")
  })

  it("reads the namespace of Nomad's JSON job form too", () => {
    const json = write(
      "privileged.json",
      JSON.stringify({
        Job: {
          ID: "p",
          Namespace: "team-a",
          TaskGroups: [{ Name: "g", Tasks: [{ Name: "t", Driver: "containerd-driver", Config: { image, privileged: true } }] }]
        }
      })
    )
    const refused = spec([json], policyConfig)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain('namespace_policy "team-a"')
  })
})
