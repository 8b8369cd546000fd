// HCL's native syntax as job files use it (src/job/HclSyntax.ts, HclEval.ts, HclFunctions.ts): expressions,
// templates and heredocs evaluate as HCL evaluates them, Nomad's runtime variables stay `${...}` text, and every
// syntax or evaluation error names its line.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { evaluate, type Value } from "../../src/job/HclEval.js"
import { jobFunctions } from "../../src/job/HclFunctions.js"
import { HclSyntaxError, parseBody, parseExpression, parseTemplate } from "../../src/job/HclSyntax.js"

const nomad = (source: string) => `\${${source}}`
const ev = (text: string, variables: Record<string, Value> = {}): Value =>
  evaluate(parseExpression(text), { variables, functions: jobFunctions(undefined), unknownVariable: nomad })

const errorOf = (f: () => unknown): string => {
  try {
    f()
  } catch (e) {
    return (e as Error).message
  }
  throw new Error("no error")
}

describe("expressions", () => {
  it.each([
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["10 / 4", 2.5],
    ["7 % 3", 1],
    ["-3 + 1", -2],
    ["\"5\" + 1", 6],
    ["1 < 2 && !false", true],
    ["\"a\" == \"a\" || 1 == \"1\"", true],
    ["1 == \"1\"", false],
    ["true ? \"yes\" : \"no\"", "yes"],
    ["[1, 2, 3][1]", 2],
    ["{ a = { b = [10, 20] } }.a.b[1]", 20],
    ["{ \"x-y\" = 1 }[\"x-y\"]", 1],
    ["[for x in [1, 2, 3] : x * 2 if x > 1]", [4, 6]],
    ["{for k, v in { a = 1, b = 2 } : v => k}", { "1": "a", "2": "b" }],
    ["{for s in [\"a\", \"b\", \"a\"] : s => s...}", { a: ["a", "a"], b: ["b"] }],
    ["[{ n = 1 }, { n = 2 }][*].n", [1, 2]],
    ["[{ n = 1 }, { n = 2 }].*.n", [1, 2]],
    ["null", null]
  ] as const)("%s", (text, value) => {
    expect(ev(text)).toEqual(value)
  })

  it("reads variables and locals, and keeps Nomad's runtime variables as their own text", () => {
    const vars = { var: { image: "busybox", ports: [80, 443] }, local: { n: 3 } }
    expect(ev("var.image", vars)).toBe("busybox")
    expect(ev("var.ports[1] + local.n", vars)).toBe(446)
    expect(ev("\"${NOMAD_TASK_NAME}\"", vars)).toBe("${NOMAD_TASK_NAME}")
    expect(ev("\"http://${attr.unique.hostname}:${NOMAD_PORT_http}\"", vars)).toBe("http://${attr.unique.hostname}:${NOMAD_PORT_http}")
    expect(ev("\"${env[\"HOME\"]}\"", vars)).toBe("${env[\"HOME\"]}")
    expect(ev("\"$${literal}\"")).toBe("${literal}")
  })

  it("refuses what HCL refuses, naming it", () => {
    expect(errorOf(() => ev("var.nope", { var: {} }))).toContain("does not have an attribute named \"nope\"")
    expect(errorOf(() => ev("1 + true"))).toContain("a number is required")
    expect(errorOf(() => ev("[1][3]"))).toContain("does not identify an element")
    expect(errorOf(() => ev("nosuch(1)"))).toContain("no function named \"nosuch\"")
    expect(errorOf(() => ev("\"a${[1]}\""))).toContain("in a string template")
    // A template that is one interpolation yields the value itself, whatever its type.
    expect(ev("\"${[1]}\"")).toEqual([1])
  })
})

describe("templates and heredocs", () => {
  it("interpolates, strips with ~ and runs if and for directives", () => {
    expect(ev("\"a-${1 + 1}-b\"")).toBe("a-2-b")
    expect(ev("\"%{ if true }yes%{ else }no%{ endif }\"")).toBe("yes")
    expect(ev("\"%{ for x in [1, 2] }<${x}>%{ endfor }\"")).toBe("<1><2>")
    expect(ev("\"a  ${~ \"b\" ~}  c\"")).toBe("abc")
    expect(ev("\"${\"x\"}\"")).toBe("x")
  })

  it("reads heredocs, the indented form without its common indentation", () => {
    const body = parseBody("a = <<EOT\n  one\n    two\nEOT\nb = <<-EOT\n    one\n      two\n    EOT\n")
    const values = Object.fromEntries(body.attributes.map((a) => [a.name, evaluate(a.expr, { variables: {}, functions: jobFunctions(undefined) })]))
    expect(values).toEqual({ a: "  one\n    two\n", b: "one\n  two\n" })
  })

  it("parses a JSON-style string as a template (the client's view of a config string)", () => {
    expect(evaluate(parseTemplate("port ${NOMAD_PORT_http}"), { variables: { NOMAD_PORT_http: "8080" }, functions: {} })).toBe("port 8080")
    expect(evaluate(parseTemplate("${NOMAD_ALLOC_INDEX + 1}"), { variables: { NOMAD_ALLOC_INDEX: "2" }, functions: {} })).toBe(3)
  })
})

describe("bodies and syntax errors", () => {
  it("reads attributes, labelled blocks, one-line blocks and comments", () => {
    const body = parseBody(`# comment\njob "x" {\n  // another\n  group "g" { count = 2 }\n  /* block\n comment */ meta { a = "b" }\n}\n`)
    expect(body.blocks.map((b) => [b.type, b.labels, b.pos.line])).toEqual([["job", ["x"], 2]])
    expect(body.blocks[0]!.body.blocks.map((b) => [b.type, b.labels, b.pos.line])).toEqual([["group", ["g"], 4], ["meta", [], 6]])
  })

  it.each([
    ["job \"x\" {\n  a = \n}", 2, "Missing expression"],
    ["job \"x\" {\n  a = 1\n", 1, "Unclosed configuration block"],
    ["job \"x\" {\n  a = \"unterminated\n}", 2, "Unterminated template string"],
    ["job \"x\" {\n  a = [1 2]\n}", 2, "Missing item separator"],
    ["a = 1 b = 2", 1, "Missing newline after argument"],
    ["x = 1e400", 1, "beyond the largest number"],
    ["a = \"\\q\"", 1, "Invalid escape sequence"]
  ] as const)("%j fails at line %i", (text, line, message) => {
    let error: unknown
    try {
      parseBody(text)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(HclSyntaxError)
    expect((error as HclSyntaxError).pos.line).toBe(line)
    expect((error as HclSyntaxError).detail).toContain(message)
  })

  it.prop("any string written as an HCL string literal reads back as itself", [fc.string({ unit: "binary", maxLength: 40 })], ([s]) => {
    const literal = JSON.stringify(s).replace(/\$\{/g, "$$${").replace(/%\{/g, "%%{")
    // JSON's \b and \f are not HCL escapes; write them as \u escapes, which both share.
    const hcl = literal.replace(/\\([bf])/g, (_, c: string) => (c === "b" ? "\\u0008" : "\\u000c"))
    expect(ev(hcl)).toBe(s)
  })

  it.prop("integer arithmetic agrees with JavaScript's", [fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: -1e6, max: 1e6 })], ([a, b]) => {
    expect(ev(`${a} + ${b} * 2 - (${a})`)).toBe(a + b * 2 - a)
    expect(ev(`${a} < ${b} ? "lt" : "ge"`)).toBe(a < b ? "lt" : "ge")
  })
})

describe("functions jobs use", () => {
  it.each([
    ["upper(\"ab\")", "AB"],
    ["format(\"%s-%03d\", \"x\", 7)", "x-007"],
    ["join(\",\", [\"a\", \"b\"])", "a,b"],
    ["split(\",\", \"a,b\")", ["a", "b"]],
    ["replace(\"a-b-c\", \"-\", \"+\")", "a+b+c"],
    // jobspec2's replace is go-cty's, no regular expression (Terraform's is another): regex_replace is the one
    ["replace(\"a1b22\", \"/[0-9]+/\", \"#\")", "a1b22"],
    ["regex_replace(\"a1b22\", \"[0-9]+\", \"#\")", "a#b#"],
    ["merge({ a = 1 }, { b = 2 }, { a = 3 })", { a: 3, b: 2 }],
    ["lookup({ a = 1 }, \"b\", 9)", 9],
    ["concat([1], [2, 3])", [1, 2, 3]],
    ["strlen(\"héllo\")", 5],
    ["length([1, 2])", 2],
    ["keys({ b = 1, a = 2 })", ["a", "b"]],
    ["range(3)", [0, 1, 2]],
    ["jsondecode(jsonencode({ a = [1, \"x\"] }))", { a: [1, "x"] }],
    ["base64decode(base64encode(\"hi\"))", "hi"],
    ["trimspace(\"  x \\n\")", "x"],
    ["coalesce(null, \"\", \"z\")", ""],
    ["coalesce(null, 1, \"z\")", "1"],
    ["try(var.missing, \"fallback\")", "fallback"],
    ["can(var.missing)", false],
    ["sha256(\"abc\")", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["max([1, 5, 2]...)", 5],
    ["zipmap([\"a\", \"b\"], [1, 2])", { a: 1, b: 2 }],
    ["flatten([[1, [2]], 3])", [1, 2, 3]],
    ["substr(\"hello\", 1, 3)", "ell"]
  ] as const)("%s", (text, value) => {
    expect(ev(text, { var: {} })).toEqual(value)
  })

  it("says clearly which Nomad functions are not here", () => {
    expect(errorOf(() => ev("yamlencode({})"))).toContain("yamlencode is a Nomad job function that containerd-driver run does not implement")
  })

  it("reads files relative to the job file's directory", () => {
    const files = jobFunctions({ baseDir: "/jobs", read: (f) => (f === "/jobs/conf/app.txt" ? Buffer.from("contents") : undefined) })
    const run = (text: string) => evaluate(parseExpression(text), { variables: {}, functions: files })
    expect(run("file(\"conf/app.txt\")")).toBe("contents")
    expect(run("fileexists(\"conf/other.txt\")")).toBe(false)
    expect(errorOf(() => run("file(\"conf/other.txt\")"))).toContain("no file exists at \"conf/other.txt\"")
  })
})
