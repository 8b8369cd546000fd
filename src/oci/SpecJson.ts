/**
 * JSON text for runtime specs (and seccomp profiles), exact for integers beyond 2^53: bigints are written as
 * plain integers, and decoding turns integers outside the safe range into bigints. This is what containerd gets
 * as the container's spec (an Any with the runtime-spec type URL) and what a stored spec decodes back into.
 */
import { Either } from "effect"

/**
 * Compact JSON like JSON.stringify (undefined/function properties left out, non-finite numbers as null), except
 * that a bigint is written as its exact integer literal.
 */
export const encodeJson = (value: unknown): string => encodeValue(value) ?? "null"

const encodeValue = (value: unknown): string | undefined => {
  if (value === null) return "null"
  switch (typeof value) {
    case "bigint":
      return value.toString()
    case "number":
    case "string":
    case "boolean":
      return JSON.stringify(value)
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v) => encodeValue(v) ?? "null").join(",")}]`
      const fields: Array<string> = []
      for (const [k, v] of Object.entries(value)) {
        const encoded = encodeValue(v)
        if (encoded !== undefined) fields.push(`${JSON.stringify(k)}:${encoded}`)
      }
      return `{${fields.join(",")}}`
    }
    default:
      return undefined
  }
}

const numberToken = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
const stringToken = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y

/** Parses JSON; integers outside ±(2^53 − 1) become bigints. Left carries a message with the offset. */
export const decodeJson = (text: string): Either.Either<unknown, string> => {
  let at = 0
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at offset ${at}`)
  }
  const ws = () => {
    while (at < text.length && " \t\n\r".includes(text[at]!)) at++
  }
  const value = (): unknown => {
    ws()
    const c = text[at]
    if (c === "{") {
      at++
      const out: Record<string, unknown> = {}
      ws()
      if (text[at] === "}") return at++, out
      for (;;) {
        ws()
        if (text[at] !== "\"") fail("expected a property name")
        const key = string()
        ws()
        if (text[at] !== ":") fail("expected ':'")
        at++
        Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true })
        ws()
        if (text[at] === ",") at++
        else if (text[at] === "}") return at++, out
        else fail("expected ',' or '}'")
      }
    }
    if (c === "[") {
      at++
      const out: Array<unknown> = []
      ws()
      if (text[at] === "]") return at++, out
      for (;;) {
        out.push(value())
        ws()
        if (text[at] === ",") at++
        else if (text[at] === "]") return at++, out
        else fail("expected ',' or ']'")
      }
    }
    if (c === "\"") return string()
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, at)) return at += word.length, v
    }
    numberToken.lastIndex = at
    const match = numberToken.exec(text)
    if (match === null) return fail("unexpected character")
    at += match[0].length
    if (match[1] === undefined && match[2] === undefined) {
      const n = Number(match[0])
      return Number.isSafeInteger(n) ? n : BigInt(match[0])
    }
    return Number(match[0])
  }
  const string = (): string => {
    stringToken.lastIndex = at
    const match = stringToken.exec(text)
    if (match === null) return fail("bad string")
    at += match[0].length
    return JSON.parse(match[0]) as string
  }
  try {
    const result = value()
    ws()
    if (at !== text.length) fail("unexpected text after the value")
    return Either.right(result)
  } catch (error) {
    return Either.left(error instanceof Error ? error.message : String(error))
  }
}
