/**
 * Our emulation of Nomad's config pipeline (src/config/HclDecode.ts + test/support/NomadCty.ts) against
 * the real one: test/oracle/nomadcty runs Debian's hcl 2.14.1 hcldec and cty 1.12.1 msgpack, the
 * libraries the worked example below was recorded with. Needs `scripts/test-env.sh up` (which
 * builds the oracle); every test fails, naming that command, when the binary is missing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { decodeConfig, decodeCtyMsgpack } from "../../src/config/Cty.js"
import { DriverConfig, driverOptions } from "../../src/config/DriverConfig.js"
import { hclDecode } from "../../src/config/HclDecode.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { hclLiteral } from "../../src/config/Options.js"
import { TaskConfig, taskOptions } from "../../src/config/TaskConfig.js"
import type { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"
import { encodeLikeNomad } from "../support/NomadCty.js"
import { oracle, oracleBytes, type OracleRequest, requireOracle } from "../support/NomadOracle.js"

const attr = (name: string, type: string, required = false): Spec => ({ block: { $case: "Attr", value: { name, type, required } } })
const object = (attributes: Record<string, Spec>): Spec => ({ block: { $case: "object", value: { attributes } } })
const withDefault = (primary: Spec, literal: string): Spec => ({
  block: { $case: "default", value: { primary, default: { block: { $case: "literal", value: { value: literal } } } } }
})

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const taskSpec = hclSpec(taskOptions)
const driverSpec = hclSpec(driverOptions)
const taskDecode = decodeConfig(TaskConfig, "task config")
const driverDecode = decodeConfig(DriverConfig, "plugin config")
// The client decodes task configs with the task's environment as variables; the agent has none.
const taskVariables = { NOMAD_TASK_NAME: "web", NOMAD_TASK_DIR: "/local" }

/** Asserts that our bytes are the real pipeline's, and returns them. */
const expectSameBytes = (spec: Spec, config: Record<string, unknown>, variables?: Record<string, string>): Uint8Array => {
  const real = oracleBytes({ spec, config, ...(variables ? { variables } : {}) })
  expect(hex(encodeLikeNomad(spec, config))).toBe(hex(real))
  return real
}

/** Asserts that both the real hcldec and ours reject the config; returns the real diagnostics. */
const expectBothReject = (spec: Spec, config: Record<string, unknown>, variables?: Record<string, string>): string => {
  const [real] = oracle([{ spec, config, ...(variables ? { variables } : {}) }])
  expect(real!.error, `real hcldec accepted ${JSON.stringify(config)}`).toBeDefined()
  expect(Either.isLeft(hclDecode(spec, config)), `our hclDecode accepted ${JSON.stringify(config)}`).toBe(true)
  return real!.error!
}

describe("the oracle", () => {
  it("is built (scripts/test-env.sh up builds it)", () => {
    expect(requireOracle()).toMatch(/nomadcty$/)
  })

  // The worked example (real hcldec + cty output, recorded with hcl 2.14.1 / cty 1.12.1), including its `any`
  // attribute and an interpolated variable.
  const workedExampleSpec = object({
    args: attr("args", "list(string)"),
    command: attr("command", "string", true),
    count: attr("count", "number"),
    debug: attr("debug", "bool"),
    extra: attr("extra", "any"),
    labels: attr("labels", "list(map(string))"),
    mount: { block: { $case: "blockValue", value: { name: "mount", required: false, nested: object({ src: attr("src", "string") }) } } },
    port: {
      block: {
        $case: "blockList",
        value: { name: "port", minItems: 0n, maxItems: 0n, nested: object({ label: attr("label", "string"), to: attr("to", "number") }) }
      }
    },
    ratio: attr("ratio", "number"),
    timeout: withDefault(attr("timeout", "string"), "\"5m\"")
  })
  const workedExampleConfig = {
    command: "/bin/echo",
    args: ["hi", "${NOMAD_TASK_NAME}"],
    labels: [{ b: "2", a: "1" }],
    count: "3",
    ratio: 1.5,
    port: [{ label: "http", to: 8080 }]
  }
  const workedExampleHex =
    "8aa46172677392a26869a3776562a7636f6d6d616e64a92f62696e2f6563686fa5636f756e7403a56465627567c0a56578747261c0a66c6162656c739182a161a131a162a132a56d6f756e74c0a4706f72749182a56c6162656ca468747470a2746fcd1f90a5726174696fcb3ff8000000000000a774696d656f7574a2356d"

  it("reproduces the documented worked example byte for byte (it is the real pipeline)", () => {
    const real = oracleBytes({ spec: workedExampleSpec, config: workedExampleConfig, variables: { NOMAD_TASK_NAME: "web" } })
    expect(hex(real)).toBe(workedExampleHex)
  })

  it("reproduces the documented second run: -2 as a negative fixint, 1e23 as a 24-character string", () => {
    const real = Either.getOrThrow(decodeCtyMsgpack(oracleBytes({ spec: workedExampleSpec, config: { command: "x", count: -2, ratio: 1e23 } })))
    expect(real).toMatchObject({ count: -2, ratio: "100000000000000000000000" })
    expect(hex(oracleBytes({ spec: workedExampleSpec, config: { command: "x", count: -2 } }))).toContain("a5636f756e74fe")
  })

  it("matches our encoder on the worked example (variable substituted by hand: ours does not interpolate)", () => {
    expect(hex(encodeLikeNomad(workedExampleSpec, { ...workedExampleConfig, args: ["hi", "web"] }))).toBe(workedExampleHex)
    expectSameBytes(workedExampleSpec, { command: "x", count: -2, ratio: 1e23, extra: [{ x: [1, "a", 0.1], y: null }] })
  })
})

describe("plugin config (agent: no variables)", () => {
  const defaults = {
    enabled: true,
    containerd_runtime: "io.containerd.runc.v2",
    allow_privileged: true,
    allow_caps: ["all"],
    allow_runtimes: ["*"],
    allowed_devices: ["*"],
    allow_host_pid: true,
    allow_host_network: true,
    default_seccomp: false,
    allow_seccomp_unconfined: true,
    namespace_policy: {},
    extra_labels: ["job_name", "job_id", "task_group_name", "task_name", "namespace", "node_name", "node_id"],
    hosts_dir: "/etc/containerd/certs.d",
    containerd_address: "/run/containerd/containerd.sock",
    snapshotter: "overlayfs",
    insecure_registries: []
  }

  it("empty config: every default", () => {
    expect(Either.getOrThrow(driverDecode(expectSameBytes(driverSpec, {})))).toEqual(defaults)
  })

  it("the original driver's example", () => {
    // The agent's HCL parser (hashicorp/nomad command/agent/config_parse.go) turns the auth block into a list of maps.
    const config = {
      enabled: true,
      containerd_runtime: "io.containerd.runc.v2",
      stats_interval: "5s",
      allow_privileged: false,
      auth: [{ username: "username", password: "password" }]
    }
    expect(Either.getOrThrow(driverDecode(expectSameBytes(driverSpec, config)))).toEqual({
      ...defaults,
      stats_interval: "5s",
      allow_privileged: false,
      auth: { username: "username", password: "password" }
    })
  })

  it("the new options", () => {
    const config = {
      containerd_address: "/run/k3s/containerd/containerd.sock",
      namespace: "nomad-tasks",
      snapshotter: "native",
      insecure_registries: ["registry.local:5000", "10.0.0.5"],
      auth: [{ config: "/etc/docker/config.json", helper: "ecr-login" }]
    }
    expect(Either.getOrThrow(driverDecode(expectSameBytes(driverSpec, config)))).toEqual({
      ...defaults,
      ...config,
      auth: { config: "/etc/docker/config.json", helper: "ecr-login" }
    })
  })

  it("rejects what the real hcldec rejects", () => {
    expect(expectBothReject(driverSpec, { enabled: "maybe" })).toContain("a bool is required")
    expect(expectBothReject(driverSpec, { auth: [{ username: "u", token: "t" }] })).toContain("token")
    expect(expectBothReject(driverSpec, { insecure_registries: "registry.local" })).toContain("list of string required")
  })
})

describe("task config (client: the task's variables)", () => {
  const check = (config: Record<string, unknown>) => expectSameBytes(taskSpec, config, taskVariables)

  it("minimal: the image and the original defaults", () => {
    expect(Either.getOrThrow(taskDecode(check({ image: "busybox:1.36" })))).toEqual({
      image: "busybox:1.36",
      image_pull_timeout: "5m",
      force_pull: false,
      args: [],
      privileged: false,
      host_dns: true,
      sysctl: {},
      readonly_rootfs: false,
      host_network: false,
      extra_hosts: [],
      cap_add: [],
      cap_drop: [],
      devices: [],
      mounts: [],
      ulimit: {},
      cpu_hard_limit: false
    })
  })

  it("every option, as jobspec2 stores it (blocks and maps as lists of maps, numbers and bools also as strings)", () => {
    const config = {
      image: "registry.example.com/app:1.2",
      image_pull_timeout: "10m",
      force_pull: true,
      command: "/bin/app",
      args: ["--port", 8080, true],
      entrypoint: ["/bin/sh", "-c"],
      cwd: "/srv",
      privileged: "true",
      pids_limit: "10",
      pid_mode: "host",
      hostname: "app-1",
      host_dns: false,
      seccomp: true,
      seccomp_profile: "/etc/seccomp.json",
      shm_size: "128M",
      sysctl: [{ "net.core.somaxconn": "16384" }, { "net.ipv4.ip_forward": 1 }],
      readonly_rootfs: true,
      runtime: "io.containerd.runsc.v1",
      host_network: true,
      extra_hosts: ["db:10.0.0.2", "cache:::1"],
      cap_add: ["SYS_ADMIN"],
      cap_drop: ["CAP_CHOWN"],
      cpuset_cpus: "0-1",
      cpuset_mems: "0",
      devices: ["/dev/fuse"],
      auth: [{ username: "user", password: "secret" }],
      mounts: [
        { type: "bind", source: "local/conf", target: "/etc/app", options: ["rbind", "ro"] },
        { type: "tmpfs", target: "/scratch", options: ["size=64m"] }
      ],
      ulimit: [{ nofile: "65536:65536", nproc: 4096 }],
      cpu_hard_limit: true,
      cpu_cfs_period: "50000"
    }
    expect(Either.getOrThrow(taskDecode(check(config)))).toEqual({
      ...config,
      args: ["--port", "8080", "true"],
      privileged: true,
      pids_limit: 10,
      sysctl: { "net.core.somaxconn": "16384", "net.ipv4.ip_forward": "1" },
      auth: { username: "user", password: "secret" },
      ulimit: { nofile: "65536:65536", nproc: "4096" },
      cpu_cfs_period: 50000
    })
  })

  it("mounts without a type get the literal default \"volume\" (and empty options)", () => {
    const decoded = Either.getOrThrow(taskDecode(check({ image: "x", mounts: [{ target: "/data", source: "data" }, { target: "/b", type: null }] })))
    expect(decoded.mounts).toEqual([
      { type: "volume", target: "/data", source: "data", options: [] },
      { type: "volume", target: "/b", options: [] }
    ])
  })

  it("a single block may also be one object, as in hand-written JSON jobs", () => {
    const decoded = Either.getOrThrow(taskDecode(check({ image: "x", auth: { username: "u", password: "p" }, mounts: { target: "/m" } })))
    expect(decoded).toMatchObject({ auth: { username: "u", password: "p" }, mounts: [{ type: "volume", target: "/m" }] })
  })

  it("rejects what the real hcldec rejects", () => {
    const reject = (config: Record<string, unknown>) => expectBothReject(taskSpec, config, taskVariables)
    expect(reject({ image: "x", imagee: "y" })).toContain("No argument or block type is named \"imagee\"")
    expect(reject({ image: "x", args: "x" })).toContain("list of string required")
    expect(reject({ command: "sh" })).toContain("The argument \"image\" is required")
    expect(reject({ image: "x", sysctl: { "net.core.somaxconn": "1" } })).toContain("list of map of string required")
    expect(reject({ image: "x", sysctl: [{ a: ["1"] }] })).toContain("Inappropriate value")
    expect(reject({ image: "x", auth: [{ username: "a", password: "b" }, { username: "c", password: "d" }] })).toContain("Duplicate auth block")
    expect(reject({ image: "x", auth: [{ username: "a" }] })).toContain("The argument \"password\" is required")
    expect(reject({ image: "x", mounts: [{ type: "bind" }] })).toContain("The argument \"target\" is required")
    expect(reject({ image: "x", mounts: ["/data"] })).toBeDefined()
    expect(reject({ image: "x", pids_limit: "ten" })).toContain("a number is required")
    expect(reject({ image: "x", pids_limit: true })).toContain("number required")
    expect(reject({ image: "x", privileged: "yes" })).toContain("a bool is required")
    expect(reject({ image: "x", privileged: 1 })).toContain("bool required")
    expect(reject({ image: ["x"] })).toContain("string required")
  })
})

// Each of these differed before the oracle existed (see the report in the commit that added this file).
describe("where the emulation had to change to match the real pipeline", () => {
  const task = (extra: Record<string, unknown>) => ({ image: "x", ...extra })
  const decodedValue = (bytes: Uint8Array) => Either.getOrThrow(decodeCtyMsgpack(bytes)) as Record<string, unknown>

  it("numbers: int64 when whole, float64 only when exact, else decimal text; strings parsed as Go's big.ParseFloat", () => {
    const cases: Array<[unknown, unknown]> = [
      [0.1, "0.1"], // not exactly a float64: cty keeps the decimal
      ["0.1", "0.1"],
      [1.5, 1.5],
      // A JS number travels as its shortest decimal: 2^60 arrives as 1152921504606847000, an int64 beyond 2^53.
      [2 ** 60, 1152921504606847000n],
      [2 ** 70, "1180591620717411300000"],
      ["1180591620717411303424", 2 ** 70], // exactly 2^70: a float64 beyond int64
      [1e21, 1e21],
      [1e23, "100000000000000000000000"],
      ["12345678901234567890", "12345678901234567890"],
      ["-9223372036854775808", -(2n ** 63n)],
      ["+Inf", Infinity],
      ["-inf", -Infinity],
      ["1p4", 16],
      ["5.", 5],
      [".5", 0.5],
      ["0012", 12],
      ["1e-7", "0.0000001"]
    ]
    for (const [input, expected] of cases) {
      const bytes = expectSameBytes(taskSpec, task({ pids_limit: input }), taskVariables)
      expect(decodedValue(bytes)["pids_limit"], `pids_limit = ${String(input)}`).toEqual(expected)
    }
    for (const bad of [" 5", "0x10", "1_000", "Infinity", "", "."]) expectBothReject(taskSpec, task({ pids_limit: bad }))
  })

  it("numbers given to string options become plain decimals", () => {
    for (const [input, expected] of [[1e21, "1000000000000000000000"], [1e-7, "0.0000001"], [0.1, "0.1"], [-12, "-12"]] as const) {
      expect(decodedValue(expectSameBytes(taskSpec, task({ hostname: input })))["hostname"]).toBe(expected)
    }
  })

  it("bools also convert from \"1\" and \"0\"", () => {
    expect(decodedValue(expectSameBytes(taskSpec, task({ privileged: "1", seccomp: "0" })))).toMatchObject({ privileged: true, seccomp: false })
    expectBothReject(taskSpec, task({ privileged: "TRUE" }))
  })

  it("an explicit null satisfies `required` in hcldec (our option decoder then reports it missing)", () => {
    const bytes = expectSameBytes(taskSpec, { image: null })
    expect(decodedValue(bytes)["image"]).toBeNull()
    const decoded = taskDecode(bytes)
    expect(Either.isLeft(decoded) && decoded.left.message).toContain("image")
  })

  it("a null in a list option is sent as nil, which our option decoder refuses by its index", () => {
    const decoded = taskDecode(expectSameBytes(taskSpec, task({ args: ["a", null] })))
    expect(Either.isLeft(decoded) && decoded.left.message).toBe("invalid task config: args.1: expected a string")
  })

  it("an empty list for a single block means no block", () => {
    expect(decodedValue(expectSameBytes(taskSpec, task({ auth: [] })))["auth"]).toBeNull()
  })

  it("strings are NFC-normalised, and map keys sorted by UTF-8 bytes", () => {
    const bytes = expectSameBytes(taskSpec, task({ hostname: "cafe\u0301", sysctl: [{ "\u{1F600}": "a", "\uFFFF": "b", "10": "c", "9": "d" }] }))
    expect(decodedValue(bytes)["hostname"]).toBe("caf\u00e9")
    expectBothReject(taskSpec, task({ sysctl: [{ "e\u0301": "1", "\u00e9": "2" }] }))
  })

  it("defaults with characters HCL treats specially survive as Literal expressions", () => {
    const awkward = ["a${b}", "%{if x}", "$${", "$${{", "%${{", "100%", "$", "back\\slash \"quoted\"", "\b\f\u0001\u007f", "line\nbreak\ttab", "e\u0301"]
    const spec = object(Object.fromEntries(awkward.map((s, i) => [`d${i}`, withDefault(attr(`d${i}`, "string"), hclLiteral(s))])))
    const value = decodedValue(expectSameBytes(spec, {}))
    expect(awkward.map((_, i) => value[`d${i}`])).toEqual(awkward.map((s) => s.normalize("NFC")))
  })

  it("templates are evaluated by the real pipeline; our encoder refuses them instead of guessing", () => {
    const [escaped, interpolated, noVariables] = oracle([
      { spec: taskSpec, config: task({ hostname: "a$${b}%%{c}" }), variables: taskVariables },
      { spec: taskSpec, config: task({ hostname: "${NOMAD_TASK_NAME}-${upper(\"x\")}" }), variables: taskVariables },
      { spec: driverSpec, config: { namespace: "${NOMAD_TASK_NAME}" } }
    ])
    expect(decodedValue(Buffer.from(escaped!.hex!, "hex"))["hostname"]).toBe("a${b}%{c}")
    expect(decodedValue(Buffer.from(interpolated!.hex!, "hex"))["hostname"]).toBe("web-X")
    expect(noVariables!.error).toContain("Variables not allowed")
    expect(() => encodeLikeNomad(taskSpec, task({ hostname: "a$${b}" }))).toThrow(/HCL template/)
  })
})

describe("random configs", () => {
  // Strings without template sequences (the client would evaluate those), over all of Unicode.
  // Control, format, private-use and unassigned code points (Unicode category C) are left out: HCL's JSON
  // scanner rejects some of them (e.g. U+110BD) with rules we do not emulate, and no job holds them.
  const text = (maxLength = 12) =>
    fc.string({ unit: "binary", maxLength }).filter((s) => !/[$%]\{/.test(s) && !/\p{C}/u.test(s))
  const scalar = fc.oneof(text(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null))
  const numberLike = fc.oneof(
    fc.double(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map((n) => n.toString()),
    fc.stringMatching(/^[+-]?\d{0,22}(\.\d{0,8})?([eEpP][+-]?\d{1,2})?$/),
    fc.constantFrom("inf", "-Inf", "0x1", " 1", "1_0", "NaN")
  )
  const boolLike = fc.oneof(fc.boolean(), fc.constantFrom("true", "false", "1", "0", "True", "yes", ""))
  const stringMaps = fc.array(fc.dictionary(text(6), scalar, { maxKeys: 4 }), { maxLength: 3 })
  const optional = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined, freq: 2 })
  const taskConfig = fc.record(
    {
      image: fc.oneof(text(), scalar),
      command: optional(scalar),
      args: optional(fc.array(scalar, { maxLength: 4 })),
      entrypoint: optional(fc.array(text(), { maxLength: 3 })),
      privileged: optional(boolLike),
      host_dns: optional(boolLike),
      pids_limit: optional(numberLike),
      cpu_cfs_period: optional(numberLike),
      hostname: optional(scalar),
      sysctl: optional(stringMaps),
      ulimit: optional(stringMaps),
      auth: optional(fc.array(fc.record({ username: text(), password: text() }), { maxLength: 1 })),
      mounts: optional(
        fc.array(
          fc.record(
            { type: fc.option(fc.constantFrom("bind", "volume", "tmpfs")), target: text(), source: scalar, options: fc.array(scalar, { maxLength: 3 }) },
            { requiredKeys: ["target"] }
          ),
          { maxLength: 3 }
        )
      )
    },
    { requiredKeys: ["image"] }
  )
  const clean = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined))

  const sameAsOracle = (spec: Spec, configs: ReadonlyArray<Record<string, unknown>>, variables?: Record<string, string>) => {
    const requests: Array<OracleRequest> = configs.map((config) => ({ spec, config, ...(variables ? { variables } : {}) }))
    oracle(requests).forEach((real, i) => {
      const ours = hclDecode(spec, configs[i]!)
      const what = JSON.stringify(configs[i])
      if (real.error !== undefined) {
        expect(Either.isLeft(ours), `real hcldec rejected ${what} (${real.error}); ours accepted it`).toBe(true)
      } else {
        expect(Either.isRight(ours), `real hcldec accepted ${what}; ours said ${Either.isLeft(ours) ? ours.left : ""}`).toBe(true)
        expect(hex(encodeLikeNomad(spec, configs[i]!)), what).toBe(real.hex)
      }
    })
  }

  // One oracle process per batch of 25 configs: 20 runs are 500 configs.
  it.prop("task configs: the real pipeline and ours accept the same ones, with the same bytes",
    [fc.array(taskConfig.map(clean), { minLength: 25, maxLength: 25 })],
    ([configs]) => {
      sameAsOracle(taskSpec, configs, taskVariables)
    },
    { fastCheck: { numRuns: 20 } })

  it.prop("plugin configs: the same", [fc.array(fc.record({
    enabled: optional(boolLike),
    stats_interval: optional(scalar),
    insecure_registries: optional(fc.array(scalar, { maxLength: 3 })),
    auth: optional(fc.array(fc.record({ username: text(), helper: scalar }, { requiredKeys: [] }), { maxLength: 2 }))
  }).map(clean), { minLength: 25, maxLength: 25 })], ([configs]) => {
    sameAsOracle(driverSpec, configs)
  }, { fastCheck: { numRuns: 8 } })

  it.prop("any default string survives as a Literal", [fc.array(fc.string({ unit: "binary", maxLength: 10 }), { minLength: 1, maxLength: 20 })], ([strings]) => {
    const spec = object(Object.fromEntries(strings.map((s, i) => [`d${i}`, withDefault(attr(`d${i}`, "string"), hclLiteral(s))])))
    expect(hex(encodeLikeNomad(spec, {}))).toBe(hex(oracleBytes({ spec, config: {} })))
  }, { fastCheck: { numRuns: 20 } })
})

// hcldec's rules one at a time, on small specs: each case is one our emulation must keep (the random configs above
// use only this driver's spec, and Nomad's encoder sends only the literal forms Options.ts writes).
describe("hcldec's rules, case by case", () => {
  const literal = (value: string): Spec => ({ block: { $case: "literal", value: { value } } })
  const blockValue = (name: string, nested: Spec, required = false): Spec => ({ block: { $case: "blockValue", value: { name, required, nested } } })
  const blockList = (name: string, nested: Spec, minItems = 0n, maxItems = 0n): Spec => ({
    block: { $case: "blockList", value: { name, minItems, maxItems, nested } }
  })
  const blockMap = (name: string, nested: Spec): Spec => ({ block: { $case: "blockMap", value: { name, labels: ["label"], nested } } })
  const body = object({ a: attr("a", "string") })
  const defaultOf = (type: string, expression: string) => object({ d: { block: { $case: "default", value: { primary: attr("d", type), default: literal(expression) } } } })

  /**
   * Both reject, and our message is the real first diagnostic: hcldec's `Summary; Detail` without its source range,
   * the "Previous definition" it adds, or the count of further diagnostics.
   */
  const expectSameError = (spec: Spec, config: Record<string, unknown>) => {
    const real = expectBothReject(spec, config)
    const first = real.replace(/^config\.json:\d+,\d+-\d+: /, "").replace(/, and \d+ other diagnostic\(s\)$/, "").replace(/ Previous definition was at .*$/, "")
    const ours = hclDecode(spec, config)
    expect(Either.isLeft(ours) && ours.left.replace(": ", "; ")).toBe(first)
  }

  /** The real hcldec refuses the spec itself (Nomad would not load the plugin); ours refuses it with this message. */
  const expectBothRefuseSpec = (spec: Spec, ours: string) => {
    expect(() => oracle([{ spec, config: {} }])).toThrow(/spec: /)
    expect(hclDecode(spec, {})).toEqual(Either.left(ours))
  }

  it("type expressions may have spaces around and inside them; other text around them is refused", () => {
    expectSameBytes(object({ a: attr("a", " list( string ) ") }), { a: ["x", 1] })
    expectBothRefuseSpec(object({ a: attr("a", "xlist(string)") }), "unsupported HCL type xlist(string)")
    expectBothRefuseSpec(object({ a: attr("a", "list(string)x") }), "unsupported HCL type list(string)x")
  })

  it("a type mismatch is reported as hcldec reports it, naming the type required", () => {
    expectSameError(object({ n: attr("n", "number") }), { n: "ten" })
    expectSameError(object({ n: attr("n", "number") }), { n: true })
    expectSameError(object({ b: attr("b", "bool") }), { b: "yes" })
    expectSameError(object({ b: attr("b", "bool") }), { b: 1 })
    expectSameError(object({ s: attr("s", "string") }), { s: ["x"] })
    expectSameError(object({ l: attr("l", "list(string)") }), { l: "x" })
    expectSameError(object({ l: attr("l", "list(map(string))") }), { l: { a: "b" } })
    expectSameError(object({ m: attr("m", "map(string)") }), { m: "x" })
    expectSameError(object({ m: attr("m", "map(string)") }), { m: ["x"] })
    expectSameError(object({ a: attr("a", "string", true) }), {})
  })

  it("a JS property set to undefined is not in the JSON: not an unknown attribute, not a map entry", () => {
    expectSameBytes(object({ a: attr("a", "map(string)") }), { a: { k: "x", j: undefined }, zz: undefined })
  })

  it("`any` keeps bools, exact numbers and nulls (undefined, NaN and infinities are JSON null)", () => {
    expectSameBytes(object({ a: attr("a", "any") }), { a: [true, 1, undefined, NaN, Infinity, { x: false }] })
    const bytes = expectSameBytes(object({ a: attr("a", "any") }), { a: { x: [1, "a", false] } })
    // Nomad marshals the value with its own (concrete) type, so no typed-`any` pair: the plugin reads it as it is.
    expect(Either.getOrThrow(decodeCtyMsgpack(bytes))).toEqual({ a: { x: [1, "a", false] } })
  })

  it("non-finite numbers are JSON null: null whatever the type", () => {
    expectSameBytes(object({ a: attr("a", "number"), b: attr("b", "string"), c: attr("c", "list(number)") }), { a: Infinity, b: NaN, c: [-Infinity] })
  })

  it("a bigint (from job evaluation) converts as its decimal digits do", () => {
    const spec = object({ a: attr("a", "any"), n: attr("n", "number"), s: attr("s", "string") })
    const real = oracleBytes({ spec, config: { a: 7, n: "1152921504606846977", s: "1152921504606846977" } })
    expect(hex(encodeLikeNomad(spec, { a: 7n, n: 2n ** 60n + 1n, s: 2n ** 60n + 1n }))).toBe(hex(real))
  })

  it("unpaired surrogates become U+FFFD, as Go's JSON decoder makes them", () => {
    expectSameBytes(object({ a: attr("a", "string"), b: attr("b", "list(string)") }), { a: "a\uD800b", b: ["\uDC00"] })
  })

  it("literal defaults: null, numbers in every form HCL writes them, strings with brackets or \\r or \\U escapes", () => {
    expectSameBytes(defaultOf("any", "null"), {})
    for (const n of ["12", "1.25", "1e3", "1e+3", "1e-3", "1e10"]) expectSameBytes(defaultOf("number", n), {})
    for (const s of ["\"a]\"", "\"\\r\"", "\"\\U0001F600\""]) expectSameBytes(defaultOf("string", s), {})
  })

  it("list literal defaults: empty, commas and escaped quotes inside strings", () => {
    for (const l of ["[]", "[ ]", "[\"a,b\"]", "[\"a\\\",b\", \"c\\\\\"]"]) expectSameBytes(defaultOf("list(string)", l), {})
  })

  it("literal defaults that are not literals: the real hcldec refuses the spec, ours refuses to guess", () => {
    for (const [expression, ours] of [
      ["+5", "unsupported literal expression +5"],
      ["1p4", "unsupported literal expression 1p4"],
      ["inf", "unsupported literal expression inf"],
      ["abc", "unsupported literal expression abc"],
      ["x\"a\"", "unsupported literal expression x\"a\""],
      ["\"a\"x", "unsupported literal expression \"a\"x"],
      ["\"a${b}\"", "unsupported literal expression \"a${b}\""],
      ["\"a\\qb\"", "Invalid escape sequence \\q in literal \"a\\qb\""],
      ["[1", "unsupported literal expression [1"],
      ["a]", "unsupported literal expression a]"],
      ["[\"a]", "unsupported literal expression [\"a]"],
      ["[1, ,2]", "unsupported literal expression [1, ,2]"]
    ]) expectBothRefuseSpec(defaultOf("any", expression!), ours!)
  })

  it("blocks: null is none, nameless blocks take their key's name, required and item counts as hcldec checks them", () => {
    expectSameBytes(object({ p: blockList("p", body) }), { p: null })
    expectSameBytes(object({ v: blockValue("", body), p: blockList("", body), m: blockMap("", body) }), {
      v: { a: "x" },
      p: [{ a: "y" }],
      m: { l: { a: "z" } }
    })
    expectBothReject(object({ p: blockList("p", body) }), { p: [5] })
    expectSameError(object({ p: blockValue("p", body, true) }), {})
    expectSameError(object({ p: blockValue("p", body) }), { p: [{}, {}] })
    expectSameError(object({ p: blockList("p", body, 1n) }), {})
    expectSameError(object({ p: blockList("p", body, 0n, 2n) }), { p: [{}, {}, {}] })
    expectSameBytes(object({ p: blockList("p", body, 0n, 2n) }), { p: [{}, {}] })
  })

  it("a null element of a block array is an empty block", () => {
    expectSameBytes(object({ p: blockList("p", body), v: blockValue("v", body) }), { p: [{ a: "x" }, null], v: [null] })
  })

  it("labelled blocks: a null body is no block, a null element an empty one; bodies must be objects, labels unique", () => {
    const spec = object({ m: blockMap("m", body) })
    expectSameBytes(spec, { m: { k: null, j: [null] } })
    expectSameBytes(spec, { m: { k: undefined, j: {} } })
    expectSameError(spec, { m: { k: 5 } })
    expectSameError(spec, { m: { k: [{ a: "1" }, { a: "2" }] } })
  })
})
