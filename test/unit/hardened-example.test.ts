/**
 * example/hardened-agent.hcl and its `--config` twin example/hardened-plugin-config.json: the JSON is a valid plugin
 * config that leaves no route to the host open outside the `infra` namespace, and the HCL says the same settings
 * (test/integration/policy.test.ts runs tasks under the JSON one).
 */
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { dropNulls } from "../../src/config/Cty.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import { effectivePolicy, nodePolicy, openRoutes, policyWarnings } from "../../src/policy/Policy.js"

const read = (file: string) => fs.readFileSync(fileURLToPath(new URL(`../../example/${file}`, import.meta.url)), "utf8")
const json = JSON.parse(read("hardened-plugin-config.json")) as Record<string, unknown>
const hcl = read("hardened-agent.hcl")
const config = Schema.decodeUnknownSync(DriverConfig, { onExcessProperty: "error" })(dropNulls(json))

/** `name = value` somewhere in the HCL, whitespace and line breaks inside lists ignored. */
const hclSays = (name: string, value: unknown) => {
  const flat = hcl.replace(/\s+/g, " ")
  const text = Array.isArray(value) ? `[${value.map((v) => JSON.stringify(v)).join(", ")}]` : JSON.stringify(value)
  return flat.includes(`${name} = ${text}`)
}

describe("the hardened example", () => {
  it("closes every route to the host for ordinary namespaces and reopens them for infra only", () => {
    expect(openRoutes(nodePolicy(config))).toEqual([])
    expect(policyWarnings(config)).toEqual([])
    const node = nodePolicy(config)
    expect(node.allow_privileged || node.allow_host_pid || node.allow_host_network || node.volumes_enabled).toBe(false)
    expect(effectivePolicy(config, "team-a").policy).toEqual(node)
    expect(effectivePolicy(config, "infra").policy).toMatchObject({ allow_privileged: true, allow_host_pid: true, volumes_enabled: true })
  })

  it("says in HCL what the JSON twin says", () => {
    for (const [name, value] of Object.entries(json)) {
      if (typeof value === "object" && !Array.isArray(value)) continue
      expect(hclSays(name, value), name).toBe(true)
    }
    const infra = (json["namespace_policy"] as Record<string, Record<string, unknown>>)["infra"]!
    expect(hcl).toContain("namespace_policy \"infra\" {")
    for (const [name, value] of Object.entries(infra)) {
      if (typeof value === "object" && !Array.isArray(value)) continue
      expect(hclSays(name, value), `infra ${name}`).toBe(true)
    }
    expect(hclSays("image_delay", (json["gc"] as Record<string, unknown>)["image_delay"])).toBe(true)
  })
})
