/**
 * Generated config blocks for the fuzz case: task and plugin configs whose attributes are sometimes what a user
 * writes and sometimes anything (other types, huge and fractional numbers, long strings, odd Unicode, nesting),
 * encoded as a Nomad client encodes them (hcldec + cty msgpack) where the value fits the schema and as raw cty
 * msgpack where it does not; and bytes no client would send: random, truncated, with a flipped byte.
 */
import { FastCheck as fc } from "effect"
import { encodeCtyMsgpack } from "../../../src/config/CtyEncode.js"
import { hclSpec } from "../../../src/config/HclSpec.js"
import type { Options } from "../../../src/config/Options.js"
import type { Spec } from "../../../src/gen/plugins/shared/hclspec/hcl_spec.js"
import { encodeLikeNomad } from "../../support/NomadCty.js"

const odd: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ maxLength: 20 }),
    fc.string({ unit: "grapheme", maxLength: 30 }),
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.string({ minLength: 1000, maxLength: 70_000 }).map((s) => s.repeat(2)),
    fc.constantFrom("", " ", "\u0000", "../../etc/passwd", "/", "${NOMAD_TASK_DIR}", "\u202e\ufeff", "🦀".repeat(200), "-1", "1e309", "NaN"),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
    fc.constantFrom(2 ** 53, -(2 ** 63), 2 ** 64, Number.MAX_VALUE, -0, 0.5),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 4 })
  )
})).value

/** Values users write for the task config's attributes (valid or near misses). */
const plausibleTask: Record<string, fc.Arbitrary<unknown>> = {
  image: fc.constantFrom("IMAGE", "IMAGE:tag", "IMAGE@sha256:" + "0".repeat(64), "UPPER/Case", "x:99999/a", ":::"),
  image_pull_timeout: fc.constantFrom("1s", "5m", "0s", "-1s", "1h30m", "forever", "1e9h"),
  force_pull: fc.boolean(),
  command: fc.constantFrom("sh", "/bin/true", "", "nonexistent"),
  args: fc.array(fc.constantFrom("-c", "true", "", "$HOME", "a b"), { maxLength: 4 }),
  entrypoint: fc.array(fc.constantFrom("", "sh", "-c"), { maxLength: 3 }),
  cwd: fc.constantFrom("/", "/tmp", "relative", ""),
  privileged: fc.boolean(),
  pids_limit: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.constant(2 ** 40)),
  pid_mode: fc.constantFrom("host", "", "private", "container:x"),
  hostname: fc.constantFrom("h", "", "a".repeat(300), "bad host"),
  host_dns: fc.boolean(),
  seccomp: fc.boolean(),
  seccomp_profile: fc.constantFrom("unconfined", "/nonexistent.json", "default", ""),
  shm_size: fc.constantFrom("64M", "1G", "0", "-1M", "12Q", "9999999999999T"),
  sysctl: fc.dictionary(fc.constantFrom("net.core.somaxconn", "kernel.shmmax", "vm.swappiness", "x"), fc.constantFrom("1", "", "a")),
  readonly_rootfs: fc.boolean(),
  runtime: fc.constantFrom("io.containerd.runc.v2", "runc", "", "io.containerd.kata.v2", "../x"),
  host_network: fc.boolean(),
  extra_hosts: fc.array(fc.constantFrom("db:127.0.0.1", "bad", "h:::1", "x:999.1.1.1"), { maxLength: 3 }),
  cap_add: fc.array(fc.constantFrom("CAP_NET_ADMIN", "net_raw", "ALL", "CAP_NOPE", ""), { maxLength: 3 }),
  cap_drop: fc.array(fc.constantFrom("ALL", "CHOWN", "bogus"), { maxLength: 3 }),
  cpuset_cpus: fc.constantFrom("0", "0-1", "0-999", "a", ""),
  cpuset_mems: fc.constantFrom("0", "9", "x"),
  devices: fc.array(fc.constantFrom("/dev/null", "/dev/fuse", "/nonexistent", "relative"), { maxLength: 2 }),
  auth: fc.record({ username: fc.constantFrom("u", ""), password: fc.constantFrom("p", "") }),
  mounts: fc.array(
    fc.record({
      type: fc.constantFrom("bind", "volume", "tmpfs", "weird"),
      target: fc.constantFrom("/data", "relative", "", "/"),
      source: fc.constantFrom("local/x", "/", "../../..", ""),
      options: fc.array(fc.constantFrom("rbind", "ro", "size=1m", "bogus"), { maxLength: 3 })
    }),
    { maxLength: 2 }
  ),
  ulimit: fc.dictionary(fc.constantFrom("nofile", "nproc", "bogus"), fc.constantFrom("1024", "1024:2048", "2:1", "x", "-1")),
  cpu_hard_limit: fc.boolean(),
  cpu_cfs_period: fc.integer({ min: -10, max: 2_000_000 })
}

const plausibleDriver: Record<string, fc.Arbitrary<unknown>> = {
  enabled: fc.boolean(),
  containerd_runtime: fc.constantFrom("io.containerd.runc.v2", "", "nope"),
  stats_interval: fc.constantFrom("1s", "0s", "-5s", "x"),
  allow_privileged: fc.boolean(),
  containerd_address: fc.constantFrom("/nonexistent.sock", "", "tcp://x"),
  namespace: fc.constantFrom("ns", "", "bad/ns", "a".repeat(100)),
  snapshotter: fc.constantFrom("overlayfs", "native", "nope"),
  insecure_registries: fc.array(fc.constantFrom("r:5000", "", "::"), { maxLength: 2 })
}

/**
 * A config block over `keys`: half of them as users write them (every attribute plausible, the required ones
 * there), the others with each attribute absent, plausible or anything, and mostly an unknown attribute too.
 */
const block = (keys: ReadonlyArray<string>, plausible: Record<string, fc.Arbitrary<unknown>>, required: ReadonlyArray<string>) =>
  fc.oneof(plausibleBlock(keys, plausible, required), chaosBlock(keys, plausible))

const plausibleBlock = (keys: ReadonlyArray<string>, plausible: Record<string, fc.Arbitrary<unknown>>, required: ReadonlyArray<string>) =>
  fc.subarray(keys.filter((k) => plausible[k] !== undefined && !required.includes(k)), { maxLength: 6 }).chain((chosen) =>
    fc.record(Object.fromEntries([...required, ...chosen].map((k) => [k, plausible[k]!])))
  )

const chaosBlock = (keys: ReadonlyArray<string>, plausible: Record<string, fc.Arbitrary<unknown>>) =>
  fc.tuple(
    fc.subarray([...keys], { maxLength: 8 }),
    fc.array(fc.tuple(fc.boolean(), odd, fc.nat()), { minLength: 8, maxLength: 8 }),
    fc.option(fc.tuple(fc.string({ maxLength: 12 }), odd), { freq: 8 })
  ).chain(([chosen, picks, extra]) =>
    fc.tuple(...chosen.map((k, i) => (picks[i]![0] && plausible[k] !== undefined ? plausible[k]! : fc.constant(picks[i]![1])))).map((values) => {
      const config: Record<string, unknown> = {}
      chosen.forEach((k, i) => (config[k] = values[i]))
      if (extra !== null) config[extra[0]] = extra[1]
      return config
    })
  )

export type FuzzKind = "nomad-encoded" | "raw-cty" | "truncated" | "flipped" | "random-bytes"

export interface FuzzInput {
  readonly kind: FuzzKind
  readonly bytes: Uint8Array
  /** The config the bytes came from, when there is one (for the report of a failure). */
  readonly config?: Record<string, unknown>
}

const encode = (spec: Spec, config: Record<string, unknown>): { kind: FuzzKind; bytes: Uint8Array } => {
  try {
    return { kind: "nomad-encoded", bytes: encodeLikeNomad(spec, config) }
  } catch {
    return { kind: "raw-cty", bytes: encodeCtyMsgpack(config) }
  }
}

/** Inputs for one schema; `mapConfig` adjusts a generated config (e.g. points its image at a loopback registry). */
export const fuzzInputs = (
  what: "task" | "driver",
  options: Record<string, unknown>,
  mapConfig: (config: Record<string, unknown>) => Record<string, unknown>
): fc.Arbitrary<FuzzInput> => {
  const spec = hclSpec(options as Options)
  const configs = block(Object.keys(options), what === "task" ? plausibleTask : plausibleDriver, what === "task" ? ["image"] : []).map(mapConfig)
  const encoded = configs.map((config): FuzzInput => ({ ...encode(spec, config), config }))
  return fc.oneof(
    { weight: 6, arbitrary: encoded },
    {
      weight: 2,
      arbitrary: fc.tuple(encoded, fc.double({ min: 0, max: 1, noNaN: true })).map(([input, at]): FuzzInput => ({
        kind: "truncated",
        bytes: input.bytes.subarray(0, Math.floor(input.bytes.length * at)),
        ...(input.config === undefined ? {} : { config: input.config })
      }))
    },
    {
      weight: 1,
      arbitrary: fc.tuple(encoded, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([input, at, mask]): FuzzInput => {
        const bytes = Uint8Array.from(input.bytes)
        if (bytes.length > 0) bytes[at % bytes.length] = bytes[at % bytes.length]! ^ mask
        return { kind: "flipped", bytes, ...(input.config === undefined ? {} : { config: input.config }) }
      })
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): FuzzInput => ({ kind: "random-bytes", bytes })) }
  )
}
