/**
 * The hclspec Nomad uses to validate and decode a config block, derived from option declarations.
 * Every Attr carries an explicit name: names are only inherited inside an Object, not inside the
 * primary of a Default (hashicorp/nomad helper/pluginutils/hclspecutils/dec.go).
 */
import type { Spec } from "../gen/plugins/shared/hclspec/hcl_spec.js"
import type { Option, Options } from "./Options.js"

export const hclSpec = (options: Options): Spec => {
  const attributes: Record<string, Spec> = {}
  for (const [name, option] of Object.entries(options)) attributes[name] = optionSpec(name, option)
  return { block: { $case: "object", value: { attributes } } }
}

const optionSpec = (name: string, option: Option): Spec => {
  const hcl = option.hcl
  switch (hcl._tag) {
    case "Attr": {
      const attr: Spec = { block: { $case: "Attr", value: { name, type: hcl.type, required: hcl.required } } }
      if (hcl.literal === undefined) return attr
      return {
        block: {
          $case: "default",
          value: { primary: attr, default: { block: { $case: "literal", value: { value: hcl.literal } } } }
        }
      }
    }
    case "Block":
      return { block: { $case: "blockValue", value: { name, required: hcl.required, nested: hclSpec(hcl.options) } } }
    case "BlockList":
      return { block: { $case: "blockList", value: { name, minItems: 0n, maxItems: 0n, nested: hclSpec(hcl.options) } } }
    case "BlockMap":
      return { block: { $case: "blockMap", value: { name, labels: [hcl.label], nested: hclSpec(hcl.options) } } }
  }
}
