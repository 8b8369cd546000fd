import { encode, ExtData } from "@msgpack/msgpack"
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { decodeConfig, decodeCtyMsgpack } from "../../src/config/Cty.js"
import { configWarnings, DriverConfig, driverOptions, statsInterval } from "../../src/config/DriverConfig.js"
import { parseGoDuration } from "../../src/config/Duration.js"
import { hclDecode } from "../../src/config/HclDecode.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { TaskConfig, taskOptions } from "../../src/config/TaskConfig.js"
import type { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"
import { encodeLikeNomad } from "../support/NomadCty.js"

const attr = (name: string, type: string, required = false): Spec => ({
  block: { $case: "Attr", value: { name, type, required } }
})
const object = (attributes: Record<string, Spec>): Spec => ({ block: { $case: "object", value: { attributes } } })

// The worked example: real output of Nomad's hcldec + cty pipeline (checked against it in test/integration/nomad-oracle.test.ts).
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
  timeout: {
    block: { $case: "default", value: { primary: attr("timeout", "string"), default: { block: { $case: "literal", value: { value: "\"5m\"" } } } } }
  }
})
const workedExampleHex =
  "8aa46172677392a26869a3776562a7636f6d6d616e64a92f62696e2f6563686fa5636f756e7403a56465627567c0a56578747261c0a66c6162656c739182a161a131a162a132a56d6f756e74c0a4706f72749182a56c6162656ca468747470a2746fcd1f90a5726174696fcb3ff8000000000000a774696d656f7574a2356d"

const taskDecode = decodeConfig(TaskConfig, "task config")
const driverDecode = decodeConfig(DriverConfig, "plugin config")
const taskSpec = hclSpec(taskOptions)
const driverSpec = hclSpec(driverOptions)

describe("config bytes as Nomad produces them", () => {
  it("the test encoder reproduces the documented worked example byte for byte", () => {
    // `any` is not supported by the test encoder; the example leaves `extra` unset, so it is null.
    const spec = object({ ...(workedExampleSpec.block as any).value.attributes, extra: attr("extra", "string") })
    const bytes = encodeLikeNomad(spec, {
      command: "/bin/echo",
      args: ["hi", "web"],
      labels: [{ b: "2", a: "1" }],
      count: "3",
      ratio: 1.5,
      port: [{ label: "http", to: 8080 }]
    })
    expect(Buffer.from(bytes).toString("hex")).toBe(workedExampleHex)
  })

  it("decodes the worked example's bytes to the documented values", () => {
    const value = Either.getOrThrow(decodeCtyMsgpack(Buffer.from(workedExampleHex, "hex")))
    expect(value).toEqual({
      args: ["hi", "web"],
      command: "/bin/echo",
      count: 3,
      debug: null,
      extra: null,
      labels: [{ a: "1", b: "2" }],
      mount: null,
      port: [{ label: "http", to: 8080 }],
      ratio: 1.5,
      timeout: "5m"
    })
  })

  it("decodes a task config using every option of the original driver", () => {
    const job = {
      image: "redis:alpine",
      image_pull_timeout: "10m",
      command: "redis-server",
      args: ["--port", "6380"],
      cwd: "/data",
      privileged: true,
      pids_limit: 100,
      pid_mode: "host",
      hostname: "foobar",
      host_dns: false,
      seccomp: true,
      seccomp_profile: "/etc/seccomp.json",
      shm_size: "128M",
      sysctl: [{ "net.core.somaxconn": "16384" }, { "net.ipv4.ip_forward": "1" }],
      readonly_rootfs: true,
      host_network: true,
      extra_hosts: ["postgres:127.0.1.1", "redis:::1"],
      cap_add: ["CAP_SYS_ADMIN"],
      cap_drop: ["CAP_CHOWN"],
      devices: ["/dev/loop0"],
      auth: [{ username: "user", password: "secret" }],
      mounts: [
        { type: "bind", source: "/tmp/s1", target: "/tmp/t1", options: ["rbind", "ro"] },
        { target: "/scratch" }
      ],
      runtime: "io.containerd.runsc.v1",
      cpuset_cpus: "0-1",
      cpuset_mems: "0"
    }
    const decoded = Either.getOrThrow(taskDecode(encodeLikeNomad(taskSpec, job)))
    expect(decoded).toEqual({
      ...job,
      entrypoint: undefined,
      force_pull: false,
      sysctl: { "net.core.somaxconn": "16384", "net.ipv4.ip_forward": "1" },
      auth: { username: "user", password: "secret" },
      mounts: [
        { type: "bind", source: "/tmp/s1", target: "/tmp/t1", options: ["rbind", "ro"] },
        { type: "volume", target: "/scratch", options: [] }
      ],
      ulimit: {},
      cpu_hard_limit: false
    })
    expect("entrypoint" in decoded).toBe(false)
  })

  it("applies the original defaults to a minimal task config", () => {
    const decoded = Either.getOrThrow(taskDecode(encodeLikeNomad(taskSpec, { image: "busybox" })))
    expect(decoded).toMatchObject({ image_pull_timeout: "5m", host_dns: true, privileged: false, args: [], mounts: [] })
  })

  it("accepts every msgpack number form for a number option", () => {
    const forms: Array<[string, unknown]> = [
      ["fixint", 7],
      ["uint16", 5000],
      ["int64 as bigint", 2n ** 40n],
      ["decimal string", "12"]
    ]
    for (const [form, value] of forms) {
      const bytes = encode({ image: "x", pids_limit: value }, { useBigInt64: true })
      const decoded = taskDecode(bytes)
      expect(Either.isRight(decoded), form).toBe(true)
      expect(Either.getOrThrow(decoded).pids_limit, form).toBe(Number(value))
    }
    // A whole number sent as float64 (0xcb), as older cty versions did for large values.
    const float64 = Buffer.concat([
      Buffer.from(encode({ image: "x" })).subarray(0, 1).map(() => 0x82),
      Buffer.from(encode("image")), Buffer.from(encode("x")), Buffer.from(encode("pids_limit")),
      Buffer.from([0xcb, 0x40, 0x50, 0, 0, 0, 0, 0, 0])
    ])
    expect(Either.getOrThrow(taskDecode(float64)).pids_limit).toBe(64)
    expect(Either.isLeft(taskDecode(encode({ image: "x", pids_limit: 1.5 })))).toBe(true)
    expect(Either.isLeft(taskDecode(encode({ image: "x", pids_limit: 2n ** 62n }, { useBigInt64: true })))).toBe(true)
    // Beyond int64 cty sends the decimal text; it must not turn into an inexact float.
    const huge = taskDecode(encode({ image: "x", pids_limit: "100000000000000000000" }))
    expect(Either.isLeft(huge) && huge.left.message).toBe(
      "invalid task config: pids_limit: expected a whole number from -9007199254740991 to 9007199254740991, got 100000000000000000000"
    )
  })

  describe("numbers beyond what an option holds are refused with the option's name", () => {
    const message = (value: unknown, option = "pids_limit") => {
      const result = taskDecode(encode({ image: "x", [option]: value }))
      return Either.isLeft(result) ? result.left.message : `decoded to ${JSON.stringify(Either.getOrThrow(result)[option as "pids_limit"])}`
    }
    const range = "expected a whole number from -9007199254740991 to 9007199254740991"
    it("as the decimal text cty sends beyond int64 (1e400 from a job)", () => {
      expect(message(`1${"0".repeat(400)}`)).toBe(`invalid task config: pids_limit: ${range}, got 100000000000… (401 digits)`)
      expect(message(`-1${"0".repeat(30)}`, "cpu_cfs_period")).toBe(
        `invalid task config: cpu_cfs_period: ${range}, got -1000000000000000000000000000000`
      )
    })
    it("as the float64 infinity cty sends for \"Inf\"", () => {
      expect(message(Infinity)).toBe(`invalid task config: pids_limit: ${range}, got +Inf`)
      expect(message(-Infinity, "cpu_cfs_period")).toBe(`invalid task config: cpu_cfs_period: ${range}, got -Inf`)
    })
    it("as a fraction, however small", () => {
      expect(message(`0.${"0".repeat(400)}1`)).toBe("invalid task config: pids_limit: expected a whole number, got 0.0000000000… (402 digits)")
    })
    it("while the largest whole number in range still decodes", () => {
      expect(message(String(Number.MAX_SAFE_INTEGER))).toBe(`decoded to ${Number.MAX_SAFE_INTEGER}`)
      expect(message(`-${Number.MAX_SAFE_INTEGER}`)).toBe(`decoded to -${Number.MAX_SAFE_INTEGER}`)
    })
  })

  it("decodes empty plugin config bytes (no config block) to the defaults", () => {
    expect(Either.getOrThrow(driverDecode(new Uint8Array()))).toEqual({
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
    })
  })

  it("decodes the original driver's plugin config", () => {
    const bytes = encodeLikeNomad(driverSpec, {
      enabled: true,
      containerd_runtime: "io.containerd.runc.v2",
      stats_interval: "5s",
      allow_privileged: false,
      auth: [{ username: "u", password: "p" }]
    })
    expect(Either.getOrThrow(driverDecode(bytes))).toMatchObject({
      stats_interval: "5s",
      allow_privileged: false,
      auth: { username: "u", password: "p" }
    })
  })
})

describe("invalid config gives an actionable error", () => {
  const message = (result: Either.Either<unknown, { message: string }>) =>
    Either.match(result, { onLeft: (e) => e.message, onRight: () => "decoded" })

  it("names a missing required option", () => {
    expect(message(taskDecode(encode({ command: "x" })))).toContain("image: is missing")
  })
  it("keeps the original wording for a bad image_pull_timeout: Go's error (test/fixtures/go-durations.json)", () => {
    expect(message(taskDecode(encode({ image: "x", image_pull_timeout: "5x" })))).toContain(
      "Failed to parse image_pull_timeout: time: unknown unit \"x\" in duration \"5x\""
    )
  })
  it("says what is wrong with a zero or negative image_pull_timeout, which Go parses", () => {
    for (const timeout of ["0s", "0", "-5m"]) {
      expect(message(taskDecode(encode({ image: "x", image_pull_timeout: timeout })))).toBe(
        `invalid task config: image_pull_timeout: image_pull_timeout ${JSON.stringify(timeout)} leaves no time; ` +
          "use a positive duration such as \"5m\""
      )
    }
  })
  it("refuses an image_pull_timeout longer than a Go duration holds, as Go does", () => {
    expect(message(taskDecode(encode({ image: "x", image_pull_timeout: "2562048h" })))).toContain(
      "Failed to parse image_pull_timeout: time: invalid duration \"2562048h\""
    )
    expect(Either.isRight(taskDecode(encode({ image: "x", image_pull_timeout: "2562047h" })))).toBe(true)
  })
  it("rejects an unknown option", () => {
    expect(message(taskDecode(encode({ image: "x", imagee: "y" })))).toContain("imagee: is not a known option")
  })
  it("requires username and password together in the plugin auth block", () => {
    expect(message(driverDecode(encode({ auth: { username: "u" } })))).toContain("set both username and password")
  })
  it("rejects an invalid containerd namespace", () => {
    expect(message(driverDecode(encode({ namespace: "no spaces" })))).toContain("is not a valid containerd namespace")
  })
  it("reports bytes that are not msgpack as malformed", () => {
    const result = taskDecode(Buffer.from([0xc1]))
    expect(Either.isLeft(result) && result.left.reason).toBe("Malformed")
    expect(Either.isLeft(result) && result.left.message).toBe("config is not valid cty msgpack: Unrecognized type byte: 0xc1")
  })
  it("reads cty's typed-`any` form, [type JSON as binary, value], as its value, wherever it stands", () => {
    const typed = (type: string, value: unknown) => [new TextEncoder().encode(type), value]
    const bytes = encode({ a: typed("\"string\"", "x"), b: [typed("\"number\"", 1)], c: typed("[\"list\",\"bool\"]", [true]) })
    expect(Either.getOrThrow(decodeCtyMsgpack(bytes))).toEqual({ a: "x", b: [1], c: [true] })
    expect(Either.getOrThrow(decodeCtyMsgpack(encode(typed("\"string\"", "top"))))).toBe("top")
  })
  it("reports msgpack that cty never sends as malformed: binary, and extension values (cty's unknown values)", () => {
    const malformed = (bytes: Uint8Array) =>
      Either.match(decodeCtyMsgpack(bytes), { onLeft: (e) => `${e.reason}: ${e.message}`, onRight: () => "decoded" })
    // Only a pair [binary type JSON, value] is cty's typed `any`; a binary anywhere else is not cty.
    expect(malformed(encode([new Uint8Array([1]), "a", "b"]))).toBe("Malformed: config is not valid cty msgpack: unexpected binary value")
    expect(malformed(encode({ a: new Uint8Array([1]) }))).toBe("Malformed: config is not valid cty msgpack: unexpected binary value")
    expect(malformed(encode({ image: "x", pids_limit: new ExtData(0, new Uint8Array([0])) }))).toBe(
      "Malformed: config is not valid cty msgpack: unknown (not yet known) value in config"
    )
  })
  it("says what a config that is not a block of options is", () => {
    const cases: Array<[unknown, string]> = [[[1], "a list"], ["x", "a string"], [true, "a bool"], [5, "a number"]]
    for (const [value, what] of cases) {
      expect(taskDecode(encode(value))).toEqual(
        Either.left(expect.objectContaining({ reason: "Invalid", message: `invalid task config: expected a block of options, not ${what}` }))
      )
    }
  })
  it("lists every problem, by option path, separated by semicolons", () => {
    const result = taskDecode(encode({ image: 1, imagee: "y" }))
    expect(Either.isLeft(result) && result.left.reason).toBe("Invalid")
    expect(message(result)).toBe("invalid task config: imagee: is not a known option; image: expected a string")
  })
  it("gives a problem with the whole config without a path", () => {
    const decode = decodeConfig(Schema.Struct({ a: Schema.String }).pipe(Schema.filter(() => "a is never right")), "thing")
    expect(message(decode(encode({ a: "x" })))).toBe("invalid thing: a is never right")
  })
})

// Our own wording and the limits of the emulation (test/integration/nomad-oracle.test.ts compares it with hcldec).
describe("hclDecode's messages", () => {
  const decoded = (spec: Spec, config: Record<string, unknown>) => Either.match(hclDecode(spec, config), { onLeft: (m) => m, onRight: () => "decoded" })
  const blockMap = (name: string, labels: Array<string>): Spec => ({ block: { $case: "blockMap", value: { name, labels, nested: object({}) } } })
  const withDefault = (type: string, literal: string): Spec =>
    object({ d: { block: { $case: "default", value: { primary: attr("d", type), default: { block: { $case: "literal", value: { value: literal } } } } } } })

  it("refuses types with `any` inside a list or map (not emulated)", () => {
    for (const type of ["list(any)", "map(any)"]) expect(decoded(object({ a: attr("a", type) }), {})).toBe(`unsupported HCL type ${type}`)
    // The innermost refused part is named.
    expect(decoded(object({ a: attr("a", "map(list(any))") }), {})).toBe("unsupported HCL type list(any)")
  })
  it("refuses spec kinds and label counts it does not emulate", () => {
    expect(decoded({ block: undefined }, {})).toBe("unsupported spec undefined")
    expect(decoded(object({ m: blockMap("m", ["a", "b"]) }), {})).toBe("unsupported block map m with 2 labels")
  })
  it("refuses nested list literals (not emulated)", () => {
    expect(decoded(withDefault("list(list(number))", "[ [1]]"), {})).toBe("unsupported literal expression [ [1]]")
  })
  it("names the list element or map entry of a bad value", () => {
    expect(decoded(object({ a: attr("a", "list(number)") }), { a: ["1", "x"] })).toBe(
      "Incorrect attribute value type: Inappropriate value for attribute \"a[1]\": a number is required."
    )
    expect(decoded(object({ a: attr("a", "map(bool)") }), { a: { k: "1", j: "no" } })).toBe(
      "Incorrect attribute value type: Inappropriate value for attribute \"a.j\": a bool is required."
    )
    expect(decoded(object({ a: attr("a", "map(string)") }), { a: { "e\u0301": "1", "\u00e9": "2" } })).toBe(
      "Duplicate object attribute: An attribute named \"\u00e9\" was already defined (a)"
    )
  })
  it("says which JSON value should have been an object", () => {
    const block: Spec = { block: { $case: "blockList", value: { name: "p", minItems: 0n, maxItems: 0n, nested: object({}) } } }
    expect(decoded(object({ p: block }), { p: "x" })).toBe("Incorrect JSON value type: A JSON object is required here, to define the p block")
    for (const m of [["x"], [null]]) {
      expect(decoded(object({ m: blockMap("m", ["label"]) }), { m })).toBe(
        "Incorrect JSON value type: A JSON object is required here, to specify the labels of the m blocks."
      )
    }
  })
})

describe("stats_interval: a warning, never a refused config (the original only warned)", () => {
  const load = (stats_interval: string) => Either.getOrThrow(driverDecode(encodeLikeNomad(driverSpec, { stats_interval })))
  it("loads any string", () => {
    for (const value of ["5s", "5 seconds", "0s", "-1m", ""]) expect(load(value).stats_interval).toBe(value)
  })
  it("gives the interval in milliseconds only when it is a positive Go duration", () => {
    expect(statsInterval(load("1m30s"))).toBe(90_000)
    expect(statsInterval(load("250ms"))).toBe(250)
    expect(statsInterval(load("5 seconds"))).toBeUndefined()
    expect(statsInterval(load("0s"))).toBeUndefined()
    expect(statsInterval(Either.getOrThrow(driverDecode(new Uint8Array())))).toBeUndefined()
  })
  it("warns about a value that is not a positive Go duration, saying what is used instead", () => {
    expect(configWarnings(load("5 seconds"))).toEqual([
      "stats_interval \"5 seconds\" is not a Go duration (time: unknown unit \" seconds\" in duration \"5 seconds\"); Nomad's collection interval is used instead"
    ])
    expect(configWarnings(load("-1m"))).toEqual([
      "stats_interval \"-1m\" is not a positive duration; Nomad's collection interval is used instead"
    ])
  })
  it("has nothing to say about a good, an empty or an absent value", () => {
    expect(configWarnings(load("5s"))).toEqual([])
    expect(configWarnings(load(""))).toEqual([])
    expect(configWarnings(Either.getOrThrow(driverDecode(new Uint8Array())))).toEqual([])
  })
})

describe("Go durations", () => {
  it.each([
    ["300ms", 300], ["1.5h", 5_400_000], ["2h45m", 9_900_000], ["1.s", 1000], [".5s", 500], ["-1m", -60_000], ["+2s", 2000],
    ["1µs", 0.001], ["0", 0], ["9223372036854775807ns", 9223372036854.775], ["-9223372036854775808ns", -9223372036854.775]
  ])("%s is %d ms", (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 3)
  })
  it.each(["", "5", "5x", ".s", "s", "1h 2m", "9223372036854775808ns", "2562048h", "-", "1e3s"])("%j is not one", (text) => {
    expect(parseGoDuration(text)).toBeUndefined()
  })
})

describe("the hclspec sent to Nomad", () => {
  const attributes = (taskSpec.block as { value: { attributes: Record<string, Spec> } }).value.attributes
  it("declares every option of the original driver with its HCL type", () => {
    const types: Record<string, string> = {}
    for (const [name, spec] of Object.entries(attributes)) {
      const b = spec.block!
      types[name] = b.$case === "Attr" ? b.value.type
        : b.$case === "default" && b.value.primary?.block?.$case === "Attr" ? b.value.primary.block.value.type
        : b.$case
    }
    expect(types).toMatchObject({
      image: "string", image_pull_timeout: "string", command: "string", args: "list(string)",
      entrypoint: "list(string)", cwd: "string", privileged: "bool", pids_limit: "number", pid_mode: "string",
      hostname: "string", host_dns: "bool", seccomp: "bool", seccomp_profile: "string", shm_size: "string",
      sysctl: "list(map(string))", readonly_rootfs: "bool", host_network: "bool", extra_hosts: "list(string)",
      cap_add: "list(string)", cap_drop: "list(string)", devices: "list(string)", auth: "blockValue", mounts: "blockList"
    })
  })
  it("marks image required and sends the original defaults as literals", () => {
    expect(attributes["image"]).toEqual(attr("image", "string", true))
    const literalOf = (name: string) => {
      const b = attributes[name]!.block!
      return b.$case === "default" && b.value.default?.block?.$case === "literal" ? b.value.default.block.value.value : undefined
    }
    expect(literalOf("host_dns")).toBe("true")
    expect(literalOf("image_pull_timeout")).toBe("\"5m\"")
  })
})

describe("properties", () => {
  const optional = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })
  const name = fc.stringMatching(/^[a-z][a-z0-9_.]{0,12}$/)
  // `${` and `%{` start HCL templates, which the client evaluates (encodeLikeNomad refuses them).
  const text = (constraints: fc.StringConstraints = {}) => fc.string(constraints).filter((s) => !/[$%]\{/.test(s))
  const validTask = fc.record(
    {
      image: text({ minLength: 1 }),
      command: optional(text()),
      args: optional(fc.array(text())),
      privileged: optional(fc.boolean()),
      pids_limit: optional(fc.integer({ min: 0, max: 2 ** 31 })),
      sysctl: optional(fc.array(fc.dictionary(name, text()), { minLength: 1, maxLength: 3 })),
      mounts: optional(fc.array(fc.record({ target: text({ minLength: 1 }), options: fc.array(text()) }))),
      image_pull_timeout: optional(fc.constantFrom("30s", "1m30s", "2h", "750ms"))
    },
    { requiredKeys: ["image"] }
  )

  it.prop("every valid task config decodes, with its values", [validTask], ([job]) => {
    const clean = Object.fromEntries(Object.entries(job).filter(([, v]) => v !== undefined))
    const decoded = taskDecode(encodeLikeNomad(taskSpec, clean))
    expect(Either.isRight(decoded)).toBe(true)
    const value = Either.getOrThrow(decoded)
    expect(value.image).toBe(job.image)
    expect(value.args).toEqual(job.args ?? [])
    expect(value.pids_limit).toBe(job.pids_limit)
    expect(value.sysctl).toEqual(Object.assign({}, ...(job.sysctl ?? [])))
  })

  it.prop("arbitrary bytes never crash the decoder", [fc.uint8Array({ maxLength: 64 })], ([bytes]) => {
    const result = taskDecode(bytes)
    if (Either.isLeft(result)) expect(result.left._tag).toBe("ConfigError")
  })

  it.prop("arbitrary msgpack values yield a decoded config or a typed error", [fc.anything()], ([value]) => {
    let bytes: Uint8Array
    try {
      bytes = encode(value, { useBigInt64: true })
    } catch {
      return // not encodable at all (e.g. a symbol): not something Nomad could send
    }
    const result = driverDecode(bytes)
    if (Either.isLeft(result)) expect(result.left._tag).toBe("ConfigError")
  })
})
