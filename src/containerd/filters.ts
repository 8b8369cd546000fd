/**
 * containerd's filter syntax (containerd/containerd filters/filter.go), used by FakeContainerd to answer
 * List/Subscribe/Metrics calls the way the daemon does: `fieldpath[op value]`, ops `==`, `!=`, `~=` (regular
 * expression), no op = "field present"; fieldpath segments separated by "." and quoted with double quotes when they
 * hold other characters; "," inside one string is AND, several strings are OR.
 */
import { Data, Either } from "effect"

export class FilterError extends Data.TaggedError("FilterError")<{
  readonly reason: "Parse"
  readonly message: string
}> {}

export interface Selector {
  readonly path: ReadonlyArray<string>
  readonly op: "present" | "==" | "!=" | "~="
  readonly value: string
}

/** OR of ANDs; an empty list matches everything. */
export type Filter = ReadonlyArray<ReadonlyArray<Selector>>

const isFieldChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c)
const isValueChar = (c: string): boolean => c !== "," && !/\s/.test(c)

class Scanner {
  position = 0
  constructor(readonly input: string) {}
  peek(offset = 0): string {
    return this.input.charAt(this.position + offset)
  }
  done(): boolean {
    return this.position >= this.input.length
  }
  skipSpace(): void {
    while (!this.done() && /\s/.test(this.peek())) this.position++
  }
  fail(expected: string): never {
    throw new FilterError({
      reason: "Parse",
      message: `filters: parse error: [${this.input.slice(0, this.position)} >|${this.input.slice(this.position)}|<]: expected ${expected}`
    })
  }
  quoted(): string {
    this.position++ // opening quote
    let out = ""
    while (!this.done() && this.peek() !== "\"") {
      if (this.peek() === "\\" && this.position + 1 < this.input.length) this.position++
      out += this.peek()
      this.position++
    }
    if (this.done()) this.fail("closing quote")
    this.position++
    return out
  }
  field(): string {
    if (this.peek() === "\"") return this.quoted()
    const start = this.position
    while (!this.done() && isFieldChar(this.peek())) this.position++
    if (start === this.position) this.fail("field or quoted")
    return this.input.slice(start, this.position)
  }
  value(): string {
    if (this.peek() === "\"") return this.quoted()
    const start = this.position
    while (!this.done() && isValueChar(this.peek())) this.position++
    if (start === this.position) this.fail("value or quoted")
    return this.input.slice(start, this.position)
  }
}

const parseOne = (input: string): ReadonlyArray<Selector> => {
  const scanner = new Scanner(input)
  const selectors: Array<Selector> = []
  for (;;) {
    scanner.skipSpace()
    const path = [scanner.field()]
    while (scanner.peek() === ".") {
      scanner.position++
      path.push(scanner.field())
    }
    scanner.skipSpace()
    const two = scanner.peek() + scanner.peek(1)
    if (two === "==" || two === "!=" || two === "~=") {
      scanner.position += 2
      scanner.skipSpace()
      selectors.push({ path, op: two, value: scanner.value() })
    } else {
      selectors.push({ path, op: "present", value: "" })
    }
    scanner.skipSpace()
    if (scanner.done()) return selectors
    if (scanner.peek() !== ",") scanner.fail("operator, \",\" or end")
    scanner.position++
  }
}

export const parseFilters = (filters: ReadonlyArray<string>): Either.Either<Filter, FilterError> =>
  Either.try({
    try: () => filters.filter((f) => f.trim() !== "").map(parseOne),
    catch: (error) =>
      error instanceof FilterError ? error : new FilterError({ reason: "Parse", message: `filters: ${String(error)}` })
  })

const matchesSelector = (selector: Selector, lookup: (path: ReadonlyArray<string>) => string | undefined): boolean => {
  const value = lookup(selector.path)
  switch (selector.op) {
    case "present":
      return value !== undefined
    case "==":
      return value === selector.value
    case "!=":
      return value !== selector.value
    case "~=": {
      if (value === undefined) return false
      try {
        return new RegExp(selector.value).test(value)
      } catch {
        return false
      }
    }
  }
}

/** Whether an object, seen through `lookup` (field path → string value or undefined), passes the filter. */
export const matchesFilter = (filter: Filter, lookup: (path: ReadonlyArray<string>) => string | undefined): boolean =>
  filter.length === 0 || filter.some((all) => all.every((selector) => matchesSelector(selector, lookup)))

/** A lookup over plain fields plus `labels.<key>` (the common shape of containerd objects). */
export const labelledLookup =
  (fields: Readonly<Record<string, string | undefined>>, labels: Readonly<Record<string, string>> = {}) =>
  (path: ReadonlyArray<string>): string | undefined => {
    if (path[0] === "labels" && path.length === 2) return labels[path[1] ?? ""]
    return path.length === 1 ? fields[path[0] ?? ""] : fields[path.join(".")]
  }
