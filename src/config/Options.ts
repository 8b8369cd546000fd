/**
 * A small vocabulary for declaring plugin and task options once. Each option carries:
 * - its HCL shape, from which the hclspec sent to Nomad is built (HclSpec.ts),
 * - the Schema field that decodes what Nomad sends (cty values) into the domain value,
 * - its documentation, from which the README tables are built (OptionTables.ts).
 * So names, types, defaults, validation, the hclspec and the docs cannot drift apart.
 */
import { ParseResult, Schema } from "effect"
import { type CtyNumber, ctyNumberOfJs, ctyNumberText, parseCtyNumber } from "./CtyNumber.js"

export type HclShape =
  | {
    readonly _tag: "Attr"
    /** HCL type expression: string, bool, number, list(string), list(map(string)). */
    readonly type: string
    readonly required: boolean
    /** HCL expression of the default, sent to Nomad as Default(Attr, Literal). */
    readonly literal?: string
  }
  | { readonly _tag: "Block"; readonly required: boolean; readonly options: Options }
  | { readonly _tag: "BlockList"; readonly options: Options }
  /** Labelled blocks, `name "LABEL" { ... }`, decoded as a map by label (or `name = { LABEL = { ... } }`). */
  | { readonly _tag: "BlockMap"; readonly label: string; readonly options: Options }

export interface Option<F extends Schema.Struct.Field = Schema.Struct.Field> {
  readonly hcl: HclShape
  readonly field: F
  readonly doc: string
  /** The default as shown to users, when there is one. */
  readonly defaultText?: string
}

export type Options = { readonly [name: string]: Option }

type FieldsOf<O extends Options> = { readonly [K in keyof O]: O[K]["field"] }

/** The Schema decoding a cty object with these options (absent values take defaults; see Cty.ts for nulls). */
export const struct = <O extends Options>(options: O): Schema.Struct<FieldsOf<O>> => {
  const fields: Record<string, Schema.Struct.Field> = {}
  for (const [name, option] of Object.entries(options)) fields[name] = option.field
  return Schema.Struct(fields as FieldsOf<O>)
}

// --- cty scalars -----------------------------------------------------------------------------
// Nomad has already converted values to the declared HCL type, but numbers arrive in any msgpack
// form: small ints, int64 as bigint, float64 (±Inf included), or a decimal string for values beyond
// int64 (go-cty's msgpack marshaller). They are read exactly, so none is rounded into another value.

/** The exact number cty sent, or undefined for a value that is not a number. */
const ctyNumberOf = (value: unknown): CtyNumber | undefined => {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return undefined
    return Number.isFinite(value) ? ctyNumberOfJs(value) : { _tag: "Infinite", negative: value < 0 }
  }
  if (typeof value === "bigint") return ctyNumberOfJs(value)
  if (typeof value === "string") return parseCtyNumber(value)
  return undefined
}

/** A number as a message shows it: in full, or its first digits and its length when it is very long. */
const numberForMessage = (n: CtyNumber): string => {
  const text = ctyNumberText(n)
  if (text.length <= 32) return text
  const digits = text.replace(/[^0-9]/g, "").length
  return `${text.slice(0, 12)}… (${digits} digits)`
}

const maxWhole = BigInt(Number.MAX_SAFE_INTEGER)

/** A whole number within ±(2^53 − 1), which every number option of the driver fits in. */
const Int = Schema.transformOrFail(Schema.Unknown, Schema.Number, {
  strict: true,
  decode: (value, _, ast) => {
    const fail = (message: string) => ParseResult.fail(new ParseResult.Type(ast, value, message))
    const n = ctyNumberOf(value)
    if (n === undefined) return fail("expected a number")
    const range = `from -${maxWhole} to ${maxWhole}`
    if (n._tag === "Infinite") return fail(`expected a whole number ${range}, got ${ctyNumberText(n)}`)
    if (n.numerator % n.denominator !== 0n) return fail(`expected a whole number, got ${numberForMessage(n)}`)
    const whole = n.numerator / n.denominator
    if (whole > maxWhole || whole < -maxWhole) return fail(`expected a whole number ${range}, got ${numberForMessage(n)}`)
    return ParseResult.succeed(Number(whole))
  },
  encode: ParseResult.succeed
}).annotations({ identifier: "number" })

const Str = Schema.String.annotations({ identifier: "string", message: () => "expected a string" })
const Bool = Schema.Boolean.annotations({ identifier: "bool", message: () => "expected true or false" })

// The messages of lists, maps and blocks given something else: Schema's own would show its type notation
// ("Expected ReadonlyArray<...>, actual ...") in a task event.
/** A sub-block's options; anything but an object is "expected a block" before its options are looked at. */
const blockOf = <O extends Options>(options: O) =>
  Schema.compose(Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({ message: () => "expected a block" }), struct(options), {
    strict: false
  })

const listOf = <S extends Schema.Schema.Any>(element: S, what: string): Schema.Array$<S> =>
  Schema.Array(element).annotations({ message: () => `expected a list of ${what}` })

/** `list(map(string))`: Nomad hands map-like options over as a list of maps; merge them in order. */
const StringMapFromCty = Schema.transform(
  Schema.Union(
    Schema.Array(Schema.Record({ key: Schema.String, value: Str })),
    Schema.Record({ key: Schema.String, value: Str })
  ).annotations({ message: () => ({ message: "expected a map of strings", override: true }) }),
  Schema.Record({ key: Schema.String, value: Schema.String }),
  {
    strict: true,
    decode: (maps) => (Array.isArray(maps) ? Object.assign({}, ...maps) : maps),
    encode: (map) => [map]
  }
)

// --- option constructors ---------------------------------------------------------------------

interface Doc {
  readonly doc: string
}

/** A string option. `check` adds validation (its message names the option for the user). */
export function string(
  o: Doc & { readonly required: true; readonly check?: Schema.Schema<string> }
): Option<Schema.Schema<string, string>>
export function string(
  o: Doc & { readonly default: string; readonly check?: Schema.Schema<string> }
): Option<Schema.optionalWith<Schema.Schema<string, string>, { default: () => string }>>
export function string(
  o: Doc & { readonly check?: Schema.Schema<string> }
): Option<Schema.optionalWith<Schema.Schema<string, string>, { exact: true }>>
export function string(
  o: Doc & { readonly required?: true; readonly default?: string; readonly check?: Schema.Schema<string> }
): Option {
  const schema = o.check ? Schema.compose(Str, o.check) : Str
  return scalar("string", schema, o.required === true, o.default, o.doc)
}

export function bool(o: Doc & { readonly default: boolean }) {
  return scalar("bool", Bool, false, o.default, o.doc) as Option<
    Schema.optionalWith<typeof Bool, { default: () => boolean }>
  >
}

/** A bool whose absence means something else than either value (e.g. "use the node's setting"). */
export function optionalBool(o: Doc) {
  return scalar("bool", Bool, false, undefined, o.doc) as Option<Schema.optionalWith<typeof Bool, { exact: true }>>
}

/** A whole-number option. */
export function int(o: Doc & { readonly check?: Schema.Schema<number> }) {
  const schema = o.check ? Schema.compose(Int, o.check) : Int
  return scalar("number", schema, false, undefined, o.doc) as Option<
    Schema.optionalWith<Schema.Schema<number, unknown>, { exact: true }>
  >
}

/** A list of strings; absent means `default` (an empty list unless given). */
export function stringList(
  o: Doc & { readonly check?: Schema.Schema<string>; readonly default?: ReadonlyArray<string> }
) {
  const element = o.check ? Schema.compose(Str, o.check) : Str
  const defaultValue = o.default ?? []
  return {
    hcl: {
      _tag: "Attr",
      type: "list(string)",
      required: false,
      ...(defaultValue.length === 0 ? {} : { literal: hclLiteral(defaultValue) })
    },
    field: Schema.optionalWith(listOf(element, "strings"), { default: (): ReadonlyArray<string> => [...defaultValue] }),
    doc: o.doc,
    ...(defaultValue.length === 0 ? {} : { defaultText: JSON.stringify(defaultValue) })
  } as Option<
    Schema.optionalWith<Schema.Array$<Schema.Schema<string, string>>, { default: () => ReadonlyArray<string> }>
  >
}

/** A list of strings whose absence means something else than an empty list (e.g. `entrypoint`). */
export function optionalStringList(o: Doc & { readonly check?: Schema.Schema<string> }) {
  const element = o.check ? Schema.compose(Str, o.check) : Str
  return {
    hcl: { _tag: "Attr", type: "list(string)", required: false },
    field: Schema.optionalWith(listOf(element, "strings"), { exact: true }),
    doc: o.doc
  } as Option<Schema.optionalWith<Schema.Array$<Schema.Schema<string, string>>, { exact: true }>>
}

/** A string map, declared as `list(map(string))` so both `x = { ... }` and `x { ... }` work in jobs. */
export function stringMap(o: Doc) {
  return {
    hcl: { _tag: "Attr", type: "list(map(string))", required: false },
    field: Schema.optionalWith(StringMapFromCty, { default: () => ({}) }),
    doc: o.doc
  } as Option<Schema.optionalWith<typeof StringMapFromCty, { default: () => {} }>>
}

/** A single optional sub-block, e.g. `auth { ... }`; absent means undefined. */
export function block<O extends Options>(
  o: Doc & { readonly options: O; readonly check?: (value: Schema.Schema.Type<Schema.Struct<FieldsOf<O>>>) => string | true }
) {
  const check = o.check
  const shape = blockOf(o.options)
  const inner = check ? shape.pipe(Schema.filter((value) => check(value))) : shape
  return {
    hcl: { _tag: "Block", required: false, options: o.options },
    field: Schema.optionalWith(inner, { exact: true }),
    doc: o.doc
  } as Option<Schema.optionalWith<typeof inner, { exact: true }>>
}

/** A repeated sub-block, e.g. `mounts { ... }` (or `mounts = [{ ... }]`); absent means an empty list. */
export function blockList<O extends Options>(o: Doc & { readonly options: O }) {
  const inner = blockOf(o.options)
  return {
    hcl: { _tag: "BlockList", options: o.options },
    field: Schema.optionalWith(listOf(inner, "blocks"), { default: () => [] }),
    doc: o.doc
  } as Option<Schema.optionalWith<Schema.Array$<typeof inner>, { default: () => [] }>>
}

/**
 * Labelled blocks, e.g. `namespace_policy "infra" { ... }` (or `namespace_policy = { infra = { ... } }`), as a
 * record by label; absent means an empty record. The nested options must not be `any`-typed: hcldec panics on an
 * `any` attribute inside a block map.
 */
export function blockMap<O extends Options>(
  o: Doc & { readonly label: string; readonly options: O; readonly checkLabel?: (label: string) => string | true }
) {
  const checkLabel = o.checkLabel
  // Checked on the whole record: a key refused by a Record's key schema would only be called "not a known option".
  const inner = Schema.Record({ key: Schema.String, value: blockOf(o.options) }).annotations({ message: () => "expected labelled blocks" }).pipe(
    Schema.filter((blocks) => {
      if (checkLabel === undefined) return true
      for (const label of Object.keys(blocks)) {
        const checked = checkLabel(label)
        if (checked !== true) return checked
      }
      return true
    })
  )
  return {
    hcl: { _tag: "BlockMap", label: o.label, options: o.options },
    field: Schema.optionalWith(inner, { default: () => ({}) }),
    doc: o.doc
  } as Option<Schema.optionalWith<typeof inner, { default: () => {} }>>
}

function scalar<A>(
  type: string,
  schema: Schema.Schema<A, any>,
  required: boolean,
  defaultValue: A | undefined,
  doc: string
): Option {
  if (required) return { hcl: { _tag: "Attr", type, required: true }, field: schema, doc }
  if (defaultValue === undefined) {
    return {
      hcl: { _tag: "Attr", type, required: false },
      field: Schema.optionalWith(schema, { exact: true }),
      doc
    }
  }
  return {
    hcl: { _tag: "Attr", type, required: false, literal: hclLiteral(defaultValue) },
    field: Schema.optionalWith(schema, { default: () => defaultValue }),
    doc,
    defaultText: JSON.stringify(defaultValue)
  }
}

/**
 * A default as HCL expression source for a Literal spec. Not JSON: HCL has no `\b`, `\f` or `\/`
 * escapes, and `${` / `%{` in a quoted string start a template, so they are written `$${` / `%%{`.
 */
export const hclLiteral = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(hclLiteral).join(", ")}]`
  if (typeof value !== "string") return JSON.stringify(value)
  const escaped = value.replace(/[\\"\u0000-\u001f\u007f]|([$%])\{/g, (c, template?: string) => {
    if (template !== undefined) return `${template}${template}{`
    const named: Record<string, string> = { "\\": "\\\\", "\"": "\\\"", "\n": "\\n", "\r": "\\r", "\t": "\\t" }
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  })
  return `"${escaped}"`
}
