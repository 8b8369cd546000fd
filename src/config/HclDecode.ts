/**
 * What Nomad's client does to a job's `config` block before the driver sees it (hashicorp/nomad
 * client/allocrunner/taskrunner/task_runner.go runDriver, helper/pluginutils/hclutils/util.go ParseHclInterface,
 * hclspecutils/dec.go): hcldec against the driver's hclspec — every attribute present (absent ones null),
 * defaults from Literal, values converted to the declared type as cty converts them, unknown keys
 * rejected. Used by `containerd-driver spec` to read a job's config as a Nomad client would, and by
 * tests to produce Nomad's config bytes; test/integration/nomad-oracle.test.ts checks it against the
 * real hcldec + cty. Covers the spec kinds and types this driver declares (plus `any` and `map(T)`);
 * others are refused. Strings are not evaluated as templates: `${...}`, `%{...}` and their `$${`,
 * `%%{` escapes stay verbatim (the client interpolates them with the task's variables).
 *
 * The result is the cty value in the form its msgpack encoding is read back: numbers are JS numbers,
 * bigints (int64 beyond 2^53) or decimal strings (CtyNumber.ts); strings are NFC-normalised as cty does.
 */
import { Either } from "effect"
import type { Spec } from "../gen/plugins/shared/hclspec/hcl_spec.js"
import { ctyNumberMsgpackValue, ctyNumberOfJs, ctyNumberText, parseCtyNumber } from "./CtyNumber.js"

type Body = Record<string, unknown>

/** hcldec rejected the config; the message is hcldec's kind of wording. */
export class HclDecodeError extends Error {}

type CtyType =
  | { readonly _tag: "string" | "number" | "bool" | "any" }
  | { readonly _tag: "list" | "map"; readonly element: CtyType }

/** The type expressions this emulation handles: primitives, `any`, `list(T)` and `map(T)` of concrete T. */
const parseType = (expression: string): CtyType => {
  const text = expression.trim()
  if (text === "string" || text === "number" || text === "bool" || text === "any") return { _tag: text }
  const m = /^(list|map)\s*\(([\s\S]*)\)$/.exec(text)
  if (m !== null) {
    const element = parseType(m[2]!)
    if (!mentionsAny(element)) return { _tag: m[1] as "list" | "map", element }
  }
  throw new HclDecodeError(`unsupported HCL type ${expression}`)
}

const mentionsAny = (type: CtyType): boolean =>
  type._tag === "any" || ((type._tag === "list" || type._tag === "map") && mentionsAny(type.element))

const isBody = (value: unknown): value is Body =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// Go's JSON decoder turns unpaired surrogates into U+FFFD; cty.StringVal normalises to NFC.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const ctyString = (s: string): string => s.replace(loneSurrogate, "\uFFFD").normalize("NFC")

const typeName = (type: CtyType): string =>
  type._tag === "list" || type._tag === "map" ? `${type._tag} of ${typeName(type.element)}` : type._tag

const inappropriate = (name: string, detail: string): HclDecodeError =>
  new HclDecodeError(`Incorrect attribute value type: Inappropriate value for attribute "${name}": ${detail}`)

/** Object keys after NFC; two keys that normalise alike are a duplicate, as in HCL's JSON parser. */
const ctyEntries = (body: Body, name: string): Array<[string, unknown]> => {
  const seen = new Set<string>()
  return Object.entries(body).flatMap(([k, v]): Array<[string, unknown]> => {
    const key = ctyString(k)
    if (seen.has(key)) throw new HclDecodeError(`Duplicate object attribute: An attribute named "${key}" was already defined (${name})`)
    seen.add(key)
    // A JS property set to undefined is not in the JSON at all.
    return v === undefined ? [] : [[key, v]]
  })
}

/** A JSON value as cty sees it without a type constraint (`any`): tuples, objects, numbers exact. */
const dynamic = (value: unknown, name: string): unknown => {
  if (value === null || value === undefined) return null
  if (typeof value === "string") return ctyString(value)
  if (typeof value === "boolean") return value
  if (typeof value === "number" || typeof value === "bigint") {
    const n = ctyNumberOfJs(value)
    return n === undefined ? null : ctyNumberMsgpackValue(n)
  }
  if (Array.isArray(value)) return value.map((v) => dynamic(v, name))
  if (isBody(value)) return Object.fromEntries(ctyEntries(value, name).map(([k, v]) => [k, dynamic(v, name)]))
  throw inappropriate(name, `unsupported value ${String(value)}`)
}

/** cty's conversion of a JSON value to `type` (convert.Convert's safe and unsafe primitive rules). */
const convert = (type: CtyType, value: unknown, name: string): unknown => {
  if (value === undefined || value === null) return null
  // JSON has no NaN or infinity: JSON.stringify, like Nomad's encoder, writes null.
  if (typeof value === "number" && !Number.isFinite(value)) return null
  switch (type._tag) {
    case "any":
      return dynamic(value, name)
    case "string":
      if (typeof value === "string") return ctyString(value)
      if (typeof value === "boolean") return String(value)
      if (typeof value === "number" || typeof value === "bigint") return ctyNumberText(ctyNumberOfJs(value)!)
      break
    case "number": {
      const n = typeof value === "number" || typeof value === "bigint" ? ctyNumberOfJs(value)
        : typeof value === "string" ? parseCtyNumber(ctyString(value))
        : undefined
      if (n !== undefined) return ctyNumberMsgpackValue(n)
      if (typeof value === "string") throw inappropriate(name, "a number is required.")
      break
    }
    case "bool":
      if (typeof value === "boolean") return value
      if (typeof value === "string") {
        if (value === "true" || value === "1") return true
        if (value === "false" || value === "0") return false
        throw inappropriate(name, "a bool is required.")
      }
      break
    case "list":
      if (Array.isArray(value)) return value.map((v, i) => convert(type.element, v, `${name}[${i}]`))
      break
    case "map":
      if (isBody(value)) {
        return Object.fromEntries(ctyEntries(value, name).map(([k, v]) => [k, convert(type.element, v, `${name}.${k}`)]))
      }
      break
  }
  throw inappropriate(name, `${typeName(type)} required.`)
}

/** A Literal's value: the HCL expression forms Options.ts writes (strings, numbers, bools, null, lists of them). */
const literal = (expression: string): unknown => {
  const text = expression.trim()
  if (text.startsWith("[") && text.endsWith("]")) return listLiteral(text.slice(1, -1), expression)
  if (text === "true" || text === "false") return text === "true"
  if (text === "null") return null
  const n = /^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? parseCtyNumber(text) : undefined
  if (n !== undefined) return ctyNumberMsgpackValue(n)
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(text)?.[1]
  // A string with a template interpolation or directive left after its escapes would need evaluating. Each escape
  // becomes a neutral character, not nothing: `$$${{` is `$`, `$${`, `{` (text), not the `${` that joins up without it.
  if (quoted !== undefined && !/[$%]\{/.test(quoted.replace(/\$\$\{|%%\{/g, "_"))) {
    const unescaped = quoted.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|([$%])\2\{/g, (_, e?: string, t?: string) => {
      if (t !== undefined) return `${t}{`
      if (e!.length > 1) return String.fromCodePoint(parseInt(e!.slice(1), 16))
      const simple: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\"": "\"", "\\": "\\" }
      if (simple[e!] === undefined) throw new HclDecodeError(`Invalid escape sequence \\${e} in literal ${expression}`)
      return simple[e!]!
    })
    return ctyString(unescaped)
  }
  throw new HclDecodeError(`unsupported literal expression ${expression}`)
}

/** The elements of a list literal's source between its brackets: literals separated by commas outside quotes. */
const listLiteral = (inner: string, expression: string): Array<unknown> => {
  const elements: Array<string> = []
  let current = ""
  let quoted = false
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!
    if (quoted && c === "\\") {
      current += c + (inner[++i] ?? "")
      continue
    }
    if (c === "\"") quoted = !quoted
    if (c === "," && !quoted) {
      elements.push(current)
      current = ""
    } else current += c
  }
  if (quoted) throw new HclDecodeError(`unsupported literal expression ${expression}`)
  if (current.trim() !== "" || elements.length > 0) elements.push(current)
  return elements.map((element) => {
    if (element.trim() === "" || element.trim().startsWith("[")) throw new HclDecodeError(`unsupported literal expression ${expression}`)
    return literal(element)
  })
}

/** The bodies a block type gets in HCL's JSON syntax: one object, or an array of them (a null element is an empty body); null or [] is none. */
const blockBodies = (value: unknown, name: string): Array<Body> => {
  const blocks = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]
  return blocks.map((b) => {
    if (b === null) return {}
    if (!isBody(b)) throw new HclDecodeError(`Incorrect JSON value type: A JSON object is required here, to define the ${name} block`)
    return b
  })
}

const own = (body: Body, key: string): unknown => (Object.hasOwn(body, key) ? body[key] : undefined)

/**
 * The bodies of labelled blocks in HCL's JSON syntax, by label: `{ "LABEL": body }`, where a body may also be an
 * array of bodies (a null element is an empty body; null or [] is no block), and the whole may be an array of
 * such objects. As hcldec, at least one label must be given, and a label may be given only once.
 */
const labelledBodies = (value: unknown, name: string, labelName: string): Array<[string, Body]> => {
  const missing = () =>
    new HclDecodeError(
      `Missing block label: At least one object property is required, whose name represents the ${name} block's ${labelName}.`
    )
  if (value === null) throw missing()
  const groups = Array.isArray(value) ? value : [value]
  const found: Array<[string, Body]> = []
  let labels = 0
  for (const group of groups) {
    if (!isBody(group)) {
      throw new HclDecodeError(`Incorrect JSON value type: A JSON object is required here, to specify the labels of the ${name} blocks.`)
    }
    for (const [label, bodies] of Object.entries(group)) {
      if (bodies === undefined) continue
      labels++
      const list = bodies === null ? [] : Array.isArray(bodies) ? bodies : [bodies]
      for (const body of list) {
        if (body !== null && !isBody(body)) {
          throw new HclDecodeError(
            `Incorrect JSON value type: Either a JSON object or a JSON array is required, representing the contents of one or more "${name}" blocks.`
          )
        }
        const key = ctyString(label)
        if (found.some(([seen]) => seen === key)) {
          throw new HclDecodeError(`Duplicate ${name} block: A block for ${name} ${JSON.stringify(key)} was already defined. The ${name} labels must be unique.`)
        }
        found.push([key, body ?? {}])
      }
    }
  }
  if (labels === 0) throw missing()
  return found
}

const decodeSpec = (spec: Spec, body: Body, inherited: string): unknown => {
  const block = spec.block
  switch (block?.$case) {
    case "object":
      return decodeObject(block.value.attributes, body)
    case "Attr": {
      const name = block.value.name || inherited
      const value = own(body, name)
      // Only an absent attribute is missing: an explicit null satisfies `required` (the value is null).
      if (value === undefined && block.value.required) {
        throw new HclDecodeError(`Missing required argument: The argument "${name}" is required, but no definition was found.`)
      }
      return convert(parseType(block.value.type), value, name)
    }
    case "default": {
      const primary = decodeSpec(block.value.primary!, body, "")
      return primary === null ? decodeSpec(block.value.default!, body, "") : primary
    }
    case "literal":
      return literal(block.value.value)
    case "blockValue": {
      const name = block.value.name || inherited
      const bodies = blockBodies(own(body, name), name)
      if (bodies.length > 1) throw new HclDecodeError(`Duplicate ${name} block: Only one block of type "${name}" is allowed.`)
      if (bodies.length === 0) {
        if (block.value.required) throw new HclDecodeError(`Missing ${name} block: A block of type "${name}" is required here.`)
        return null
      }
      return decodeSpec(block.value.nested!, bodies[0]!, "")
    }
    case "blockList": {
      const name = block.value.name || inherited
      const bodies = blockBodies(own(body, name), name)
      const { maxItems, minItems } = block.value
      if (bodies.length < minItems) throw new HclDecodeError(`Insufficient ${name} blocks: At least ${minItems} "${name}" blocks are required.`)
      if (maxItems > 0n && bodies.length > maxItems) {
        throw new HclDecodeError(`Too many ${name} blocks: No more than ${maxItems} "${name}" blocks are allowed`)
      }
      return bodies.map((b) => decodeSpec(block.value.nested!, b, ""))
    }
    case "blockMap": {
      const name = block.value.name || inherited
      if (block.value.labels.length !== 1) throw new HclDecodeError(`unsupported block map ${name} with ${block.value.labels.length} labels`)
      const value = own(body, name)
      if (value === undefined) return {}
      return Object.fromEntries(labelledBodies(value, name, block.value.labels[0]!).map(([label, b]) => [label, decodeSpec(block.value.nested!, b, "")]))
    }
    default:
      throw new HclDecodeError(`unsupported spec ${block?.$case}`)
  }
}

const decodeObject = (attributes: Record<string, Spec>, body: Body): Body => {
  for (const [key, value] of Object.entries(body)) {
    if (value !== undefined && !Object.hasOwn(attributes, key)) {
      // Real hcldec on Nomad's JSON says `Extraneous JSON object property; No argument or block type is
      // named "x".`; this is its native-syntax wording, which `containerd-driver spec` users know.
      throw new HclDecodeError(`Extraneous JSON object property; No argument or block type is named "${key}".`)
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
