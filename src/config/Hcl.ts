/**
 * A reader for the HCL a user writes in a job file, enough for `containerd-driver spec`: attributes,
 * blocks with labels, strings (escapes; `${...}` kept verbatim, as Nomad interpolates later), heredocs,
 * numbers, bools, null, lists, objects and comments. The result has the shape jobspec2 stores:
 * every block becomes a list of bodies, and an object-valued attribute a one-element list
 * (nomad-plugin-protocol.md §3.3), so it decodes exactly like a submitted job. Pure; errors name the line.
 */
import { Either } from "effect"

export type HclValue = string | number | boolean | null | ReadonlyArray<HclValue> | HclBody
export interface HclBody {
  readonly [key: string]: HclValue
}

/** A block with its labels, kept separately so callers can find e.g. `task "web"`. */
export interface HclBlock {
  readonly type: string
  readonly labels: ReadonlyArray<string>
  readonly body: HclBody
  readonly blocks: ReadonlyArray<HclBlock>
}

export class HclError extends Error {}

class Reader {
  pos = 0
  constructor(readonly text: string) {}

  fail(message: string): never {
    const line = this.text.slice(0, this.pos).split("\n").length
    throw new HclError(`line ${line}: ${message}`)
  }

  /** Skips spaces, comments and (when `newlines`) line breaks. */
  skip(newlines: boolean) {
    for (;;) {
      const c = this.text[this.pos]
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) this.pos++
      else if (c === "#" || (c === "/" && this.text[this.pos + 1] === "/")) {
        while (this.pos < this.text.length && this.text[this.pos] !== "\n") this.pos++
      } else if (c === "/" && this.text[this.pos + 1] === "*") {
        const end = this.text.indexOf("*/", this.pos + 2)
        if (end === -1) this.fail("unterminated comment")
        this.pos = end + 2
      } else return
    }
  }

  peek(): string | undefined {
    return this.text[this.pos]
  }

  expect(c: string) {
    if (this.text[this.pos] !== c) this.fail(`expected ${JSON.stringify(c)}, found ${JSON.stringify(this.peek() ?? "end of input")}`)
    this.pos++
  }

  identifier(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.text.slice(this.pos))
    if (m === null) this.fail(`expected a name, found ${JSON.stringify(this.peek() ?? "end of input")}`)
    this.pos += m[0].length
    return m[0]
  }

  string(): string {
    this.expect("\"")
    let out = ""
    for (;;) {
      const c = this.text[this.pos++]
      if (c === undefined || c === "\n") this.fail("unterminated string")
      if (c === "\"") return out
      if (c === "\\") {
        const e = this.text[this.pos++]
        const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\"": "\"", "\\": "\\" }
        if (e === "u") {
          out += String.fromCharCode(parseInt(this.text.slice(this.pos, this.pos + 4), 16))
          this.pos += 4
        } else if (e !== undefined && escapes[e] !== undefined) out += escapes[e]
        else this.fail(`unknown escape \\${e}`)
      } else if (c === "$" && this.text.startsWith("${", this.pos)) {
        // `$${` is HCL's escape for a literal `${`.
        out += "${"
        this.pos += 2
      } else if (c === "$" && this.text[this.pos] === "{") {
        // Interpolations stay verbatim: Nomad resolves them on the client.
        const end = this.text.indexOf("}", this.pos)
        if (end === -1) this.fail("unterminated interpolation")
        out += this.text.slice(this.pos - 1, end + 1)
        this.pos = end + 1
      } else out += c
    }
  }

  heredoc(): string {
    const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(this.text.slice(this.pos))
    if (m === null) this.fail("malformed heredoc")
    this.pos += m[0].length
    const lines: Array<string> = []
    for (;;) {
      const end = this.text.indexOf("\n", this.pos)
      const line = this.text.slice(this.pos, end === -1 ? undefined : end)
      this.pos = end === -1 ? this.text.length : end + 1
      if (line.trim() === m[2]) break
      if (end === -1) this.fail(`heredoc ${m[2]} is not closed`)
      lines.push(line)
    }
    if (m[1] === "-") {
      const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^\s*/.exec(l)![0].length))
      return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join("\n") + "\n"
    }
    return lines.join("\n") + "\n"
  }

  /** A value; `name` is the attribute it is assigned to, for messages. */
  value(name?: string): HclValue {
    this.skip(false)
    const c = this.peek()
    if (c === "\"") return this.string()
    if (c === "<" && this.text[this.pos + 1] === "<") return this.heredoc()
    if (c === "[") {
      this.pos++
      const items: Array<HclValue> = []
      for (;;) {
        this.skip(true)
        if (this.peek() === "]") break
        items.push(this.value(name))
        this.skip(true)
        if (this.peek() === ",") this.pos++
        else if (this.peek() !== "]") this.fail("expected , or ] in a list")
      }
      this.pos++
      return items
    }
    if (c === "{") {
      this.pos++
      const body: Record<string, HclValue> = {}
      for (;;) {
        this.skip(true)
        if (this.peek() === "}") break
        const key = this.peek() === "\"" ? this.string() : this.identifier()
        this.skip(false)
        if (this.peek() === "=" || this.peek() === ":") this.pos++
        else this.fail(`expected = after ${key}`)
        body[key] = this.value(key)
        this.skip(false)
        if (this.peek() === ",") this.pos++
      }
      this.pos++
      return body
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.pos))
    if (m === null) {
      const rest = this.text.slice(this.pos).split("\n")[0]!.trim()
      this.fail(rest === "" ? "expected a value" : `unsupported expression ${JSON.stringify(rest.slice(0, 30))}`)
    }
    this.pos += m[0].length
    if (m[0] === "true" || m[0] === "false" || m[0] === "null") return m[0] === "true" ? true : m[0] === "false" ? false : null
    const n = Number(m[0])
    // jobspec2 turns a number into a float64, and Nomad's JSON job API refuses the ±Inf an overflow gives.
    if (!Number.isFinite(n)) {
      this.fail(`${name === undefined ? "" : `${name} = `}${m[0]} is beyond the largest number a Nomad job can hold (about 1.8e308)`)
    }
    return n
  }

  /** A body up to `}` (or the end of input at top level). */
  body(topLevel: boolean): HclBlock {
    const attributes: Record<string, HclValue> = {}
    const blocks: Array<HclBlock> = []
    for (;;) {
      this.skip(true)
      const c = this.peek()
      if (c === undefined) {
        if (!topLevel) this.fail("missing }")
        break
      }
      if (c === "}") {
        if (topLevel) this.fail("unexpected }")
        this.pos++
        break
      }
      const name = this.identifier()
      this.skip(false)
      if (this.peek() === "=") {
        this.pos++
        if (name in attributes) this.fail(`attribute ${name} is set twice`)
        const value = this.value(name)
        // jobspec2 wraps an object-valued attribute in a list, like a block.
        attributes[name] = value !== null && typeof value === "object" && !Array.isArray(value) ? [value] : value
        continue
      }
      const labels: Array<string> = []
      while (this.peek() === "\"") {
        labels.push(this.string())
        this.skip(false)
      }
      this.expect("{")
      const block = this.body(false)
      blocks.push({ type: name, labels, body: block.body, blocks: block.blocks })
    }
    const body: Record<string, HclValue> = { ...attributes }
    for (const block of blocks) {
      const list = (body[block.type] as Array<HclValue> | undefined) ?? []
      body[block.type] = [...list, block.body]
    }
    return { type: "", labels: [], body, blocks }
  }
}

/** Parses an HCL file into its top-level body and block tree. */
export const parseHcl = (text: string): Either.Either<HclBlock, string> =>
  Either.try({
    try: () => new Reader(text).body(true),
    catch: (e) => (e instanceof HclError ? e.message : String(e))
  })
