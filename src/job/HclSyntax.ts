/**
 * HCL's native syntax (hashicorp/hcl v2, hclsyntax/spec.md) read into a syntax tree with positions: bodies of
 * attributes and labelled blocks; expressions with literals, templates (quoted strings and heredocs with
 * `${...}` interpolations, `%{if}`/`%{for}` directives and `~` strip markers), tuples, objects, variables and
 * traversals, splats, function calls, operators, conditionals and `for` expressions. Evaluation is HclEval.ts.
 * Pure; a syntax error names its line and column.
 */

export interface Pos {
  readonly line: number
  readonly column: number
}

export class HclSyntaxError extends Error {
  constructor(readonly pos: Pos, readonly detail: string) {
    super(`line ${pos.line}: ${detail}`)
  }
}

export type Expr =
  | { readonly kind: "literal"; readonly value: string | number | boolean | null; readonly pos: Pos }
  | { readonly kind: "template"; readonly parts: ReadonlyArray<TemplatePart>; readonly pos: Pos }
  /** `"${x}"`: a template of one interpolation yields the value itself, of whatever type. */
  | { readonly kind: "wrap"; readonly expr: Expr; readonly pos: Pos }
  | { readonly kind: "tuple"; readonly items: ReadonlyArray<Expr>; readonly pos: Pos }
  | { readonly kind: "object"; readonly items: ReadonlyArray<ObjectItem>; readonly pos: Pos }
  /** A root name; `source` is the text of the whole static traversal it starts (for Nomad's runtime variables). */
  | { readonly kind: "variable"; readonly name: string; readonly pos: Pos }
  | { readonly kind: "getattr"; readonly target: Expr; readonly name: string; readonly pos: Pos }
  | { readonly kind: "index"; readonly target: Expr; readonly key: Expr; readonly pos: Pos }
  /** `list.*.a` (attribute-only) and `list[*].a[0]` (full): `each` is applied to every element, at `item`. */
  | { readonly kind: "splat"; readonly target: Expr; readonly each: Expr; readonly pos: Pos }
  | { readonly kind: "item"; readonly pos: Pos }
  | { readonly kind: "call"; readonly name: string; readonly args: ReadonlyArray<Expr>; readonly expand: boolean; readonly pos: Pos }
  | { readonly kind: "unary"; readonly op: "!" | "-"; readonly operand: Expr; readonly pos: Pos }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly pos: Pos }
  | { readonly kind: "conditional"; readonly condition: Expr; readonly then: Expr; readonly otherwise: Expr; readonly pos: Pos }
  | {
    readonly kind: "for"
    readonly keyVar: string | undefined
    readonly valueVar: string
    readonly collection: Expr
    readonly keyExpr: Expr | undefined
    readonly valueExpr: Expr
    readonly condition: Expr | undefined
    readonly grouping: boolean
    readonly pos: Pos
  }
  | { readonly kind: "paren"; readonly expr: Expr; readonly pos: Pos }

export type BinaryOp = "||" | "&&" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "+" | "-" | "*" | "/" | "%"

export interface ObjectItem {
  readonly key: Expr
  /** A bare identifier key (`a = 1`) names the key itself, it is not a variable. */
  readonly bareKey: string | undefined
  readonly value: Expr
}

export type TemplatePart =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "interp"; readonly expr: Expr }
  | { readonly kind: "if"; readonly condition: Expr; readonly then: ReadonlyArray<TemplatePart>; readonly otherwise: ReadonlyArray<TemplatePart>; readonly pos: Pos }
  | {
    readonly kind: "for"
    readonly keyVar: string | undefined
    readonly valueVar: string
    readonly collection: Expr
    readonly body: ReadonlyArray<TemplatePart>
    readonly pos: Pos
  }

export interface Attribute {
  readonly name: string
  readonly expr: Expr
  readonly pos: Pos
}

export interface Block {
  readonly type: string
  readonly labels: ReadonlyArray<string>
  readonly body: Body
  readonly pos: Pos
}

export interface Body {
  readonly attributes: ReadonlyArray<Attribute>
  readonly blocks: ReadonlyArray<Block>
  readonly pos: Pos
}

/** The source text of a static traversal (`NOMAD_PORT_http`, `attr.kernel.name`, `env["HOME"]`), or undefined. */
export const traversalSource = (expr: Expr): string | undefined => {
  switch (expr.kind) {
    case "variable":
      return expr.name
    case "getattr": {
      const target = traversalSource(expr.target)
      return target === undefined ? undefined : `${target}.${expr.name}`
    }
    case "index": {
      const target = traversalSource(expr.target)
      if (target === undefined || expr.key.kind !== "literal") return undefined
      return `${target}[${JSON.stringify(expr.key.value)}]`
    }
    default:
      return undefined
  }
}

const identStart = /[\p{L}_]/u
const identRest = /^[\p{L}\p{N}_-]*/u
const binaryLevels: ReadonlyArray<ReadonlyArray<BinaryOp>> = [
  ["||"],
  ["&&"],
  ["==", "!="],
  ["<=", ">=", "<", ">"],
  ["+", "-"],
  ["*", "/", "%"]
]

interface Sequence {
  readonly parts: ReadonlyArray<TemplatePart>
  /** The directive that ended the sequence (`else`, `endif`, `endfor`), if any, and whether it stripped to its left. */
  readonly end: { readonly keyword: string; readonly stripLeft: boolean; readonly stripRight: boolean; readonly pos: Pos } | undefined
}

class Reader {
  pos = 0
  /** Whether newlines are insignificant right now: inside parentheses, brackets and interpolations. */
  private readonly newlineStack: Array<boolean> = [false]
  private readonly lineStarts: Array<number> = [0]

  constructor(readonly text: string, private readonly firstLine: number, private readonly firstColumn: number) {
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.lineStarts.push(i + 1)
  }

  at(offset = this.pos): Pos {
    let lo = 0
    let hi = this.lineStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.lineStarts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return { line: this.firstLine + lo, column: (lo === 0 ? this.firstColumn : 1) + offset - this.lineStarts[lo]! }
  }

  fail(message: string, offset = this.pos): never {
    throw new HclSyntaxError(this.at(offset), message)
  }

  peek(n = 0): string | undefined {
    return this.text[this.pos + n]
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos)
  }

  describe(): string {
    const c = this.peek()
    if (c === undefined) return "the end of the file"
    if (c === "\n") return "a new line"
    return JSON.stringify(this.text.slice(this.pos).split(/[\s]/)[0]!.slice(0, 20) || c)
  }

  withNewlines<T>(ignore: boolean, body: () => T): T {
    this.newlineStack.push(ignore)
    try {
      return body()
    } finally {
      this.newlineStack.pop()
    }
  }

  /** Skips blanks and comments, and newlines when they are insignificant (or `newlines`). */
  skip(newlines = this.newlineStack[this.newlineStack.length - 1]!) {
    for (;;) {
      const c = this.text[this.pos]
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) this.pos++
      else if (c === "#" || (c === "/" && this.text[this.pos + 1] === "/")) {
        while (this.pos < this.text.length && this.text[this.pos] !== "\n") this.pos++
      } else if (c === "/" && this.text[this.pos + 1] === "*") {
        const end = this.text.indexOf("*/", this.pos + 2)
        if (end === -1) this.fail("Unterminated comment: a /* comment has no matching */")
        this.pos = end + 2
      } else return
    }
  }

  /** An expression and its closing bracket; newlines stay insignificant up to that bracket. */
  enclosed(close: string, what: string): Expr {
    return this.withNewlines(true, () => {
      const inner = this.expression()
      this.expect(close, what)
      return inner
    })
  }

  expect(s: string, what: string) {
    this.skip()
    if (!this.startsWith(s)) this.fail(`${what}: expected ${JSON.stringify(s)}, found ${this.describe()}`)
    this.pos += s.length
  }

  identifier(): string | undefined {
    const c = this.text[this.pos]
    if (c === undefined || !identStart.test(c)) return undefined
    const rest = identRest.exec(this.text.slice(this.pos + 1))![0]
    const name = c + rest
    this.pos += name.length
    return name
  }

  // ---------------------------------------------------------------------------------------------------------
  // Bodies

  body(topLevel: boolean, singleLine = false, opened?: number): Body {
    const start = this.at()
    const attributes: Array<Attribute> = []
    const blocks: Array<Block> = []
    for (;;) {
      this.skip(true)
      const c = this.peek()
      if (c === undefined) {
        if (!topLevel) this.fail("Unclosed configuration block: there is no closing brace for this block before the end of the file", opened)
        break
      }
      if (c === "}") {
        if (topLevel) this.fail("Argument or block definition required: found an unexpected closing brace")
        this.pos++
        break
      }
      const namePos = this.pos
      const name = this.identifier()
      if (name === undefined) this.fail(`Argument or block definition required: an argument name or block type was expected, found ${this.describe()}`)
      this.skip(false)
      if (this.peek() === "=" && this.peek(1) !== "=") {
        this.pos++
        const expr = this.withNewlines(false, () => this.expression())
        this.skip(false)
        const next = this.peek()
        // A single-line block holds one argument and closes right after it; any other ends with its line.
        if (singleLine) {
          if (next === undefined) this.fail("Unclosed configuration block: there is no closing brace for this block before the end of the file", opened)
          if (next !== "}") this.fail(`Invalid single-argument block definition: a single-line block must close right after its one argument, found ${this.describe()}`)
        } else if (next !== undefined && next !== "\n") {
          this.fail(`Missing newline after argument: an argument definition must end with a newline, found ${this.describe()}`)
        }
        if (attributes.some((a) => a.name === name)) this.fail(`Attribute redefined: the argument ${JSON.stringify(name)} was already set; each argument may be set only once`, namePos)
        attributes.push({ name, expr, pos: this.at(namePos) })
        if (singleLine) {
          this.pos++
          break
        }
        continue
      }
      if (singleLine) this.fail(`Argument definition required: a single-line block can contain only a single argument, not the block ${JSON.stringify(name)}`, namePos)
      const labels: Array<string> = []
      for (;;) {
        this.skip(false)
        if (this.peek() === "\"") labels.push(this.label())
        else {
          const before = this.pos
          const label = this.identifier()
          if (label === undefined) {
            this.pos = before
            break
          }
          labels.push(label)
        }
      }
      this.skip(false)
      if (this.peek() !== "{") {
        this.fail(
          this.peek() === "\n" || this.peek() === undefined
            ? `Invalid block definition: a block definition must have block content delimited by "{" and "}", starting on the same line as the block header`
            : `Invalid argument or block definition: expected "=" or a block's "{" after ${JSON.stringify(name)}, found ${this.describe()}`
        )
      }
      this.pos++
      this.skip(false)
      const oneLine = this.peek() !== "\n" && this.peek() !== "}"
      const body = this.body(false, oneLine, namePos)
      blocks.push({ type: name, labels, body, pos: this.at(namePos) })
      this.skip(false)
      if (this.peek() !== undefined && this.peek() !== "\n") this.fail(`Missing newline after block definition: a block definition must end with a newline, found ${this.describe()}`)
    }
    return { attributes, blocks, pos: start }
  }

  /** A quoted block label: a plain string, no interpolation. */
  label(): string {
    const start = this.pos
    const expr = this.quoted()
    if (expr.kind === "literal" && typeof expr.value === "string") return expr.value
    if (expr.kind === "template" && expr.parts.every((p) => p.kind === "text")) return expr.parts.map((p) => (p as { text: string }).text).join("")
    return this.fail("Invalid block label: a block label must be a plain string, with no template sequences", start)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Expressions

  expression(): Expr {
    this.skip()
    const condition = this.binary(0)
    const before = this.pos
    this.skip()
    if (this.peek() !== "?") {
      this.pos = before
      return condition
    }
    this.pos++
    const then = this.expression()
    this.expect(":", "Missing false expression in conditional")
    const otherwise = this.expression()
    return { kind: "conditional", condition, then, otherwise, pos: condition.pos }
  }

  binary(level: number): Expr {
    if (level >= binaryLevels.length) return this.unary()
    let left = this.binary(level + 1)
    for (;;) {
      const before = this.pos
      this.skip()
      // Two-character operators are listed before their one-character prefixes.
      const op = binaryLevels[level]!.find((o) => this.startsWith(o))
      if (op === undefined) {
        this.pos = before
        return left
      }
      const opPos = this.pos
      this.pos += op.length
      const right = this.binary(level + 1)
      left = { kind: "binary", op, left, right, pos: this.at(opPos) }
    }
  }

  unary(): Expr {
    this.skip()
    const c = this.peek()
    if (c === "!" || c === "-") {
      const pos = this.at()
      this.pos++
      const operand = this.unary()
      // A negative number literal is a literal, so -9223372036854775808 and friends stay exact.
      if (c === "-" && operand.kind === "literal" && typeof operand.value === "number") return { kind: "literal", value: -operand.value, pos }
      return { kind: "unary", op: c, operand, pos }
    }
    return this.postfix(this.primary())
  }

  /** Traversal steps after a value: `.name`, `.0`, `[key]`, and the two splats. */
  postfix(target: Expr): Expr {
    let expr = target
    for (;;) {
      const before = this.pos
      this.skip()
      const c = this.peek()
      // `...` expands a call's last argument, or groups a for expression's values.
      if (this.startsWith("...")) {
        this.pos = before
        return expr
      }
      // An attribute-only splat takes the `.name` and `.0` steps after it; later steps apply to its result.
      if (c === "." && this.peek(1) === "*") {
        this.pos += 2
        expr = { kind: "splat", target: expr, each: this.splatSteps(), pos: expr.pos }
        continue
      }
      // A full splat takes every step after it, splats included.
      if (c === "[" && /^\[\s*\*\s*\]/.test(this.text.slice(this.pos))) {
        this.pos = this.text.indexOf("]", this.pos) + 1
        return { kind: "splat", target: expr, each: this.postfix({ kind: "item", pos: this.at() }), pos: expr.pos }
      }
      const step = this.step(expr)
      if (step === undefined) {
        this.pos = before
        return expr
      }
      expr = step
    }
  }

  /** One `.name`, `.0` or `[key]` step on `target`, or undefined (nothing consumed) when there is none. */
  step(target: Expr): Expr | undefined {
    const c = this.peek()
    if (c === ".") {
      const pos = this.at()
      this.pos++
      const index = /^\d+/.exec(this.text.slice(this.pos))
      if (index !== null) {
        this.pos += index[0].length
        return { kind: "index", target, key: { kind: "literal", value: Number(index[0]), pos }, pos }
      }
      const name = this.identifier()
      if (name === undefined) this.fail(`Invalid attribute name: an attribute name is required after a dot, found ${this.describe()}`)
      return { kind: "getattr", target, name, pos }
    }
    if (c === "[") {
      const pos = this.at()
      this.pos++
      const key = this.enclosed("]", "Missing close bracket on index")
      return { kind: "index", target, key, pos }
    }
    return undefined
  }

  splatSteps(): Expr {
    let each: Expr = { kind: "item", pos: this.at() }
    for (;;) {
      const before = this.pos
      this.skip()
      if (this.startsWith("...") || this.peek() === "[") {
        this.pos = before
        return each
      }
      const step = this.step(each)
      if (step === undefined) {
        this.pos = before
        return each
      }
      each = step
    }
  }

  primary(): Expr {
    this.skip()
    const pos = this.at()
    const c = this.peek()
    if (c === undefined) this.fail("Missing expression: an expression was expected, found the end of the file")
    if (c === "\"") return this.quoted()
    if (c === "<" && this.peek(1) === "<") return this.heredoc()
    if (c === "[") return this.tuple()
    if (c === "{") return this.object()
    if (c === "(") {
      this.pos++
      const expr = this.enclosed(")", "Unbalanced parentheses")
      return { kind: "paren", expr, pos }
    }
    // hclsyntax's scanner takes digits, dots and exponents, not ending in a dot (`1.e3` is one number, `1.` is
    // `1` and a dot); cty then reads the token as a number, or it is invalid (`1.2.3`).
    const number = /^\d(?:\d|\.|[eE][+-]?\d)*/.exec(this.text.slice(this.pos))?.[0].replace(/\.+$/, "")
    if (number !== undefined) {
      if (!/^\d+(\.\d*)?([eE][+-]?\d+)?$/.test(number)) this.fail(`Invalid number literal: ${number} is not a number`)
      this.pos += number.length
      const value = Number(number)
      // jobspec2 hands a job's numbers to Nomad as float64; a number beyond it would become ±Inf there.
      if (!Number.isFinite(value)) this.fail(`${number} is beyond the largest number a Nomad job can hold (about 1.8e308)`, this.pos - number.length)
      return { kind: "literal", value, pos }
    }
    const name = this.identifier()
    if (name === undefined) {
      this.fail(c === "\n" ? "Missing expression: an expression was expected, found a new line" : `Invalid expression: expected the start of an expression, found ${this.describe()}`)
    }
    if (name === "true" || name === "false") return { kind: "literal", value: name === "true", pos }
    if (name === "null") return { kind: "literal", value: null, pos }
    if (this.peek() === ":" && this.peek(1) === ":") {
      this.fail(`Unsupported function namespace: ${name}:: functions are not available in Nomad job files`)
    }
    this.skip(false)
    if (this.peek() === "(") return this.call(name, pos)
    return { kind: "variable", name, pos }
  }

  call(name: string, pos: Pos): Expr {
    this.pos++
    return this.withNewlines(true, () => {
      const args: Array<Expr> = []
      let expand = false
      for (;;) {
        this.skip()
        if (this.peek() === ")") break
        if (expand) this.fail(`Missing closing parenthesis: an expanded (...) argument must be the last argument of ${name}`)
        args.push(this.expression())
        this.skip()
        if (this.startsWith("...")) {
          expand = true
          this.pos += 3
          this.skip()
        }
        if (this.peek() === ",") this.pos++
        else if (this.peek() !== ")") this.fail(`Missing argument separator: a comma is required between the arguments of ${name}, found ${this.describe()}`)
      }
      this.pos++
      return { kind: "call", name, args, expand, pos }
    })
  }

  tuple(): Expr {
    const pos = this.at()
    this.pos++
    return this.withNewlines(true, () => {
      this.skip()
      if (this.forKeyword()) return this.forExpr(pos, false)
      const items: Array<Expr> = []
      for (;;) {
        this.skip()
        if (this.peek() === "]") break
        items.push(this.expression())
        this.skip()
        if (this.peek() === ",") this.pos++
        else if (this.peek() !== "]") this.fail(`Missing item separator: a comma is required between the items of a list, found ${this.describe()}`)
      }
      this.pos++
      return { kind: "tuple", items, pos }
    })
  }

  object(): Expr {
    const pos = this.at()
    this.pos++
    return this.withNewlines(false, () => {
      this.skip(true)
      if (this.forKeyword()) return this.withNewlines(true, () => this.forExpr(pos, true))
      const items: Array<ObjectItem> = []
      for (;;) {
        this.skip(true)
        if (this.peek() === "}") break
        const keyStart = this.pos
        // Newlines end a key as they end an attribute (`{a\n== b ? ...}` is no key); within its brackets they do not.
        const key = this.withNewlines(false, () => this.expression())
        // A lone identifier, comments around it or not; `(name)` is a paren expression, its variable's value.
        const bareKey = key.kind === "variable" ? key.name : undefined
        this.skip(false)
        if (this.peek() !== "=" && this.peek() !== ":") {
          this.fail(`Missing key/value separator: expected an equals sign ("=") after the key ${JSON.stringify(this.text.slice(keyStart, this.pos).trim())}, found ${this.describe()}`)
        }
        this.pos++
        const value = this.withNewlines(false, () => this.expression())
        items.push({ key, bareKey, value })
        this.skip(false)
        const c = this.peek()
        if (c === "," || c === "\n") this.pos++
        else if (c !== "}") this.fail(`Missing attribute separator: expected a newline or comma after an attribute of an object, found ${this.describe()}`)
      }
      this.pos++
      return { kind: "object", items, pos }
    })
  }

  /** Consumes `for` followed by a space, if it starts a for expression. */
  forKeyword(): boolean {
    if (!/^for\s/.test(this.text.slice(this.pos, this.pos + 4))) return false
    this.pos += 3
    return true
  }

  forIntro(what: string): { keyVar: string | undefined; valueVar: string; collection: Expr } {
    this.skip()
    const first = this.identifier()
    if (first === undefined) this.fail(`Invalid ${what}: a variable name is required after "for", found ${this.describe()}`)
    this.skip()
    let keyVar: string | undefined
    let valueVar = first
    if (this.peek() === ",") {
      this.pos++
      this.skip()
      const second = this.identifier()
      if (second === undefined) this.fail(`Invalid ${what}: a second variable name is required after the comma, found ${this.describe()}`)
      keyVar = first
      valueVar = second
      this.skip()
    }
    if (!/^in[\s]/.test(this.text.slice(this.pos, this.pos + 3))) this.fail(`Invalid ${what}: expected "in" after the variable names, found ${this.describe()}`)
    this.pos += 2
    const collection = this.expression()
    return { keyVar, valueVar, collection }
  }

  forExpr(pos: Pos, object: boolean): Expr {
    const { collection, keyVar, valueVar } = this.forIntro("for expression")
    this.expect(":", "Invalid for expression")
    let keyExpr: Expr | undefined
    let valueExpr = this.expression()
    let grouping = false
    if (object) {
      this.expect("=>", "Invalid for expression: an object for expression needs a key and a value, key => value")
      keyExpr = valueExpr
      valueExpr = this.expression()
      this.skip()
      if (this.startsWith("...")) {
        grouping = true
        this.pos += 3
      }
    }
    this.skip()
    let condition: Expr | undefined
    if (/^if[\s(]/.test(this.text.slice(this.pos, this.pos + 3))) {
      this.pos += 2
      condition = this.expression()
    }
    this.expect(object ? "}" : "]", "Invalid for expression")
    return { kind: "for", keyVar, valueVar, collection, keyExpr, valueExpr, condition, grouping, pos }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Templates

  quoted(): Expr {
    const pos = this.at()
    this.pos++
    const sequence = this.sequence(false)
    if (sequence.end !== undefined) this.fail(`Unexpected ${sequence.end.keyword} directive: there is no matching if or for`)
    this.pos++ // the closing quote
    return templateExpr(sequence.parts, pos)
  }

  heredoc(): Expr {
    const pos = this.at()
    const m = /^<<(-?)([\p{L}_][\p{L}\p{N}_-]*)\r?\n/u.exec(this.text.slice(this.pos))
    if (m === null) this.fail("Invalid heredoc: expected <<MARKER or <<-MARKER followed by a newline")
    const bodyStart = this.pos + m[0].length
    const lines: Array<string> = []
    let cursor = bodyStart
    for (;;) {
      if (cursor >= this.text.length) this.fail(`Unterminated template string: the heredoc ${m[2]} has no closing marker`, this.text.length)
      const end = this.text.indexOf("\n", cursor)
      const line = this.text.slice(cursor, end === -1 ? undefined : end)
      const next = end === -1 ? this.text.length : end + 1
      // The closing marker is a line of its own, ended by a newline like every line of the heredoc.
      if (line.trim() === m[2] && end !== -1) {
        // The marker line ends the heredoc; what follows it on the line is the rest of the attribute.
        this.pos = cursor + line.indexOf(m[2]!) + m[2]!.length
        break
      }
      lines.push(line)
      cursor = next
    }
    let body = lines.map((l) => `${l}\n`).join("")
    if (m[1] === "-") {
      const indents = lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length)
      const indent = indents.length === 0 ? 0 : Math.min(...indents)
      // Lines of only blanks neither count nor lose their blanks (hclsyntax's flushHeredocTemplateParts).
      body = lines.map((l) => `${l.trim() === "" ? l : l.slice(indent)}\n`).join("")
    }
    const sub = new Reader(body, this.at(bodyStart).line, 1)
    const sequence = sub.sequence(true)
    if (sequence.end !== undefined) sub.fail(`Unexpected ${sequence.end.keyword} directive: there is no matching if or for`)
    return templateExpr(sequence.parts, pos)
  }

  /**
   * Template parts up to the end of the template (a closing quote, or the end of a heredoc's text) or a
   * directive that closes an enclosing one (`else`, `endif`, `endfor`).
   */
  sequence(heredoc: boolean, stripFirst = false): Sequence {
    const parts: Array<TemplatePart> = []
    let text = ""
    let stripNext = stripFirst
    const flush = (stripLeft: boolean) => {
      let t = text
      if (stripNext) t = t.replace(/^[ \t\r\n]+/, "")
      if (stripLeft) t = t.replace(/[ \t\r\n]+$/, "")
      // Text stripped to nothing still makes `"  ${~ x}"` a template (a string), not the bare value.
      if (text !== "") parts.push({ kind: "text", text: t })
      text = ""
      stripNext = false
    }
    for (;;) {
      const c = this.peek()
      if (c === undefined) {
        if (!heredoc) this.fail("Unterminated template string: a quoted string has no closing quote")
        flush(false)
        return { parts, end: undefined }
      }
      if (!heredoc && c === "\"") {
        flush(false)
        return { parts, end: undefined }
      }
      if (!heredoc && c === "\n") this.fail("Unterminated template string: a quoted string cannot span lines (use a heredoc)")
      if (!heredoc && c === "\\") {
        text += this.escape()
        continue
      }
      if ((c === "$" || c === "%") && this.peek(1) === c && this.peek(2) === "{") {
        text += `${c}{`
        this.pos += 3
        continue
      }
      if (c === "$" && this.peek(1) === "{") {
        const start = this.pos
        this.pos += 2
        const stripLeft = this.peek() === "~"
        if (stripLeft) this.pos++
        flush(stripLeft)
        const expr = this.withNewlines(true, () => this.expression())
        this.skip(true)
        const stripRight = this.peek() === "~"
        if (stripRight) this.pos++
        if (this.peek() !== "}") this.fail(`Extra characters after interpolation expression: expected "}", found ${this.describe()}`, start)
        this.pos++
        parts.push({ kind: "interp", expr })
        stripNext = stripRight
        continue
      }
      if (c === "%" && this.peek(1) === "{") {
        const directivePos = this.at()
        this.pos += 2
        const stripLeft = this.peek() === "~"
        if (stripLeft) this.pos++
        flush(stripLeft)
        this.skip(true)
        const keyword = this.identifier()
        const close = () => {
          this.skip(true)
          const stripRight = this.peek() === "~"
          if (stripRight) this.pos++
          if (this.peek() !== "}") this.fail(`Invalid template directive: expected "}" to close %{ ${keyword}, found ${this.describe()}`)
          this.pos++
          return stripRight
        }
        if (keyword === "else" || keyword === "endif" || keyword === "endfor") {
          return { parts, end: { keyword, stripLeft, stripRight: close(), pos: directivePos } }
        }
        if (keyword === "if") {
          const condition = this.withNewlines(true, () => this.expression())
          const then = this.sequence(heredoc, close())
          let otherwise: Sequence = { parts: [], end: then.end }
          if (then.end?.keyword === "else") otherwise = this.sequence(heredoc, then.end.stripRight)
          // Where the template ended, or the directive found instead of endif (hclsyntax's subject).
          if (otherwise.end?.keyword !== "endif") throw new HclSyntaxError(otherwise.end?.pos ?? this.at(), "Unterminated template if: %{ if } needs a matching %{ endif }")
          parts.push({ kind: "if", condition, then: then.parts, otherwise: then.end?.keyword === "else" ? otherwise.parts : [], pos: directivePos })
          stripNext = otherwise.end.stripRight
          continue
        }
        if (keyword === "for") {
          const intro = this.withNewlines(true, () => this.forIntro("template for directive"))
          const body = this.sequence(heredoc, close())
          if (body.end?.keyword !== "endfor") throw new HclSyntaxError(body.end?.pos ?? this.at(), "Unterminated template for: %{ for } needs a matching %{ endfor }")
          parts.push({ kind: "for", ...intro, body: body.parts, pos: directivePos })
          stripNext = body.end.stripRight
          continue
        }
        this.fail(`Invalid template directive: expected if, else, endif, for or endfor after %{, found ${JSON.stringify(keyword ?? this.describe())}`)
      }
      text += c
      this.pos++
    }
  }

  escape(): string {
    const e = this.peek(1)
    this.pos += 2
    switch (e) {
      case "n":
        return "\n"
      case "r":
        return "\r"
      case "t":
        return "\t"
      case "\"":
        return "\""
      case "\\":
        return "\\"
      case "u":
      case "U": {
        const digits = e === "u" ? 4 : 8
        const hex = this.text.slice(this.pos, this.pos + digits)
        if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) this.fail(`Invalid escape sequence: \\${e} needs ${digits} hexadecimal digits`, this.pos - 2)
        this.pos += digits
        return String.fromCodePoint(parseInt(hex, 16))
      }
      default:
        return this.fail(`Invalid escape sequence: the sequence \\${e ?? ""} is not allowed in a quoted string`, this.pos - 2)
    }
  }
}

const templateExpr = (parts: ReadonlyArray<TemplatePart>, pos: Pos): Expr => {
  const only = parts.length === 1 ? parts[0]! : undefined
  if (only?.kind === "interp") return { kind: "wrap", expr: only.expr, pos }
  if (only?.kind === "text") return { kind: "literal", value: only.text, pos }
  if (parts.length === 0) return { kind: "literal", value: "", pos }
  return { kind: "template", parts, pos }
}

/** Parses a whole file (or a var file) into its top-level body. */
export const parseBody = (text: string): Body => new Reader(text.replace(/^\uFEFF/, ""), 1, 1).body(true)

/** Parses a single expression (a `-var` value of a non-string variable, a type expression). */
export const parseExpression = (text: string): Expr => {
  const reader = new Reader(text, 1, 1)
  const expr = reader.withNewlines(true, () => reader.expression())
  reader.skip(true)
  if (reader.peek() !== undefined) reader.fail(`Extra characters after expression: found ${reader.describe()}`)
  return expr
}

/** Parses a whole string as template content, as HCL's JSON syntax reads strings (no quotes, no escapes). */
export const parseTemplate = (text: string): Expr => {
  const reader = new Reader(text, 1, 1)
  const sequence = reader.sequence(true)
  if (sequence.end !== undefined) reader.fail(`Unexpected ${sequence.end.keyword} directive: there is no matching if or for`)
  return templateExpr(sequence.parts, { line: 1, column: 1 })
}
