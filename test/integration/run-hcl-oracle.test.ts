// How `containerd-driver run` reads job files (src/job/HclSyntax.ts, HclEval.ts, HclFunctions.ts) against the real
// thing: test/oracle/hcleval, a Go program evaluating the same text with hashicorp/hcl's hclsyntax and go-cty's
// functions (test/support/HclOracle.ts). The example jobs, and random expressions, must evaluate to the same values,
// or fail alike.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import { FastCheck as fc } from "effect"
import { evaluate, type Value } from "../../src/job/HclEval.js"
import { type Body, parseBody } from "../../src/job/HclSyntax.js"
import { oracle, ourResult } from "../support/HclOracle.js"

/** Nested objects for the runtime references a file makes (`attr.kernel.name`), each its own `${...}` text, as jobspec2 leaves them. */
const runtimeVariables = (text: string): Record<string, Value> => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const m of text.matchAll(/(?<!\$)\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}/g)) {
    const parts = m[1]!.split(".")
    if (parts[0] === "var" || parts[0] === "local") continue
    let target = out as Record<string, unknown>
    parts.slice(0, -1).forEach((p) => (target = (target[p] ??= {}) as Record<string, unknown>))
    target[parts[parts.length - 1]!] = `\${${m[1]}}`
  }
  return out as Record<string, Value>
}

/** The `var` object of a job file: its variables at their defaults. */
const defaults = (body: Body): Record<string, Value> =>
  Object.fromEntries(body.blocks.filter((b) => b.type === "variable").map((b) => {
    const d = b.body.attributes.find((a) => a.name === "default")
    return [b.labels[0]!, d === undefined ? null : evaluate(d.expr, { variables: {}, functions: {} })]
  }))

describe("job files evaluate as HashiCorp's hclsyntax evaluates them", () => {
  it("every example job, attribute by attribute", () => {
    const files = fs.readdirSync("example").filter((f) => f.endsWith(".nomad"))
    const requests = files.map((f) => {
      // A variable's type is a type expression, not a value: jobspec2 reads it apart.
      const text = fs.readFileSync(`example/${f}`, "utf8").replace(/^\s*type\s*=\s*(string|number|bool)\s*$/gm, "")
      return { text, variables: { ...runtimeVariables(text), var: defaults(parseBody(text)), local: {} } }
    })
    oracle(requests).forEach((real, i) => {
      expect(real.error, files[i]).toBeUndefined()
      expect(ourResult(requests[i]!.text, requests[i]!.variables), files[i]).toEqual(real)
    })
  })

  it("syntax errors on the same line", () => {
    const texts = ["a = \n", "a = [1,\n2\nb = 1\n", "x {\n  y = \"open\n}\n", "a = 1 +\n", "a = {\n  b = 1\n  c\n}\n", "job \"x\" {\n  a = 1\n"]
    oracle(texts.map((text) => ({ text, variables: {} }))).forEach((real, i) => {
      const mine = ourResult(texts[i]!, {})
      expect(real.error, texts[i]).toBeDefined()
      expect(mine.error, texts[i]).toBeDefined()
      expect(mine.error === undefined ? undefined : mine.line, texts[i]).toBe(real.error === undefined ? undefined : real.line)
    })
  })

  // Integers only: cty computes with 512-bit floats, so fractions may differ from JavaScript's in the last digits.
  const int = fc.integer({ min: -99, max: 999 }).map(String)
  const word = fc.stringMatching(/^[a-z ]{0,6}$/).map((s) => JSON.stringify(s))
  const leaf = fc.oneof(int, word, fc.constantFrom("true", "false", "null", "var.n", "var.s", "var.list", "var.obj"))
  const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.tuple(int, fc.constantFrom("+", "-", "*", "%", "<", ">=", "=="), int).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie("e"), tie("e")).map(([a, b]) => `[${a}, ${b}]`),
      fc.tuple(tie("e"), tie("e")).map(([a, b]) => `{ k = ${a}, "l" = ${b} }`),
      tie("e").map((a) => `"x\${${a}}y"`),
      // Results of different structure are unified by cty's type rules, which are not emulated beyond primitives.
      fc.tuple(leaf, leaf).map(([a, b]) => `var.n > 2 ? ${a} : ${b}`),
      tie("e").map((a) => `var.s == "str" ? [${a}] : [${a}, ${a}]`),
      tie("e").map((a) => `[for i, v in var.list : ${a}]`),
      fc.constantFrom("[for v in var.list : v * 2 if v > 1]", "{for k, v in var.obj : v => k}", "var.list[1]", "var.obj.a", "[var.obj][*].b"),
      tie("e").map((a) => `upper(${a})`),
      // go-cty's length counts lists, tuples and maps, not objects; which a value is, only cty's types know.
      tie("e").map((a) => `length([${a}])`),
      tie("e").map((a) => `jsonencode(${a})`),
      fc.tuple(tie("e"), tie("e")).map(([a, b]) => `join("-", [${a}, ${b}])`),
      fc.tuple(tie("e"), tie("e")).map(([a, b]) => `concat([${a}], [${b}])`),
      fc.tuple(tie("e"), int).map(([a, b]) => `format("%s/%d", ${a}, ${b})`),
      fc.tuple(int, int).map(([a, b]) => `max(${a}, ${b}, 0)`),
      tie("e").map((a) => `coalesce(${a}, "z")`),
      tie("e").map((a) => `keys({ a = ${a}, b = 1 })`),
      tie("e").map((a) => `lookup({ a = ${a} }, "a", "d")`)
    )
  })).e
  const variables = { var: { n: 3, s: "str", list: [1, 2, 3], obj: { a: "x", b: "y" } } }

  it.prop("random expressions: the same value, or an error in both", [fc.array(expr, { minLength: 30, maxLength: 30 })], ([exprs]) => {
    const texts = exprs.map((e) => `value = ${e}\n`)
    oracle(texts.map((text) => ({ text, variables }))).forEach((real, i) => {
      const mine = ourResult(texts[i]!, variables)
      if (real.error !== undefined) expect(mine.error, `${texts[i]} (real: ${real.error})`).toBeDefined()
      else expect(mine, texts[i]).toEqual(real)
    })
  }, { fastCheck: { numRuns: 15 } })
})
