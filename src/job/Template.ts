/**
 * A `template` block's inline `data` rendered as Nomad renders it (consul-template, Go text/template): text and
 * actions between the delimiters, `{{-`/`-}}` trimming, comments, pipelines, `$variables`, `if`/`else if`/`else`,
 * `range`, `with`, Go's built-in functions and consul-template's text functions, with `env` reading the task's
 * environment. Functions that ask Consul, Vault or Nomad's API (`key`, `service`, `secret`, `nomadVar`, ...) are a
 * clear error: there is none of them outside Nomad. Pure.
 */

export type TemplateValue = string | number | boolean | null | ReadonlyArray<TemplateValue> | { readonly [key: string]: TemplateValue }

export class TemplateError extends Error {}

const fail = (message: string): never => {
  throw new TemplateError(message)
}

// ---------------------------------------------------------------------------------------------------------------
// Syntax

type Operand =
  | { readonly kind: "value"; readonly value: TemplateValue }
  | { readonly kind: "dot"; readonly fields: ReadonlyArray<string> }
  | { readonly kind: "var"; readonly name: string; readonly fields: ReadonlyArray<string> }
  | { readonly kind: "ident"; readonly name: string }
  | { readonly kind: "pipe"; readonly pipeline: Pipeline }

type Command = ReadonlyArray<Operand>
interface Pipeline {
  readonly declare: ReadonlyArray<string>
  readonly assign: boolean
  readonly commands: ReadonlyArray<Command>
}

type Node =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "action"; readonly pipeline: Pipeline }
  | { readonly kind: "if" | "with"; readonly pipeline: Pipeline; readonly body: ReadonlyArray<Node>; readonly otherwise: ReadonlyArray<Node> }
  | { readonly kind: "range"; readonly pipeline: Pipeline; readonly body: ReadonlyArray<Node>; readonly otherwise: ReadonlyArray<Node> }

const tokenRe = /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(-?\d+(?:\.\d+)?)|(\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|(\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?)|([A-Za-z_][A-Za-z0-9_]*)|(:=|=|\||\(|\)|,))/y

type Token = { readonly kind: "value"; readonly value: TemplateValue } | { readonly kind: "var" | "dot" | "ident" | "punct"; readonly text: string }

const tokenize = (action: string): Array<Token> => {
  const tokens: Array<Token> = []
  tokenRe.lastIndex = 0
  while (tokenRe.lastIndex < action.length) {
    if (/^\s*$/.test(action.slice(tokenRe.lastIndex))) break
    const start = tokenRe.lastIndex
    const m = tokenRe.exec(action)
    if (m === null) fail(`unexpected ${JSON.stringify(action.slice(start).trim().slice(0, 20))} in {{${action}}}`)
    const [, dq, raw, num, variable, dot, ident, punct] = m!
    if (dq !== undefined) tokens.push({ kind: "value", value: JSON.parse(dq) as string })
    else if (raw !== undefined) tokens.push({ kind: "value", value: raw.slice(1, -1) })
    else if (num !== undefined) tokens.push({ kind: "value", value: Number(num) })
    else if (variable !== undefined) tokens.push({ kind: "var", text: variable })
    else if (dot !== undefined) tokens.push({ kind: "dot", text: dot })
    else if (ident !== undefined) {
      if (ident === "true" || ident === "false") tokens.push({ kind: "value", value: ident === "true" })
      else if (ident === "nil") tokens.push({ kind: "value", value: null })
      else tokens.push({ kind: "ident", text: ident })
    } else tokens.push({ kind: "punct", text: punct! })
  }
  return tokens
}

const parsePipeline = (tokens: Array<Token>, pos: { i: number }, action: string): Pipeline => {
  const declare: Array<string> = []
  let assign = false
  // `$x := ...`, `$i, $v := ...` (range), `$x = ...`
  const save = pos.i
  while (tokens[pos.i]?.kind === "var") {
    declare.push((tokens[pos.i] as { text: string }).text)
    pos.i++
    const t = tokens[pos.i]
    if (t?.kind === "punct" && t.text === ",") {
      pos.i++
      continue
    }
    if (t?.kind === "punct" && (t.text === ":=" || t.text === "=")) {
      assign = t.text === "="
      pos.i++
      break
    }
    declare.length = 0
    pos.i = save
    break
  }
  const commands: Array<Command> = []
  let command: Array<Operand> = []
  for (;;) {
    const t = tokens[pos.i]
    if (t === undefined || (t.kind === "punct" && t.text === ")")) break
    pos.i++
    if (t.kind === "punct" && t.text === "|") {
      if (command.length === 0) fail(`missing command before | in {{${action}}}`)
      commands.push(command)
      command = []
    } else if (t.kind === "punct" && t.text === "(") {
      const inner = parsePipeline(tokens, pos, action)
      const close = tokens[pos.i++]
      if (close?.kind !== "punct" || close.text !== ")") fail(`unclosed ( in {{${action}}}`)
      command.push({ kind: "pipe", pipeline: inner })
    } else if (t.kind === "value") command.push({ kind: "value", value: t.value })
    else if (t.kind === "var") {
      const [name, ...fields] = t.text.split(".")
      command.push({ kind: "var", name: name!, fields })
    } else if (t.kind === "dot") command.push({ kind: "dot", fields: t.text === "." ? [] : t.text.slice(1).split(".") })
    else if (t.kind === "ident") command.push({ kind: "ident", name: t.text })
    else fail(`unexpected ${JSON.stringify(t.text)} in {{${action}}}`)
  }
  if (command.length > 0) commands.push(command)
  if (commands.length === 0) fail(`missing value in {{${action}}}`)
  return { declare, assign, commands }
}

const pipelineOf = (text: string): Pipeline => {
  const tokens = tokenize(text)
  const pos = { i: 0 }
  const pipeline = parsePipeline(tokens, pos, text)
  if (pos.i < tokens.length) fail(`unexpected ) in {{${text}}}`)
  return pipeline
}

interface Parsed {
  readonly nodes: Array<Node>
  readonly end: "end" | "else" | "else if" | undefined
  readonly elseIf?: string
}

const parseNodes = (pieces: ReadonlyArray<{ readonly text?: string; readonly action?: string }>, at: { i: number }): Parsed => {
  const nodes: Array<Node> = []
  while (at.i < pieces.length) {
    const piece = pieces[at.i++]!
    if (piece.text !== undefined) {
      if (piece.text !== "") nodes.push({ kind: "text", text: piece.text })
      continue
    }
    const action = piece.action!.trim()
    if (action.startsWith("/*")) continue
    const keyword = /^(if|else if|else|end|range|with|define|template|block|break|continue)\b/.exec(action)?.[1]
    switch (keyword) {
      case "end":
        return { nodes, end: "end" }
      case "else":
        return { nodes, end: "else" }
      case "else if":
        return { nodes, end: "else if", elseIf: action.slice(7) }
      case "if":
      case "with":
      case "range":
        nodes.push(parseBranch(keyword, pipelineOf(action.slice(keyword.length)), pieces, at))
        break
      case undefined:
        nodes.push({ kind: "action", pipeline: pipelineOf(action) })
        break
      default:
        fail(`{{${keyword}}} is not supported in templates here`)
    }
  }
  return { nodes, end: undefined }
}

/** An if, with or range and its else branch; `else if` is an if inside the else branch that shares the end. */
const parseBranch = (
  kind: "if" | "with" | "range",
  pipeline: Pipeline,
  pieces: ReadonlyArray<{ readonly text?: string; readonly action?: string }>,
  at: { i: number }
): Node => {
  const body = parseNodes(pieces, at)
  let otherwise: ReadonlyArray<Node> = []
  if (body.end === "else") {
    const rest = parseNodes(pieces, at)
    if (rest.end !== "end") fail(`unexpected EOF: {{${kind}}} has no {{end}}`)
    otherwise = rest.nodes
  } else if (body.end === "else if") otherwise = [parseBranch("if", pipelineOf(body.elseIf!), pieces, at)]
  else if (body.end !== "end") fail(`unexpected EOF: {{${kind}}} has no {{end}}`)
  return { kind, pipeline, body: body.nodes, otherwise }
}

/** Splits template text into text and action pieces, applying `{{-` and `-}}` trimming. */
const split = (source: string, left: string, right: string): Array<{ text?: string; action?: string }> => {
  const pieces: Array<{ text?: string; action?: string }> = []
  let pos = 0
  for (;;) {
    const open = source.indexOf(left, pos)
    if (open === -1) {
      pieces.push({ text: source.slice(pos) })
      return pieces
    }
    let text = source.slice(pos, open)
    let start = open + left.length
    if (source.startsWith("- ", start) || source.startsWith("-\n", start) || source.startsWith("-\t", start)) {
      text = text.replace(/\s+$/, "")
      start += 1
    }
    pieces.push({ text })
    const comment = source.slice(start).trimStart().startsWith("/*")
    let close = source.indexOf(right, start)
    if (comment) close = source.indexOf(right, source.indexOf("*/", start))
    if (close === -1) fail(`unclosed action: ${left} without ${right}`)
    let action = source.slice(start, close)
    pos = close + right.length
    if (/[\s]-$/.test(action)) {
      action = action.slice(0, -1)
      const rest = /^\s*/.exec(source.slice(pos))![0]
      pos += rest.length
    }
    pieces.push({ action })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

const truthy = (v: TemplateValue): boolean =>
  v !== null && v !== false && v !== 0 && v !== "" && !(Array.isArray(v) && v.length === 0) &&
  !(typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0)

export const printValue = (v: TemplateValue): string => {
  if (v === null) return "<no value>"
  if (Array.isArray(v)) return `[${v.map(printValue).join(" ")}]`
  if (typeof v === "object") return `map[${Object.keys(v).sort().map((k) => `${k}:${printValue((v as Record<string, TemplateValue>)[k]!)}`).join(" ")}]`
  return String(v)
}

const text = (v: TemplateValue, fn: string): string => {
  if (typeof v === "string") return v
  if (typeof v === "number" || typeof v === "boolean") return String(v)
  return fail(`${fn}: a string is required, got ${printValue(v)}`)
}

const num = (v: TemplateValue, fn: string): number => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN
  if (Number.isNaN(n)) fail(`${fn}: a number is required, got ${printValue(v)}`)
  return n
}

const compare = (fn: string, a: TemplateValue, b: TemplateValue): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0
  return fail(`${fn}: incompatible types for comparison: ${printValue(a)} and ${printValue(b)}`)
}

const goPrintf = (format: string, args: ReadonlyArray<TemplateValue>): string => {
  let i = 0
  return format.replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([vsdqftxX%])/g, (_, flags: string, width?: string, precision?: string, verb?: string) => {
    if (verb === "%") return "%"
    const v = args[i++] ?? null
    let out: string
    switch (verb) {
      case "d":
        out = String(Math.trunc(num(v, "printf")))
        break
      case "f":
        out = num(v, "printf").toFixed(precision === undefined ? 6 : Number(precision))
        break
      case "q":
        out = JSON.stringify(text(v, "printf"))
        break
      case "x":
      case "X":
        out = typeof v === "number" ? v.toString(16) : Buffer.from(text(v, "printf")).toString("hex")
        if (verb === "X") out = out.toUpperCase()
        break
      default:
        out = printValue(v)
    }
    const w = width === undefined ? 0 : Number(width)
    return out.length >= w ? out : flags.includes("-") ? out.padEnd(w) : out.padStart(w, flags.includes("0") ? "0" : " ")
  })
}

const outsideNomad: Readonly<Record<string, string>> = Object.fromEntries([
  ...["key", "keyExists", "keyOrDefault", "ls", "safeLs", "tree", "safeTree", "service", "services", "connect", "caRoots", "caLeaf", "node", "nodes", "datacenters", "checks", "partitions", "peerings", "exportedServices"]
    .map((f) => [f, "Consul"]),
  ...["secret", "secrets", "pkiCert"].map((f) => [f, "Vault"]),
  ...["nomadVar", "nomadVarList", "nomadVarListSafe", "nomadVarExists", "nomadService", "nomadServices"].map((f) => [f, "Nomad's API"])
])

type Fn = (args: ReadonlyArray<TemplateValue>) => TemplateValue

const functions = (env: Readonly<Record<string, string>>): Record<string, Fn> => ({
  env: (a) => env[text(a[0] ?? null, "env")] ?? "",
  mustEnv: (a) => {
    const name = text(a[0] ?? null, "mustEnv")
    return env[name] ?? fail(`mustEnv: the environment variable ${name} is not set`)
  },
  envOrDefault: (a) => env[text(a[0] ?? null, "envOrDefault")] ?? a[1] ?? "",
  and: (a) => a.find((v) => !truthy(v)) ?? a[a.length - 1] ?? null,
  or: (a) => a.find(truthy) ?? a[a.length - 1] ?? null,
  not: (a) => !truthy(a[0] ?? null),
  eq: (a) => a.slice(1).some((b) => JSON.stringify(b) === JSON.stringify(a[0] ?? null)),
  ne: (a) => JSON.stringify(a[0] ?? null) !== JSON.stringify(a[1] ?? null),
  lt: (a) => compare("lt", a[0] ?? null, a[1] ?? null) < 0,
  le: (a) => compare("le", a[0] ?? null, a[1] ?? null) <= 0,
  gt: (a) => compare("gt", a[0] ?? null, a[1] ?? null) > 0,
  ge: (a) => compare("ge", a[0] ?? null, a[1] ?? null) >= 0,
  len: (a) => {
    const v = a[0] ?? null
    if (typeof v === "string" || Array.isArray(v)) return v.length
    if (v !== null && typeof v === "object") return Object.keys(v).length
    return fail(`len of ${printValue(v)}`)
  },
  index: (a) => {
    let v = a[0] ?? null
    for (const k of a.slice(1)) {
      if (Array.isArray(v)) v = v[num(k, "index")] ?? fail(`index out of range: ${printValue(k)}`)
      else if (v !== null && typeof v === "object") v = (v as Record<string, TemplateValue>)[text(k, "index")] ?? null
      else fail(`cannot index ${printValue(v)}`)
    }
    return v
  },
  print: (a) => a.map(printValue).join(""),
  println: (a) => `${a.map(printValue).join(" ")}\n`,
  printf: (a) => goPrintf(text(a[0] ?? null, "printf"), a.slice(1)),
  toLower: (a) => text(a[0] ?? null, "toLower").toLowerCase(),
  toUpper: (a) => text(a[0] ?? null, "toUpper").toUpperCase(),
  toTitle: (a) => text(a[0] ?? null, "toTitle").replace(/\b\w/g, (c) => c.toUpperCase()),
  trimSpace: (a) => text(a[0] ?? null, "trimSpace").trim(),
  trimPrefix: (a) => {
    const s = text(a[1] ?? null, "trimPrefix")
    const p = text(a[0] ?? null, "trimPrefix")
    return s.startsWith(p) ? s.slice(p.length) : s
  },
  trimSuffix: (a) => {
    const s = text(a[1] ?? null, "trimSuffix")
    const p = text(a[0] ?? null, "trimSuffix")
    return p !== "" && s.endsWith(p) ? s.slice(0, -p.length) : s
  },
  split: (a) => text(a[1] ?? null, "split").split(text(a[0] ?? null, "split")),
  join: (a) => {
    const list = a[1] ?? null
    if (!Array.isArray(list)) fail("join: a list is required")
    return (list as ReadonlyArray<TemplateValue>).map(printValue).join(text(a[0] ?? null, "join"))
  },
  replaceAll: (a) => text(a[2] ?? null, "replaceAll").split(text(a[0] ?? null, "replaceAll")).join(text(a[1] ?? null, "replaceAll")),
  contains: (a) => text(a[1] ?? null, "contains").includes(text(a[0] ?? null, "contains")),
  containsAny: (a) => (Array.isArray(a[0]) ? a[0] : []).some((x) => text(a[1] ?? null, "containsAny").includes(text(x, "containsAny"))),
  indent: (a) => text(a[1] ?? null, "indent").replace(/^/gm, " ".repeat(num(a[0] ?? null, "indent"))),
  parseInt: (a) => Math.trunc(num(a[0] ?? null, "parseInt")),
  parseFloat: (a) => num(a[0] ?? null, "parseFloat"),
  parseBool: (a) => {
    const s = text(a[0] ?? null, "parseBool")
    return ["1", "t", "T", "true", "TRUE", "True"].includes(s) ? true : ["0", "f", "F", "false", "FALSE", "False"].includes(s) ? false : fail(`parseBool: ${s}`)
  },
  parseJSON: (a) => JSON.parse(text(a[0] ?? null, "parseJSON")) as TemplateValue,
  toJSON: (a) => JSON.stringify(a[0] ?? null),
  toJSONPretty: (a) => JSON.stringify(a[0] ?? null, null, 2),
  base64Encode: (a) => Buffer.from(text(a[0] ?? null, "base64Encode")).toString("base64"),
  base64Decode: (a) => Buffer.from(text(a[0] ?? null, "base64Decode"), "base64").toString("utf8"),
  add: (a) => num(a[1] ?? null, "add") + num(a[0] ?? null, "add"),
  subtract: (a) => num(a[1] ?? null, "subtract") - num(a[0] ?? null, "subtract"),
  multiply: (a) => num(a[1] ?? null, "multiply") * num(a[0] ?? null, "multiply"),
  divide: (a) => num(a[1] ?? null, "divide") / num(a[0] ?? null, "divide"),
  modulo: (a) => num(a[1] ?? null, "modulo") % num(a[0] ?? null, "modulo"),
  minimum: (a) => Math.min(num(a[0] ?? null, "minimum"), num(a[1] ?? null, "minimum")),
  maximum: (a) => Math.max(num(a[0] ?? null, "maximum"), num(a[1] ?? null, "maximum")),
  loop: (a) => {
    const [start, end] = a.length === 1 ? [0, num(a[0]!, "loop")] : [num(a[0] ?? null, "loop"), num(a[1] ?? null, "loop")]
    return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i)
  },
  timestamp: () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
  sockaddr: () => fail("sockaddr is not supported in templates here")
})

interface Scope {
  readonly vars: Map<string, TemplateValue>
  readonly dot: TemplateValue
}

class Renderer {
  constructor(readonly fns: Record<string, Fn>, readonly errorOnMissingKey: boolean) {}

  fields(v: TemplateValue, fields: ReadonlyArray<string>, what: string): TemplateValue {
    let out = v
    for (const f of fields) {
      if (out !== null && typeof out === "object" && !Array.isArray(out) && Object.hasOwn(out, f)) out = (out as Record<string, TemplateValue>)[f]!
      else if (this.errorOnMissingKey) fail(`map has no entry for key ${JSON.stringify(f)} (${what})`)
      else return null
    }
    return out
  }

  operand(o: Operand, scope: Scope, final: TemplateValue | undefined, hasFinal: boolean): TemplateValue {
    switch (o.kind) {
      case "value":
        return o.value
      case "dot":
        return this.fields(scope.dot, o.fields, `.${o.fields.join(".")}`)
      case "var": {
        if (!scope.vars.has(o.name)) fail(`undefined variable: ${o.name}`)
        return this.fields(scope.vars.get(o.name)!, o.fields, o.name)
      }
      case "pipe":
        return this.pipeline(o.pipeline, scope)
      case "ident":
        return this.call(o.name, [], scope, final, hasFinal)
    }
  }

  call(name: string, args: ReadonlyArray<Operand>, scope: Scope, final: TemplateValue | undefined, hasFinal: boolean): TemplateValue {
    const where = outsideNomad[name]
    if (where !== undefined) fail(`the template function ${name} reads ${where}, which is not available outside Nomad`)
    const fn = this.fns[name]
    if (fn === undefined) fail(`function ${JSON.stringify(name)} not defined`)
    const values = args.map((a) => this.operand(a, scope, undefined, false))
    return fn!(hasFinal ? [...values, final ?? null] : values)
  }

  pipeline(p: Pipeline, scope: Scope): TemplateValue {
    let value: TemplateValue | undefined
    let has = false
    for (const command of p.commands) {
      const [head, ...rest] = command
      if (head!.kind === "ident") value = this.call(head!.name, rest, scope, value, has)
      else {
        if (rest.length > 0 || has) fail("can't give arguments to a non-function value")
        value = this.operand(head!, scope, undefined, false)
      }
      has = true
    }
    const result = value ?? null
    if (p.declare.length === 1) scope.vars.set(p.declare[0]!, result)
    return result
  }

  nodes(nodes: ReadonlyArray<Node>, scope: Scope): string {
    let out = ""
    for (const node of nodes) {
      switch (node.kind) {
        case "text":
          out += node.text
          break
        case "action": {
          const v = this.pipeline(node.pipeline, scope)
          if (node.pipeline.declare.length === 0) out += printValue(v)
          break
        }
        case "if":
        case "with": {
          const v = this.pipeline({ ...node.pipeline, declare: [] }, scope)
          const inner: Scope = { vars: new Map(scope.vars), dot: node.kind === "with" ? v : scope.dot }
          if (node.pipeline.declare.length === 1) inner.vars.set(node.pipeline.declare[0]!, v)
          out += truthy(v) ? this.nodes(node.body, inner) : this.nodes(node.otherwise, { vars: new Map(scope.vars), dot: scope.dot })
          break
        }
        case "range": {
          const v = this.pipeline({ ...node.pipeline, declare: [] }, scope)
          const entries: Array<readonly [TemplateValue, TemplateValue]> = Array.isArray(v)
            ? v.map((x, i) => [i, x] as const)
            : v !== null && typeof v === "object"
            ? Object.keys(v).sort().map((k) => [k, (v as Record<string, TemplateValue>)[k]!] as const)
            : typeof v === "number"
            ? Array.from({ length: v }, (_, i) => [i, i] as const)
            : v === null
            ? []
            : fail(`range can't iterate over ${printValue(v)}`)
          if (entries.length === 0) out += this.nodes(node.otherwise, scope)
          for (const [k, x] of entries) {
            const inner: Scope = { vars: new Map(scope.vars), dot: x }
            const names = node.pipeline.declare
            if (names.length === 1) inner.vars.set(names[0]!, x)
            if (names.length === 2) {
              inner.vars.set(names[0]!, k)
              inner.vars.set(names[1]!, x)
            }
            out += this.nodes(node.body, inner)
          }
          break
        }
      }
    }
    return out
  }
}

export interface RenderOptions {
  readonly env: Readonly<Record<string, string>>
  readonly leftDelimiter?: string
  readonly rightDelimiter?: string
  readonly errorOnMissingKey?: boolean
}

/** The rendered text of a template; throws TemplateError with what is wrong. */
export const renderTemplate = (source: string, options: RenderOptions): string => {
  const pieces = split(source, options.leftDelimiter ?? "{{", options.rightDelimiter ?? "}}")
  const parsed = parseNodes(pieces, { i: 0 })
  if (parsed.end !== undefined) fail(`unexpected {{${parsed.end}}}`)
  return new Renderer(functions(options.env), options.errorOnMissingKey ?? false).nodes(parsed.nodes, { vars: new Map([["$", null]]), dot: null })
}

/** A rendered `env = true` template: KEY=VALUE lines (comments and blank lines skipped, quotes removed). */
export const parseEnvFile = (content: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, "")
    if (line === "" || line.startsWith("#")) continue
    const eq = line.indexOf("=")
    if (eq <= 0) throw new TemplateError(`invalid line in an env template: ${JSON.stringify(raw)} (expected KEY=VALUE)`)
    let value = line.slice(eq + 1).trim()
    if (/^"(.*)"$/.test(value) || /^'(.*)'$/.test(value)) value = value.slice(1, -1)
    out[line.slice(0, eq).trim()] = value
  }
  return out
}
