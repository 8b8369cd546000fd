/**
 * The functions a Nomad job file can call (jobspec2's function table: go-cty's stdlib and go-cty-funcs), those
 * jobs commonly use. The few left out (yaml, bcrypt, rsadecrypt, cidr, dates, convert, setproduct, uuidv5) say
 * so when called. The file functions read through `files`, relative to the job file's directory, as the
 * `nomad job run` CLI allows.
 */
import { createHash, randomUUID } from "node:crypto"
import * as path from "node:path"
import { describe, type HclFunction, isObject, numberText, toBoolValue, toNumberValue, toStringValue, type Value, valuesEqual } from "./HclEval.js"

export interface FileAccess {
  /** The directory relative paths are resolved against (the job file's). */
  readonly baseDir: string
  /** The file's bytes, or undefined when it does not exist; throws with a message otherwise. */
  readonly read: (file: string) => Uint8Array | undefined
}

class FunctionError extends Error {}

const oops = (message: string): never => {
  throw new FunctionError(message)
}

const arity = (name: string, args: ReadonlyArray<Value>, min: number, max = min) => {
  if (args.length < min || args.length > max) {
    oops(`${name} takes ${min === max ? min : max === Infinity ? `at least ${min}` : `${min} to ${max}`} argument${(max === Infinity ? min : max) === 1 ? "" : "s"}, got ${args.length}`)
  }
}

const str = (v: Value | undefined, what: string): string => {
  const s = v === undefined ? undefined : toStringValue(v)
  if (s === undefined) oops(`${what}: a string is required, got ${describe(v ?? null)}`)
  return s!
}

const num = (v: Value | undefined, what: string): number => {
  const n = v === undefined ? undefined : toNumberValue(v)
  if (n === undefined) oops(`${what}: a number is required, got ${describe(v ?? null)}`)
  return n!
}

const int = (v: Value | undefined, what: string): number => {
  const n = num(v, what)
  if (!Number.isInteger(n)) oops(`${what}: a whole number is required, got ${n}`)
  return n
}

const list = (v: Value | undefined, what: string): ReadonlyArray<Value> => {
  if (!Array.isArray(v)) oops(`${what}: a list is required, got ${describe(v ?? null)}`)
  return v as ReadonlyArray<Value>
}

const map = (v: Value | undefined, what: string): { readonly [key: string]: Value } => {
  if (!isObject(v ?? null)) oops(`${what}: a map or object is required, got ${describe(v ?? null)}`)
  return v as { readonly [key: string]: Value }
}

const distinctValues = (items: ReadonlyArray<Value>): Array<Value> =>
  items.reduce<Array<Value>>((out, v) => (out.some((o) => valuesEqual(o, v)) ? out : [...out, v]), [])

/** A string's characters as cty counts them (strlen, substr, strrev): grapheme clusters, not code points. */
const segmenter = new Intl.Segmenter()
const graphemes = (s: string): Array<string> => Array.from(segmenter.segment(s), (g) => g.segment)

/** cty's string reverse, which jobspec2 offers as both strrev and reverse. */
const reverseString = (name: string): HclFunction => (a) => (arity(name, a, 1), graphemes(str(a[0], name)).reverse().join(""))

/**
 * A set's elements in cty's order (setunion, setintersection): all numbers ascending, else strings (the unified
 * type when one is a string) ascending; other elements as they come. Elements whose types do not unify fail.
 */
const setOrder = (name: string, items: ReadonlyArray<Value>): Array<Value> => {
  const types = new Set(items.filter((v) => v !== null).map((v) => (typeof v === "object" ? "structural" : typeof v)))
  if (types.size > 1 && (types.has("structural") || !types.has("string"))) oops(`${name}: the sets' elements must have compatible types`)
  if (items.every((v) => typeof v === "number")) return [...(items as ReadonlyArray<number>)].sort((x, y) => x - y)
  if (types.has("string")) {
    return items.map((v) => (v === null ? v : toStringValue(v)!)).sort((x, y) => (x === null ? 1 : y === null ? -1 : x < y ? -1 : x > y ? 1 : 0))
  }
  return [...items]
}

/** A JSON value as cty reads it (jsondecode): numbers, strings, bools, null, arrays and objects as they are. */
const fromJson = (text: string): Value => JSON.parse(text) as Value

/** Go's fmt verbs as cty's format function supports them. */
const format = (spec: string, args: ReadonlyArray<Value>): string => {
  let next = 0
  let highest = 0
  const out = spec.replace(/%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?(?:\[(\d+)\])?([a-zA-Z%])/g, (whole, flags: string, width?: string, precision?: string, explicit?: string, verb?: string) => {
    if (verb === "%") return "%"
    if (explicit !== undefined) next = Number(explicit) - 1
    if (next >= args.length) oops(`format: too few arguments for ${JSON.stringify(spec)}`)
    const v = args[next++]!
    highest = Math.max(highest, next)
    let out: string
    switch (verb) {
      case "v":
        out = typeof v === "object" && v !== null ? JSON.stringify(v) : v === null ? "null" : toStringValue(v)!
        break
      case "s":
        out = str(v, `format ${whole}`)
        break
      case "q":
        out = JSON.stringify(str(v, `format ${whole}`))
        break
      case "d":
        out = numberText(Math.trunc(int(v, `format ${whole}`)))
        break
      case "f":
        out = num(v, `format ${whole}`).toFixed(precision === undefined ? 6 : Number(precision))
        break
      case "e":
        out = num(v, `format ${whole}`).toExponential(precision === undefined ? 6 : Number(precision)).replace(/e([+-])(\d)$/, "e$10$2")
        break
      case "g":
        out = String(num(v, `format ${whole}`))
        break
      case "t": {
        const b = toBoolValue(v)
        if (b === undefined) oops(`format ${whole}: a bool is required`)
        out = String(b)
        break
      }
      case "x":
      case "X":
      case "o":
      case "b": {
        const value = BigInt(int(v, `format ${whole}`)).toString(verb === "o" ? 8 : verb === "b" ? 2 : 16)
        out = verb === "X" ? value.toUpperCase() : value
        break
      }
      default:
        return oops(`format: unsupported verb %${verb}`)
    }
    if (flags.includes("+") && (verb === "d" || verb === "f") && !out.startsWith("-")) out = `+${out}`
    const w = width === undefined || width === "*" ? 0 : Number(width)
    if (out.length < w) {
      // Go pads with zeros after the sign of a number, before anything else for strings (and %v, cty's text of the value).
      const sign = /^[-+]/.test(out) && verb !== "s" && verb !== "v" ? out[0]! : ""
      out = flags.includes("-") ? out.padEnd(w) : flags.includes("0") ? sign + out.slice(sign.length).padStart(w - sign.length, "0") : out.padStart(w)
    }
    return out
  })
  // cty's format: an argument no verb uses is a mistake.
  if (highest < args.length) oops(`format: too many arguments; only ${highest} used by ${JSON.stringify(spec)}`)
  return out
}

/** cty's replace (Go's strings.Replace): the substring as it is, no regular expression; an empty one matches around every character. */
const replace = (s: string, search: string, replacement: string): string =>
  search === "" ? replacement + [...s].map((c) => c + replacement).join("") : s.split(search).join(replacement)

const csvRow = (line: string): Array<string> => {
  const out: Array<string> = []
  let field = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === "\"" && line[i + 1] === "\"") {
        field += "\""
        i++
      } else if (c === "\"") quoted = false
      else field += c
    } else if (c === "\"") quoted = true
    else if (c === ",") {
      out.push(field)
      field = ""
    } else field += c
  }
  out.push(field)
  return out
}

const hash = (algorithm: string) => (args: ReadonlyArray<Value>) => {
  arity(algorithm, args, 1)
  return createHash(algorithm).update(str(args[0], algorithm), "utf8").digest("hex")
}

/** Text that must be UTF-8 (go-cty-funcs' base64decode and file fail otherwise). */
const utf8 = (name: string, bytes: Uint8Array): string => {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return oops(`${name}: the contents are not valid UTF-8`)
  }
}

/** Go's filepath.Clean, on slash paths. */
const clean = (p: string): string => {
  // path.posix.normalize("") is "." already.
  const n = path.posix.normalize(p)
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n
}

const notAvailable = (name: string): HclFunction => () =>
  oops(`${name} is a Nomad job function that containerd-driver run does not implement; compute the value outside the job file`)

export const jobFunctions = (files: FileAccess | undefined): Record<string, HclFunction> => {
  const resolve = (p: string) => path.resolve(files?.baseDir ?? ".", p.startsWith("~/") ? path.join(process.env["HOME"] ?? "/", p.slice(2)) : p)
  const read = (name: string, p: string): Uint8Array => {
    if (files === undefined) return oops(`${name}: file functions are not available here`)
    const bytes = files.read(resolve(p))
    if (bytes === undefined) oops(`${name}: no file exists at ${JSON.stringify(p)}`)
    return bytes!
  }
  const fns: Record<string, HclFunction> = {
    abs: (a) => (arity("abs", a, 1), Math.abs(num(a[0], "abs"))),
    ceil: (a) => (arity("ceil", a, 1), Math.ceil(num(a[0], "ceil"))),
    floor: (a) => (arity("floor", a, 1), Math.floor(num(a[0], "floor"))),
    log: (a) => (arity("log", a, 2), Math.log(num(a[0], "log")) / Math.log(num(a[1], "log base"))),
    pow: (a) => (arity("pow", a, 2), num(a[0], "pow") ** num(a[1], "pow")),
    signum: (a) => (arity("signum", a, 1), Math.sign(int(a[0], "signum"))),
    parseint: (a) => {
      arity("parseint", a, 2)
      const base = int(a[1], "parseint base")
      if (typeof a[0] !== "string") return oops(`parseint: the first argument must be a string, got ${describe(a[0]!)}`)
      const text = a[0]
      if (base < 2 || base > 62) oops("parseint: the base must be a whole number between 2 and 62")
      // Go's big.Int digits: letters either case up to base 36, then a-z for 10 to 35 and A-Z for 36 to 61.
      const digit = (c: string) => "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".indexOf(base <= 36 ? c.toLowerCase() : c)
      const body = text.replace(/^[-+]/, "")
      const values = [...body].map(digit)
      if (body === "" || values.some((d) => d < 0 || d >= base)) oops(`parseint: cannot parse ${JSON.stringify(text)} as a base ${base} integer`)
      const n = values.reduce((acc, d) => acc * BigInt(base) + BigInt(d), 0n)
      return Number(text.startsWith("-") ? -n : n)
    },
    max: (a) => (arity("max", a, 1, Infinity), Math.max(...a.map((v) => num(v, "max")))),
    min: (a) => (arity("min", a, 1, Infinity), Math.min(...a.map((v) => num(v, "min")))),
    chomp: (a) => (arity("chomp", a, 1), str(a[0], "chomp").replace(/(\r\n|\n|\r)+$/, "")),
    format: (a) => (arity("format", a, 1, Infinity), format(str(a[0], "format"), a.slice(1))),
    formatlist: (a) => {
      arity("formatlist", a, 1, Infinity)
      const spec = str(a[0], "formatlist")
      const lists = a.slice(1)
      const lengths = lists.filter(Array.isArray).map((l) => (l as ReadonlyArray<Value>).length)
      if (new Set(lengths).size > 1) oops("formatlist: all list arguments must have the same length")
      const n = lengths[0] ?? 1
      return Array.from({ length: n }, (_, i) => format(spec, lists.map((l) => (Array.isArray(l) ? l[i]! : l))))
    },
    indent: (a) => (arity("indent", a, 2), str(a[1], "indent").replace(/\n/g, `\n${" ".repeat(int(a[0], "indent"))}`)),
    join: (a) => (arity("join", a, 2, Infinity), a.slice(1).flatMap((l) => list(l, "join").map((v) => str(v, "join element"))).join(str(a[0], "join"))),
    lower: (a) => (arity("lower", a, 1), str(a[0], "lower").toLowerCase()),
    upper: (a) => (arity("upper", a, 1), str(a[0], "upper").toUpperCase()),
    // Go's strings.Title: a letter after a separator (an ASCII character other than a letter, digit or _, or a space).
    title: (a) => (arity("title", a, 1), str(a[0], "title").replace(/(^|[\0-/:-@[-^`{-\x7f]|[^\0-\x7f\P{White_Space}])(\p{L})/gu, (_, p: string, c: string) => p + c.toUpperCase())),
    replace: (a) => (arity("replace", a, 3), replace(str(a[0], "replace"), str(a[1], "replace"), str(a[2], "replace"))),
    regex_replace: (a) => (arity("regex_replace", a, 3), str(a[0], "regex_replace").replace(new RegExp(str(a[1], "regex_replace"), "gu"), str(a[2], "regex_replace"))),
    split: (a) => (arity("split", a, 2), str(a[1], "split").split(str(a[0], "split"))),
    strrev: reverseString("strrev"),
    strlen: (a) => (arity("strlen", a, 1), graphemes(str(a[0], "strlen")).length),
    substr: (a) => {
      arity("substr", a, 3)
      const chars = graphemes(str(a[0], "substr"))
      let offset = int(a[1], "substr offset")
      const length = int(a[2], "substr length")
      // As cty's substr: an offset from the end counts from the start when the string is shorter; past the end is
      // the empty string; a length of 0 is the empty string, unless the offset is from the end (then the rest).
      if (offset < 0) offset += chars.length
      else if (length === 0) return ""
      const rest = chars.slice(Math.max(offset, 0))
      return (length > 0 ? rest.slice(0, length) : rest).join("")
    },
    trim: (a) => {
      arity("trim", a, 2)
      const cut = new Set([...str(a[1], "trim")])
      const chars = [...str(a[0], "trim")]
      let start = 0
      let end = chars.length
      while (start < end && cut.has(chars[start]!)) start++
      while (end > start && cut.has(chars[end - 1]!)) end--
      return chars.slice(start, end).join("")
    },
    trimprefix: (a) => {
      arity("trimprefix", a, 2)
      const s = str(a[0], "trimprefix")
      const p = str(a[1], "trimprefix")
      return s.startsWith(p) ? s.slice(p.length) : s
    },
    trimsuffix: (a) => {
      arity("trimsuffix", a, 2)
      const s = str(a[0], "trimsuffix")
      const p = str(a[1], "trimsuffix")
      return p !== "" && s.endsWith(p) ? s.slice(0, -p.length) : s
    },
    trimspace: (a) => (arity("trimspace", a, 1), str(a[0], "trimspace").trim()),
    chunklist: (a) => {
      arity("chunklist", a, 2)
      const items = list(a[0], "chunklist")
      const size = int(a[1], "chunklist size")
      if (size < 0) oops("chunklist: the size must not be negative")
      if (size === 0) return items.length === 0 ? [] : [items]
      return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
    },
    coalesce: (a) => {
      // go-cty's coalesce: the first argument that is not null, in the arguments' unified type (primitives of
      // different types become strings; a collection and a primitive do not unify).
      // Primitives unify only to one of their own types: string, when one is (a number and a bool do not). When
      // nothing unifies, a null argument's type (any) still does: the first value then comes as it is.
      const present = a.filter((v) => v !== null)
      const structural = present.filter((v) => typeof v === "object")
      const asText = structural.length === 0 && new Set(present.map((v) => typeof v)).size > 1
      const unified = structural.length === 0 ? !asText || present.some((v) => typeof v === "string") : structural.length === present.length
      if (!unified && present.length === a.length) oops("all arguments must have the same type")
      if (present.length === 0) oops("no non-null arguments")
      return asText && unified ? toStringValue(present[0]!)! : present[0]!
    },
    coalescelist: (a) => a.find((v) => Array.isArray(v) && v.length > 0) ?? oops("coalescelist: no non-empty list arguments"),
    compact: (a) => (arity("compact", a, 1), list(a[0], "compact").filter((v) => v !== null && v !== "")),
    concat: (a) => a.flatMap((l) => list(l, "concat")),
    contains: (a) => (arity("contains", a, 2), list(a[0], "contains").some((v) => valuesEqual(v, a[1]!))),
    distinct: (a) => (arity("distinct", a, 1), distinctValues(list(a[0], "distinct"))),
    element: (a) => {
      arity("element", a, 2)
      const items = list(a[0], "element")
      if (items.length === 0) oops("element: cannot use element function with an empty list")
      const i = int(a[1], "element index")
      if (i < 0) oops("element: the index must not be negative")
      return items[i % items.length]!
    },
    flatten: (a) => {
      arity("flatten", a, 1)
      const flat = (v: ReadonlyArray<Value>): Array<Value> => v.flatMap((x) => (Array.isArray(x) ? flat(x) : [x]))
      return flat(list(a[0], "flatten"))
    },
    index: (a) => {
      // jobspec2's index is cty's (collection[key]), not Terraform's (where an element is).
      arity("index", a, 2)
      const [c, key] = [a[0]!, a[1]!]
      if (Array.isArray(c)) {
        if (typeof key !== "number" || !Number.isInteger(key) || key < 0 || key >= c.length) oops(`index: the key must be a whole number from 0 to ${c.length - 1}`)
        return c[key as number]!
      }
      const m = map(c, "index")
      if (typeof key !== "string" || !Object.hasOwn(m, key)) oops(`index: no element ${describe(key)}`)
      return m[key as string]!
    },
    keys: (a) => (arity("keys", a, 1), Object.keys(map(a[0], "keys")).sort()),
    values: (a) => {
      arity("values", a, 1)
      const m = map(a[0], "values")
      return Object.keys(m).sort().map((k) => m[k]!)
    },
    length: (a) => {
      arity("length", a, 1)
      // go-cty's length counts collections only (strlen counts characters).
      const v = a[0]!
      if (Array.isArray(v)) return v.length
      if (isObject(v)) return Object.keys(v).length
      return oops(`length: collection must be a list, a map or a tuple, got ${describe(v)}`)
    },
    lookup: (a) => {
      // cty's lookup requires the default.
      arity("lookup", a, 3)
      const m = map(a[0], "lookup")
      const k = str(a[1], "lookup key")
      if (a[2] === null) oops("lookup: the default must not be null")
      return Object.hasOwn(m, k) ? m[k]! : a[2]!
    },
    merge: (a) => Object.assign({}, ...a.filter((v) => v !== null).map((v) => map(v, "merge"))) as Value,
    range: (a) => {
      arity("range", a, 1, 3)
      const ns = a.map((v) => num(v, "range"))
      const [start, end] = ns.length === 1 ? [0, ns[0]!] : [ns[0]!, ns[1]!]
      // As cty's: without a step, counting down when the end is below the start.
      const step = ns[2] ?? (end < start ? -1 : 1)
      if (step === 0) oops("range: the step must not be zero")
      if (step < 0 ? end > start : end < start) oops("range: the end is on the other side of the start from where the step goes")
      const out: Array<number> = []
      for (let v = start; step > 0 ? v < end : v > end; v += step) {
        if (out.length >= 1024) oops("range: more than 1024 values")
        out.push(v)
      }
      return out
    },
    reverse: reverseString("reverse"),
    setintersection: (a) => {
      arity("setintersection", a, 1, Infinity)
      const [first, ...rest] = a.map((l) => distinctValues(list(l, "setintersection")))
      return setOrder("setintersection", first!.filter((v) => rest.every((l) => l.some((o) => valuesEqual(o, v)))))
    },
    setunion: (a) => (arity("setunion", a, 1, Infinity), setOrder("setunion", distinctValues(a.flatMap((l) => list(l, "setunion"))))),
    slice: (a) => {
      arity("slice", a, 3)
      const items = list(a[0], "slice")
      const start = int(a[1], "slice start")
      const end = int(a[2], "slice end")
      if (start < 0 || end > items.length || start > end) oops(`slice: the indices ${start} and ${end} are out of range for a list of ${items.length}`)
      return items.slice(start, end)
    },
    sort: (a) => (arity("sort", a, 1), list(a[0], "sort").map((v) => str(v, "sort element")).sort()),
    zipmap: (a) => {
      arity("zipmap", a, 2)
      const ks = list(a[0], "zipmap keys")
      const vs = list(a[1], "zipmap values")
      if (ks.length !== vs.length) oops("zipmap: the number of keys and values differ")
      return Object.fromEntries(ks.map((k, i) => [str(k, "zipmap key"), vs[i]!]))
    },
    // Go's JSON encoder escapes <, >, & and the line and paragraph separators.
    jsonencode: (a) => (arity("jsonencode", a, 1), JSON.stringify(a[0]).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)),
    jsondecode: (a) => {
      arity("jsondecode", a, 1)
      try {
        return fromJson(str(a[0], "jsondecode"))
      } catch (error) {
        return oops(`jsondecode: ${(error as Error).message}`)
      }
    },
    csvdecode: (a) => {
      arity("csvdecode", a, 1)
      const [header, ...rows] = str(a[0], "csvdecode").split(/\r?\n/).filter((l) => l !== "").map(csvRow)
      if (header === undefined) oops("csvdecode: missing header line")
      return rows.map((row) => {
        if (row.length !== header!.length) oops("csvdecode: a row has a different number of fields than the header")
        return Object.fromEntries(header!.map((h, i) => [h, row[i]!]))
      })
    },
    base64encode: (a) => (arity("base64encode", a, 1), Buffer.from(str(a[0], "base64encode"), "utf8").toString("base64")),
    base64decode: (a) => {
      arity("base64decode", a, 1)
      const text = str(a[0], "base64decode")
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) oops("base64decode: the string is not valid base64")
      return utf8("base64decode", Buffer.from(text, "base64"))
    },
    // Go's url.QueryEscape: all but letters, digits and -_.~ escaped, a space as +.
    urlencode: (a) => (arity("urlencode", a, 1), encodeURIComponent(str(a[0], "urlencode")).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, "+")),
    md5: hash("md5"),
    sha1: hash("sha1"),
    sha256: hash("sha256"),
    sha512: hash("sha512"),
    uuidv4: (a) => (arity("uuidv4", a, 0), randomUUID()),
    abspath: (a) => (arity("abspath", a, 1), path.resolve(str(a[0], "abspath"))),
    // Go's filepath.Base and Dir: "." for an empty path, "/" for slashes alone, a trailing slash ignored by Base only.
    basename: (a) => {
      arity("basename", a, 1)
      const p = str(a[0], "basename")
      return p === "" ? "." : /^\/+$/.test(p) ? "/" : path.posix.basename(p)
    },
    dirname: (a) => {
      arity("dirname", a, 1)
      const p = str(a[0], "dirname")
      return clean(p.slice(0, p.lastIndexOf("/") + 1))
    },
    pathexpand: (a) => {
      arity("pathexpand", a, 1)
      // As go-homedir's Expand: "~" and "~/..." only.
      const p = str(a[0], "pathexpand")
      if (!p.startsWith("~")) return p
      if (p.length > 1 && p[1] !== "/") oops("pathexpand: cannot expand user-specific home dir")
      return path.join(process.env["HOME"] ?? "/", p.slice(1))
    },
    file: (a) => (arity("file", a, 1), utf8("file", read("file", str(a[0], "file")))),
    filebase64: (a) => (arity("filebase64", a, 1), Buffer.from(read("filebase64", str(a[0], "filebase64"))).toString("base64")),
    fileexists: (a) => {
      arity("fileexists", a, 1)
      if (files === undefined) return oops("fileexists: file functions are not available here")
      return files.read(resolve(str(a[0], "fileexists"))) !== undefined
    }
  }
  for (const name of ["bcrypt", "rsadecrypt", "cidrhost", "cidrnetmask", "cidrsubnet", "cidrsubnets", "convert", "formatdate", "timeadd", "setproduct", "uuidv5", "yamldecode", "yamlencode", "fileset"]) {
    fns[name] = notAvailable(name)
  }
  return fns
}
