/**
 * Produces config bytes as a Nomad client does (hashicorp/nomad client/allocrunner/taskrunner/task_runner.go
 * runDriver, helper/pluginutils/loader/init.go): hcldec against the plugin's hclspec (src/config/HclDecode.ts),
 * then cty's msgpack marshalling (src/config/CtyEncode.ts).
 * test/integration/nomad-oracle.test.ts checks these bytes against the real Go pipeline.
 */
import { Either } from "effect"
import { encodeConfig, encodeCtyMsgpack } from "../../src/config/CtyEncode.js"
import type { Spec } from "../../src/gen/plugins/shared/hclspec/hcl_spec.js"

export { encodeCtyMsgpack }

/**
 * Strings with `${`, `%{` (or their `$${`, `%%{` escapes) are HCL templates that the client evaluates
 * with the task's variables; the emulation keeps them verbatim, so it refuses to pretend to be Nomad here.
 */
const refuseTemplates = (value: unknown, path: string): void => {
  if (typeof value === "string") {
    if (/[$%]\{/.test(value)) {
      throw new Error(`encodeLikeNomad: ${path} = ${JSON.stringify(value)} is an HCL template, which Nomad evaluates; not emulated`)
    }
  } else if (Array.isArray(value)) value.forEach((v, i) => refuseTemplates(v, `${path}[${i}]`))
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) refuseTemplates(v, path === "" ? k : `${path}.${k}`)
  }
}

/** hcldec + cty msgpack, as the Nomad client does it. */
export const encodeLikeNomad = (spec: Spec, config: Record<string, unknown>): Uint8Array => {
  refuseTemplates(config, "")
  return Either.getOrElse(encodeConfig(spec, config), (message) => {
    throw new Error(message)
  })
}
