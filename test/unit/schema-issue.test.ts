// One line for a registry document that fails its schema (src/image/SchemaIssue.ts): the path of the first wrong
// field written as a JavaScript accessor, the digest of the descriptor holding it, and Effect's message for it,
// each cut at 200 characters since the document is untrusted.
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { describeParseError } from "../../src/image/SchemaIssue.js"

const Descriptor = Schema.Struct({ digest: Schema.String, size: Schema.Number })
const Document = Schema.Struct({
  layers: Schema.Array(Descriptor),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})

const describe_ = (schema: Schema.Schema<any, any>, input: unknown): string => {
  const result = Schema.decodeUnknownEither(schema)(input, { errors: "first" })
  if (Either.isRight(result)) throw new Error("the input was expected to fail its schema")
  return describeParseError(result.left, input)
}

describe("a schema failure in one line", () => {
  it("names the field by its path and the descriptor holding it by its digest", () => {
    expect(describe_(Document, { layers: [{ digest: "sha256:aa", size: 1 }, { digest: "sha256:bb", size: "2" }] })).toBe(
      'layers[1].size (of descriptor sha256:bb): Expected number, actual "2"'
    )
  })

  it("leaves the owner out when the holder has no digest, or an empty or non-string one, or is not an object", () => {
    expect(describe_(Document, { layers: [{ size: 1 }] })).toBe("layers[0].digest: is missing")
    expect(describe_(Document, { layers: [{ digest: "", size: "x" }] })).toBe('layers[0].size: Expected number, actual "x"')
    expect(describe_(Document, { layers: [{ digest: 5, size: 1 }] })).toBe("layers[0].digest: Expected string, actual 5")
    expect(describe_(Document, { layers: "none" })).toBe('layers: Expected ReadonlyArray<{ readonly digest: string; readonly size: number }>, actual "none"')
  })

  it("quotes keys that are not identifiers, and calls an empty path the document", () => {
    expect(describe_(Document, { layers: [], annotations: { "org.opencontainers.ref": 1 } })).toBe(
      'annotations["org.opencontainers.ref"]: Expected string, actual 1'
    )
    expect(describe_(Document, { layers: [], annotations: { a1: 1 } })).toBe("annotations.a1: Expected string, actual 1")
    expect(describe_(Document, { layers: [], annotations: { "1a": 1 } })).toBe('annotations["1a"]: Expected string, actual 1')
    expect(describe_(Document, { layers: [], annotations: { "a-": 1 } })).toBe('annotations["a-"]: Expected string, actual 1')
    expect(describe_(Document, 7)).toBe("the document: Expected { readonly layers: ReadonlyArray<{ readonly digest: string; readonly size: number }>; readonly annotations?: { readonly [x: string]: string } | undefined }, actual 7")
  })

  it("cuts a long digest and a long message at 200 characters", () => {
    const digest = `sha256:${"d".repeat(300)}`
    const message = describe_(Document, { layers: [{ digest, size: "x".repeat(300) }] })
    expect(message).toBe(`layers[0].size (of descriptor ${digest.slice(0, 200)}…): ${`Expected number, actual "${"x".repeat(300)}"`.slice(0, 200)}…`)
    const exact = `sha256:${"d".repeat(193)}`
    expect(exact.length).toBe(200)
    expect(describe_(Document, { layers: [{ digest: exact, size: "x" }] })).toBe(`layers[0].size (of descriptor ${exact}): Expected number, actual "x"`)
  })
})
