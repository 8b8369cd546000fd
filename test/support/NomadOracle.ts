/**
 * The independent oracle for config bytes: test/oracle/nomadcty, a Go program running the real hcldec +
 * cty msgpack pipeline from Debian's packages (hcl 2.14.1, cty 1.12.1), built by
 * scripts/build-nomad-oracle.sh (called by `scripts/test-env.sh up`) into .cache/nomad-oracle/nomadcty.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"

/**
 * The checkout the oracles are built in and their sources live in. Mutation runs (scripts/mutate.mjs) run the
 * tests in a copy of the sources without .cache or test/oracle, and name the checkout in ORACLE_CHECKOUT.
 */
export const oracleCheckout = process.env.ORACLE_CHECKOUT ?? fileURLToPath(new URL("../..", import.meta.url))

const binary = path.join(oracleCheckout, ".cache/nomad-oracle/nomadcty")
const source = path.join(oracleCheckout, "test/oracle/nomadcty/main.go")

export interface OracleRequest {
  readonly spec: Spec
  readonly config: Record<string, unknown>
  /** String variables for `${...}` in config strings, as the client offers the task's environment. */
  readonly variables?: Readonly<Record<string, string>>
}

/** Hex of the bytes, or hcldec's diagnostics. */
export type OracleResult = { readonly hex: string; readonly error?: undefined } | { readonly error: string; readonly hex?: undefined }

/** Throws, naming the fix, when the binary is missing or older than its source. */
export const requireOracle = (): string => {
  const built = fs.statSync(binary, { throwIfNoEntry: false })
  if (built === undefined) {
    throw new Error(`the Nomad config oracle ${binary} is missing: run scripts/test-env.sh up (or scripts/build-nomad-oracle.sh)`)
  }
  if (built.mtimeMs < fs.statSync(source).mtimeMs) {
    throw new Error(`the Nomad config oracle ${binary} is older than ${source}: run scripts/build-nomad-oracle.sh`)
  }
  return binary
}

/** hcl_spec.proto's Spec as the oracle reads it: one key, the proto field name of the case. */
export const specJson = (spec: Spec): unknown => {
  const b = spec.block
  switch (b?.$case) {
    case "object":
      return { object: { attributes: Object.fromEntries(Object.entries(b.value.attributes).map(([k, v]) => [k, specJson(v)])) } }
    case "array":
      return { array: { values: b.value.values.map(specJson) } }
    case "Attr":
      return { Attr: b.value }
    case "blockValue":
      return { block_value: { name: b.value.name, required: b.value.required, nested: b.value.nested && specJson(b.value.nested) } }
    case "blockAttrs":
      return { block_attrs: b.value }
    case "blockList":
    case "blockSet": {
      const { maxItems, minItems, name, nested } = b.value
      const value = { name, min_items: Number(minItems), max_items: Number(maxItems), nested: nested && specJson(nested) }
      return b.$case === "blockList" ? { block_list: value } : { block_set: value }
    }
    case "blockMap":
      return { block_map: { name: b.value.name, labels: b.value.labels, nested: b.value.nested && specJson(b.value.nested) } }
    case "default":
      return { default: { primary: b.value.primary && specJson(b.value.primary), default: b.value.default && specJson(b.value.default) } }
    case "literal":
      return { literal: { value: b.value.value } }
    case undefined:
      return {}
  }
}

/** Runs every request through the real pipeline in one process; results in the same order. */
export const oracle = (requests: ReadonlyArray<OracleRequest>): Array<OracleResult> => {
  const input = JSON.stringify(requests.map((r) => ({ spec: specJson(r.spec), config: r.config, variables: r.variables })))
  const output = execFileSync(requireOracle(), [], { input, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" })
  const results = JSON.parse(output) as Array<OracleResult>
  if (results.length !== requests.length) throw new Error(`oracle answered ${results.length} of ${requests.length} requests`)
  return results
}

/** The real pipeline's bytes for one config; throws with hcldec's diagnostics if it rejects the config. */
export const oracleBytes = (request: OracleRequest): Uint8Array => {
  const [result] = oracle([request])
  if (result!.hex === undefined) throw new Error(`the real hcldec rejected the config: ${result!.error}`)
  return new Uint8Array(Buffer.from(result!.hex, "hex"))
}
