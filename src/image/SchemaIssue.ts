/**
 * One line for a document that failed its schema: where (`layers[1].size`, with the digest of the descriptor that
 * holds the field when it has one) and what, instead of Effect's rendering of the whole schema, which runs to
 * kilobytes for a manifest. Registry documents are untrusted input: the value shown is cut short.
 */
import { ParseResult } from "effect"

const MAX_DETAIL = 200

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((text, key) =>
    typeof key === "number" ?
      `${text}[${key}]` :
      /^[A-Za-z_$][\w$]*$/.test(String(key)) ?
      `${text}${text === "" ? "" : "."}${String(key)}` :
      `${text}[${JSON.stringify(String(key))}]`, "")

/** The value at `path` inside `input`, if every step exists. */
const at = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((value, key) =>
    typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined, input)

const shorten = (text: string): string => (text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text)

/** `field.path (of descriptor sha256:…): what is wrong`, for the first problem found. */
export const describeParseError = (error: ParseResult.ParseError, input: unknown): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return shorten(error.message)
  const field = formatPath(first.path)
  // The object holding the wrong field: name it by its digest when it is a descriptor.
  const holder = first.path.length > 0 ? at(input, first.path.slice(0, -1)) : undefined
  const digest = typeof holder === "object" && holder !== null ? (holder as Record<string, unknown>)["digest"] : undefined
  const owner = typeof digest === "string" && digest !== "" ? ` (of descriptor ${shorten(digest)})` : ""
  return `${field === "" ? "the document" : field}${owner}: ${shorten(first.message)}`
}
