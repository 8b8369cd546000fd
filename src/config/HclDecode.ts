/**
 * What Nomad's client does to a job's `config` block before the driver sees it (nomad-plugin-protocol.md
 * §3.2–3.3): hcldec against the driver's hclspec — every attribute present (absent ones null),
 * defaults from Literal, values converted to the declared type, unknown keys rejected. Used by
 * `containerd-driver spec` to read a job's config exactly as a Nomad client would, and by tests to
 * produce Nomad's config bytes. Covers the spec kinds this driver declares; others are refused.
 */
import { Either } from "effect"
import type { Spec } from "../gen/plugins/shared/hclspec/hcl_spec.js"

type Body = Record<string, unknown>

/** hcldec rejected the config; the message is hcldec's kind of wording. */
export class HclDecodeError extends Error {}

const convert = (type: string, value: unknown, name: string): unknown => {
  if (value === undefined || value === null) return null
  switch (type) {
    case "string":
      if (typeof value === "string") return value
      if (typeof value === "number" || typeof value === "boolean") return String(value)
      break
    case "number":
      // cty writes integers in their smallest msgpack form: keep safe bigints as plain numbers.
      if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value
      if (typeof value === "number") return value
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value)
      break
    case "bool":
      if (typeof value === "boolean") return value
      if (value === "true" || value === "false") return value === "true"
      break
    case "list(string)":
      if (Array.isArray(value)) return value.map((v) => convert("string", v, name))
      break
    case "list(map(string))": {
      const maps = Array.isArray(value) ? value : [value]
      if (maps.every((m) => typeof m === "object" && m !== null && !Array.isArray(m))) {
        return maps.map((m) =>
          Object.fromEntries(Object.entries(m as Body).map(([k, v]) => [k, convert("string", v, `${name}.${k}`)]))
        )
      }
      break
    }
    default:
      throw new HclDecodeError(`unsupported HCL type ${type}`)
  }
  throw new HclDecodeError(`Incorrect attribute value type: ${name} cannot be converted to ${type}`)
}

const literal = (expression: string): unknown => JSON.parse(expression)

const decodeSpec = (spec: Spec, body: Body, inherited: string): unknown => {
  const block = spec.block
  switch (block?.$case) {
    case "object":
      return decodeObject(block.value.attributes, body)
    case "Attr": {
      const name = block.value.name || inherited
      const value = body[name]
      if ((value === undefined || value === null) && block.value.required) {
        throw new HclDecodeError(`Missing required argument: The argument "${name}" is required`)
      }
      return convert(block.value.type, value, name)
    }
    case "default": {
      const primary = decodeSpec(block.value.primary!, body, "")
      return primary === null ? decodeSpec(block.value.default!, body, "") : primary
    }
    case "literal":
      return literal(block.value.value)
    case "blockValue": {
      const name = block.value.name || inherited
      const value = body[name]
      if (value === undefined || value === null) {
        if (block.value.required) throw new HclDecodeError(`Missing ${name} block`)
        return null
      }
      const blocks = Array.isArray(value) ? value : [value]
      if (blocks.length !== 1) throw new HclDecodeError(`Duplicate ${name} block`)
      return decodeSpec(block.value.nested!, blocks[0] as Body, "")
    }
    case "blockList": {
      const name = block.value.name || inherited
      const value = body[name]
      const blocks = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]
      return blocks.map((b) => decodeSpec(block.value.nested!, b as Body, ""))
    }
    default:
      throw new HclDecodeError(`unsupported spec ${block?.$case}`)
  }
}

const decodeObject = (attributes: Record<string, Spec>, body: Body): Body => {
  for (const key of Object.keys(body)) {
    if (!(key in attributes)) {
      throw new HclDecodeError(`Unsupported argument: An argument named "${key}" is not expected here`)
    }
  }
  const out: Body = {}
  for (const key of Object.keys(attributes).sort()) out[key] = decodeSpec(attributes[key]!, body, key)
  return out
}

/** The cty value of a config body decoded against `spec`, or hcldec's error text. */
export const hclDecode = (spec: Spec, config: Body): Either.Either<unknown, string> =>
  Either.try({
    try: () => decodeSpec(spec, config, ""),
    catch: (e) => (e instanceof HclDecodeError ? e.message : String(e))
  })
