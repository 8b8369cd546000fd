/**
 * The operator options (allow-lists, `namespace_policy` blocks, `gc`, `extra_labels`) through the real Nomad config
 * pipeline (test/oracle/nomadcty: hcldec + cty msgpack) and through our emulation of it, in the shapes Nomad's agent
 * hands them over: labelled blocks as lists of maps keyed by label, or as one object. Both must give the same bytes,
 * which the plugin must decode to the settings the operator wrote; both must refuse the same mistakes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { decodeConfig } from "../../src/config/Cty.js"
import { DriverConfig, driverOptions } from "../../src/config/DriverConfig.js"
import { hclDecode } from "../../src/config/HclDecode.js"
import { hclSpec } from "../../src/config/HclSpec.js"
import { encodeLikeNomad } from "../support/NomadCty.js"
import { oracle, oracleBytes } from "../support/NomadOracle.js"

const spec = hclSpec(driverOptions)
const decode = decodeConfig(DriverConfig, "plugin config")
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

/** Our bytes are the real pipeline's; returns the config the plugin decodes from them. */
const decodedLikeNomad = (config: Record<string, unknown>): DriverConfig => {
  const real = oracleBytes({ spec, config })
  expect(hex(encodeLikeNomad(spec, config))).toBe(hex(real))
  return Either.getOrThrow(decode(real))
}

const bothReject = (config: Record<string, unknown>): string => {
  const [real] = oracle([{ spec, config }])
  expect(real!.error, `real hcldec accepted ${JSON.stringify(config)}`).toBeDefined()
  expect(Either.isLeft(hclDecode(spec, config)), `our hclDecode accepted ${JSON.stringify(config)}`).toBe(true)
  return real!.error!
}

describe("policy options in Nomad's config pipeline", () => {
  it("an empty config gives the original's permissive defaults (list defaults are literals Nomad evaluates)", () => {
    expect(decodedLikeNomad({})).toMatchObject({
      allow_privileged: true,
      allow_caps: ["all"],
      allow_runtimes: ["*"],
      allowed_devices: ["*"],
      allow_host_pid: true,
      allow_host_network: true,
      default_seccomp: false,
      allow_seccomp_unconfined: true,
      namespace_policy: {},
      extra_labels: ["job_name", "job_id", "task_group_name", "task_name", "namespace", "node_name", "node_id"]
    })
    const decoded = decodedLikeNomad({})
    expect(decoded.volumes).toBeUndefined()
    expect(decoded.gc).toBeUndefined()
  })

  it("a hardened node with namespace_policy blocks as the agent's HCL parser hands them over (lists of maps by label)", () => {
    const config = {
      allow_privileged: false,
      allow_caps: ["chown", "CAP_KILL", "net_bind_service"],
      allow_runtimes: [],
      volumes: [{ enabled: false }],
      allowed_devices: ["/dev/nvidia*"],
      allow_host_pid: false,
      allow_host_network: false,
      default_seccomp: true,
      allow_seccomp_unconfined: false,
      namespace_policy: [
        { infra: [{ allow_privileged: true, volumes: [{ enabled: true }], allow_caps: ["all"] }] },
        { "team-*": [{ allowed_devices: [] }] }
      ],
      gc: [{ image: true, image_delay: "10m", dangling_containers: [{ period: "1m", dry_run: true }] }],
      extra_labels: ["job_*", "namespace"]
    }
    expect(decodedLikeNomad(config)).toMatchObject({
      allow_privileged: false,
      allow_caps: ["chown", "CAP_KILL", "net_bind_service"],
      allow_runtimes: [],
      volumes: { enabled: false },
      allowed_devices: ["/dev/nvidia*"],
      namespace_policy: {
        infra: { allow_privileged: true, volumes: { enabled: true }, allow_caps: ["all"] },
        "team-*": { allowed_devices: [] }
      },
      gc: {
        image: true,
        image_delay: "10m",
        dangling_containers: { enabled: true, period: "1m", creation_grace: "5m", dry_run: true }
      },
      extra_labels: ["job_*", "namespace"]
    })
  })

  it("labelled blocks also come as one object by label (hand-written JSON); unset settings stay unset", () => {
    const decoded = decodedLikeNomad({ namespace_policy: { default: { allow_host_network: false }, infra: {} } })
    expect(decoded.namespace_policy).toEqual({ default: { allow_host_network: false }, infra: {} })
  })

  it("refuses what the real hcldec refuses", () => {
    expect(bothReject({ namespace_policy: [{ infra: [{}] }, { infra: [{}] }] })).toContain("Duplicate namespace_policy block")
    expect(bothReject({ namespace_policy: { infra: [{ allow_privileged: true }, { allow_privileged: false }] } })).toContain(
      "Duplicate namespace_policy block"
    )
    expect(bothReject({ namespace_policy: { infra: { allow_privilegd: true } } })).toContain("allow_privilegd")
    expect(bothReject({ namespace_policy: { infra: { gc: [{ image: true }] } } })).toContain("\"gc\"")
    // In hcldec's own words, which name the block's label (here the namespace).
    const missingLabel = bothReject({ namespace_policy: {} }).replace(/^config\.json:\d+,\d+-\d+: /, "").replace(/, and \d+ other diagnostic\(s\)$/, "")
    expect(missingLabel).toContain("Missing block label")
    expect(hclDecode(spec, { namespace_policy: {} })).toEqual(Either.left(missingLabel.replace("; ", ": ")))
    expect(bothReject({ allow_caps: "all" })).toContain("list of string required")
    expect(bothReject({ gc: [{ dangling_containers: [{ enabled: "maybe" }] }] })).toContain("a bool is required")
  })

  it("the plugin refuses settings hcldec lets through, naming them", () => {
    const message = (config: Record<string, unknown>) =>
      Either.match(decode(encodeLikeNomad(spec, config)), { onLeft: (e) => e.message, onRight: () => "accepted" })
    expect(message({ allow_caps: ["chown", "sys_admn"] })).toContain("allow_caps.1: \"sys_admn\" is not a Linux capability name")
    expect(message({ namespace_policy: { "in fra": {} } })).toContain("namespace_policy \"in fra\"")
    expect(message({ namespace_policy: { infra: { allow_caps: ["nope"] } } })).toContain("\"nope\" is not a Linux capability name")
    expect(message({ gc: [{ image_delay: "soon" }] })).toContain("gc.image_delay \"soon\" is not a Go duration")
    expect(message({ gc: [{ dangling_containers: [{ period: "0s" }] }] })).toContain("must be more than zero")
    expect(message({ extra_labels: ["job_nmae"] })).toContain("extra_labels \"job_nmae\" names none of")
    expect(message({ allowed_devices: [""] })).toContain("an empty pattern matches nothing")
  })
})
