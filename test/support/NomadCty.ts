/**
 * Produces config bytes exactly as a Nomad client does (nomad-plugin-protocol.md §2.4, §3.3–3.5):
 * hcldec against the plugin's hclspec (src/config/HclDecode.ts), then cty's msgpack marshalling
 * (keys sorted bytewise, integers in their smallest form, other numbers as float64).
 */
import { encode } from "@msgpack/msgpack"
import { Either } from "effect"
import { hclDecode } from "../../src/config/HclDecode.js"
import type { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"

/** hcldec + cty msgpack, as the Nomad client does it. */
export const encodeLikeNomad = (spec: Spec, config: Record<string, unknown>): Uint8Array =>
  encode(
    Either.getOrElse(hclDecode(spec, config), (message) => {
      throw new Error(message)
    }),
    { sortKeys: true, useBigInt64: true, forceIntegerToFloat: false }
  )
