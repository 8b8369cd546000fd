// What the Nomad client computes around a task (src/job): the task environment with ports and meta, the config as
// the client interpolates and encodes it, templates rendered as consul-template renders them, the restart
// tracker's decisions, the CNI documents of Nomad's bridge network, and `run`'s arguments.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { decodeCtyMsgpack } from "../../src/config/Cty.js"
import type { HclBody } from "../../src/config/Hcl.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { taskOptions } from "../../src/config/TaskConfig.js"
import { clientConfigBytes } from "../../src/job/ClientConfig.js"
import { bridgePlugins, pluginInput, portMappings, resultAddress } from "../../src/job/Cni.js"
import { jobFunctions } from "../../src/job/HclFunctions.js"
import { defaultRestart, type RestartPolicy } from "../../src/job/Job.js"
import { evaluateJobFile } from "../../src/job/JobFile.js"
import { readJob } from "../../src/job/JobSpec.js"
import { initialRestartState, nextAfter } from "../../src/job/Restart.js"
import { normalizeArgv } from "../../layers/Cli.js"
import { runArgs } from "../../src/job/RunArgs.js"
import { nodeAttributes, taskEnv } from "../../src/job/TaskEnv.js"
import { parseEnvFile, renderTemplate } from "../../src/job/Template.js"

const node = { id: "node-1", name: "host-1", datacenter: "dc1", arch: "amd64", kernelVersion: "6.1" }
const job = readJob(evaluateJobFile(`
job "shop" {
  meta { owner = "ops" }
  group "web" {
    network {
      mode = "bridge"
      port "http" { to = 8080 }
    }
    task "api" {
      driver = "containerd-driver"
      env {
        URL = "http://\${NOMAD_ADDR_http}/\${node.unique.name}"
      }
      meta { Tier = "front" }
      config { image = "x" }
    }
  }
}
`, jobFunctions(undefined)).job!)
const group = job.groups[0]!
const task = group.tasks[0]!
const alloc = { id: "0b5c4a7e-0000-4000-8000-000000000000", index: 2, ports: [{ label: "http", value: 25000, to: 8080 }], hostIp: "10.0.0.5", bridge: { address: "172.26.64.9", interfaceName: "eth0" } }

describe("the task environment", () => {
  const env = taskEnv(job, group, task, alloc, node, { FROM_TEMPLATE: "yes" })

  it("has the identity, resources and directories of an image-isolation task", () => {
    expect(env).toMatchObject({
      NOMAD_ALLOC_ID: alloc.id,
      NOMAD_SHORT_ALLOC_ID: "0b5c4a7e",
      NOMAD_ALLOC_NAME: "shop.web[2]",
      NOMAD_ALLOC_INDEX: "2",
      NOMAD_GROUP_NAME: "web",
      NOMAD_TASK_NAME: "api",
      NOMAD_JOB_ID: "shop",
      NOMAD_CPU_LIMIT: "100",
      NOMAD_MEMORY_LIMIT: "300",
      NOMAD_ALLOC_DIR: "/alloc",
      NOMAD_TASK_DIR: "/local",
      NOMAD_SECRETS_DIR: "/secrets"
    })
  })

  it("gives bridge ports as Nomad does: the namespace's port, the host's, and the allocation's address", () => {
    expect(env).toMatchObject({
      NOMAD_PORT_http: "8080",
      NOMAD_HOST_PORT_http: "25000",
      NOMAD_IP_http: "10.0.0.5",
      NOMAD_ADDR_http: "10.0.0.5:25000",
      NOMAD_ALLOC_PORT_http: "8080",
      NOMAD_ALLOC_IP_http: "172.26.64.9",
      NOMAD_ALLOC_ADDR_http: "172.26.64.9:8080"
    })
  })

  it("adds meta under both spellings, interpolates the task's env, and lets template env win", () => {
    expect(env).toMatchObject({ NOMAD_META_owner: "ops", NOMAD_META_OWNER: "ops", NOMAD_META_Tier: "front", NOMAD_META_TIER: "front" })
    expect(env["URL"]).toBe("http://10.0.0.5:25000/host-1")
    expect(env["FROM_TEMPLATE"]).toBe("yes")
  })
})

describe("the config as the client sends it", () => {
  const spec = hclSpec(taskOptions)
  const env = taskEnv(job, group, task, alloc, node)
  const decoded = (config: HclBody) =>
    Either.map(clientConfigBytes(spec, config, env, nodeAttributes(job, node)), (b) => Either.getOrThrow(decodeCtyMsgpack(b)) as Record<string, unknown>)

  it("interpolates the task's variables, node attributes and expressions in every string", () => {
    const value = Either.getOrThrow(decoded({ image: "x", args: ["${NOMAD_PORT_http}", "${attr.cpu.arch}", "${NOMAD_ALLOC_INDEX + 1}", "$${kept}"], hostname: "${env[\"NOMAD_TASK_NAME\"]}" }))
    expect(value).toMatchObject({ args: ["8080", "amd64", "3", "${kept}"], hostname: "api" })
  })

  it("refuses an unknown variable (as the client does) and an unknown option, naming the option", () => {
    expect(decoded({ image: "x", args: ["${NOMAD_PORT_nope}"] })).toEqual(Either.left({
      option: "args",
      detail: "failed to interpolate args[0] = \"${NOMAD_PORT_nope}\": Unknown variable: there is no variable named \"NOMAD_PORT_nope\""
    }))
    expect(decoded({ imagee: "x" })).toEqual(Either.left({
      option: "imagee",
      detail: "unknown option \"imagee\": containerd-driver has no such task option; did you mean \"image\"?"
    }))
    expect(Either.getLeft(decoded({ image: "x", privileged: "maybe" })).pipe((o) => o._tag === "Some" && o.value.option)).toBe("privileged")
  })
})

describe("templates", () => {
  const env = { NOMAD_TASK_NAME: "api", PORTS: "80,443", EMPTY: "" }
  const render = (text: string, extra = {}) => renderTemplate(text, { env, ...extra })

  it("renders env lookups, pipelines, conditions, ranges and variables", () => {
    expect(render("name={{ env \"NOMAD_TASK_NAME\" }}")).toBe("name=api")
    expect(render("{{ env \"NOMAD_TASK_NAME\" | toUpper }}")).toBe("API")
    expect(render("{{ if eq (env \"NOMAD_TASK_NAME\") \"api\" }}yes{{ else }}no{{ end }}")).toBe("yes")
    expect(render("{{ if env \"EMPTY\" }}a{{ else if env \"NOMAD_TASK_NAME\" }}b{{ else }}c{{ end }}")).toBe("b")
    expect(render("{{ range $i, $p := split \",\" (env \"PORTS\") }}[{{ $i }}:{{ $p }}]{{ end }}")).toBe("[0:80][1:443]")
    expect(render("{{ $x := \"v\" }}{{ $x }}{{ printf \"%03d\" 7 }}")).toBe("v007")
    expect(render("a  {{- \" b \" -}}  c")).toBe("a b c")
    expect(render("{{/* a comment */}}x")).toBe("x")
    expect(render("<<env \"NOMAD_TASK_NAME\">>", { leftDelimiter: "<<", rightDelimiter: ">>" })).toBe("api")
  })

  it("says plainly that Consul, Vault and Nomad's API are not here", () => {
    expect(() => render("{{ key \"config/x\" }}")).toThrow("the template function key reads Consul, which is not available outside Nomad")
    expect(() => render("{{ with secret \"kv/x\" }}{{ end }}")).toThrow("reads Vault, which is not available outside Nomad")
    expect(() => render("{{ nomadVar \"x\" }}")).toThrow("reads Nomad's API, which is not available outside Nomad")
    expect(() => render("{{ if true }}x")).toThrow("has no {{end}}")
  })

  it("reads an env template as KEY=VALUE lines", () => {
    expect(parseEnvFile("# comment\nA=1\nexport B=\"two words\"\n\nC='x'\n")).toEqual({ A: "1", B: "two words", C: "x" })
  })
})

describe("the restart tracker", () => {
  const policy: RestartPolicy = { attempts: 2, intervalMs: 60_000, delayMs: 1_000, mode: "fail" }
  const exit = (exitCode: number) => ({ _tag: "Exit", exitCode, signal: 0, error: "" }) as const

  it("ends a batch task that succeeds, and restarts a service task that exits", () => {
    expect(nextAfter(policy, "batch", undefined, initialRestartState(0), exit(0), 1).outcome).toEqual({ _tag: "Exited" })
    expect(nextAfter(policy, "service", undefined, initialRestartState(0), exit(0), 1).outcome).toMatchObject({ _tag: "Restart", delayMs: 1_000 })
    expect(nextAfter(policy, "service", { hook: "prestart", sidecar: false }, initialRestartState(0), exit(0), 1).outcome).toEqual({ _tag: "Exited" })
  })

  it("restarts `attempts` times in an interval, then fails in mode fail and waits out the interval in mode delay", () => {
    let state = initialRestartState(0)
    const outcomes: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const next = nextAfter(policy, "batch", undefined, state, exit(1), 1_000 * (i + 1))
      outcomes.push(next.outcome._tag)
      state = next.state
    }
    expect(outcomes).toEqual(["Restart", "Restart", "Failed"])
    const delayed = nextAfter({ ...policy, mode: "delay" }, "batch", undefined, { count: 2, intervalStart: 0 }, exit(1), 10_000)
    expect(delayed.outcome).toMatchObject({ _tag: "Restart", delayMs: 50_000 })
    // A new interval starts the count again.
    expect(nextAfter(policy, "batch", undefined, { count: 2, intervalStart: 0 }, exit(1), 61_000).outcome._tag).toBe("Restart")
  })

  it("fails at once on an unrecoverable start error, and counts a recoverable one", () => {
    expect(nextAfter(policy, "service", undefined, initialRestartState(0), { _tag: "StartFailed", recoverable: false, message: "bad" }, 1).outcome).toEqual({
      _tag: "Failed",
      reason: "Error was unrecoverable: bad"
    })
    expect(nextAfter(policy, "service", undefined, initialRestartState(0), { _tag: "StartFailed", recoverable: true, message: "pull" }, 1).outcome._tag).toBe("Restart")
    expect(defaultRestart("service")).toEqual({ attempts: 2, intervalMs: 1_800_000, delayMs: 15_000, mode: "fail" })
  })
})

describe("Nomad's bridge network in CNI", () => {
  it("is loopback, bridge nomad on 172.26.64.0/20, firewall with NOMAD-ADMIN, portmap with SNAT", () => {
    expect(bridgePlugins.map((p) => p.type)).toEqual(["loopback", "bridge", "firewall", "portmap"])
    expect(bridgePlugins[1]).toMatchObject({ bridge: "nomad", ipMasq: true, isGateway: true, ipam: { type: "host-local", ranges: [[{ subnet: "172.26.64.0/20" }]] } })
    expect(bridgePlugins[2]).toMatchObject({ iptablesAdminChainName: "NOMAD-ADMIN" })
  })

  it("gives portmap the group's ports, TCP and UDP, and each plugin the previous result", () => {
    const mappings = portMappings([{ label: "http", value: 25000, to: 8080 }])
    expect(mappings).toEqual([{ hostPort: 25000, containerPort: 8080, protocol: "tcp" }, { hostPort: 25000, containerPort: 8080, protocol: "udp" }])
    const input = JSON.parse(pluginInput(bridgePlugins[3]!, mappings, { ips: [] }))
    expect(input).toMatchObject({ cniVersion: "0.4.0", name: "nomad", type: "portmap", prevResult: { ips: [] }, runtimeConfig: { portMappings: mappings } })
    expect(JSON.parse(pluginInput(bridgePlugins[1]!, mappings, undefined))).not.toHaveProperty("runtimeConfig")
    const result = { interfaces: [{ name: "nomad" }, { name: "veth1" }, { name: "eth0", sandbox: "/var/run/netns/x" }], ips: [{ interface: 2, address: "172.26.64.7/20" }] }
    expect(resultAddress(result)).toBe("172.26.64.7")
  })
})

describe("run's arguments", () => {
  it("reads Nomad's one-dash spellings -var and -var-file as the parser's --var and --var-file, split at the first =", () => {
    expect(normalizeArgv([
      "run", "-var", "a=1", "-var=b=2", "-var-file", "v.hcl", "-verbose", "--var", "c=3", "--var=d=e=f", "--var-file=w.hcl", "job.nomad"
    ])).toEqual(
      ["run", "--var", "a=1", "--var", "b=2", "--var-file", "v.hcl", "-verbose", "--var", "c=3", "--var", "d=e=f", "--var-file", "w.hcl", "job.nomad"]
    )
  })

  it("splits variables and host volumes at the first =, in order", () => {
    expect(Either.getOrThrow(runArgs({
      jobFile: "job.nomad",
      configFile: "c.json",
      vars: ["a=1", "b=x=y"],
      varFiles: ["v.hcl"],
      hostVolumes: ["s1=/srv"],
      verbose: false
    }))).toEqual({
      jobFile: "job.nomad",
      configFile: "c.json",
      vars: [["a", "1"], ["b", "x=y"]],
      varFiles: ["v.hcl"],
      hostVolumes: { s1: "/srv" },
      verbose: false
    })
  })

  it("says what is wrong", () => {
    const base = { jobFile: "j.nomad", configFile: undefined, vars: [], varFiles: [], hostVolumes: [], verbose: false }
    expect(runArgs({ ...base, vars: ["novalue"] })).toEqual(Either.left("-var needs NAME=VALUE, got \"novalue\""))
    expect(runArgs({ ...base, hostVolumes: ["=/srv"] })).toEqual(Either.left("--host-volume needs NAME=VALUE, got \"=/srv\""))
  })
})
