/**
 * src/config/Duration.ts against Go's own time.ParseDuration. The expected values are not written here: they are
 * in test/fixtures/go-durations.json, printed by Go (`go run test/oracle/godurations/main.go`), one row per input
 * with Go's int64 nanoseconds or its error text.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { invalidDurationMessage, parseGoDuration, parseGoDurationNanos } from "../../src/config/Duration.js"

interface Row {
  readonly in: string
  readonly nanos?: string
  readonly error?: string
}
const fixture = JSON.parse(readFileSync(new URL("../fixtures/go-durations.json", import.meta.url), "utf8")) as {
  go: string
  cases: ReadonlyArray<Row>
}
const accepted = fixture.cases.filter((row) => row.nanos !== undefined)
const refused = fixture.cases.filter((row) => row.error !== undefined)
const goSays = (input: string): Row => {
  const row = fixture.cases.find((r) => r.in === input)
  if (row === undefined) throw new Error(`${JSON.stringify(input)} is not in go-durations.json: regenerate it`)
  return row
}

const oracleSource = fileURLToPath(new URL("../oracle/godurations/main.go", import.meta.url))
// Go is there wherever scripts/test-env.sh has run; the mutation-testing sandbox has no test/oracle.
const canRegenerate = existsSync(oracleSource) && spawnSync("go", ["version"]).status === 0

describe(`Go durations, as ${fixture.go}'s time.ParseDuration reads them`, () => {
  it.skipIf(!canRegenerate)("the fixture is what the oracle prints today", () => {
    const printed = execFileSync("go", ["run", oracleSource], { encoding: "utf8", timeout: 120_000 })
    const fresh = JSON.parse(printed) as typeof fixture
    expect(fresh.cases).toEqual(fixture.cases)
  })


  it("the fixture has both kinds of rows, so neither half below is empty", () => {
    expect(accepted.length).toBeGreaterThan(250)
    expect(refused.length).toBeGreaterThan(250)
  })

  it.each(accepted.map((row) => [row.in, row.nanos!] as const))("%j is %s ns", (input, nanos) => {
    expect(parseGoDurationNanos(input)).toEqual({ nanos: BigInt(nanos) })
    // The milliseconds the options use are the same nanoseconds, divided.
    expect(parseGoDuration(input)).toBe(Number(BigInt(nanos)) / 1e6)
  })

  it.each(refused.map((row) => [row.in, row.error!] as const))("%j is refused: %s", (input, error) => {
    expect(parseGoDurationNanos(input)).toEqual({ error })
    expect(parseGoDuration(input)).toBeUndefined()
    expect(invalidDurationMessage(input)).toBe(error)
  })
})

// The bugs an audit planted in the parser, each pinned by the rows that expose it (the values are Go's, from the
// fixture; the comment says what the bug would have given instead).
describe("the mistakes a Go-duration parser makes", () => {
  const nanos = (input: string) => BigInt(goSays(input).nanos!)

  it("milliseconds are a thousand microseconds, not one (300ms would be 0.3 ms)", () => {
    expect(nanos("1ms")).toBe(1_000n * nanos("1us"))
    expect(parseGoDuration("300ms")).toBe(300)
    expect(parseGoDuration("250ms")).toBe(Number(nanos("250ms")) / 1e6)
  })

  it("an hour is sixty minutes (h read as a minute would make 36h a day and a half of minutes)", () => {
    expect(nanos("1h")).toBe(60n * nanos("1m"))
    expect(parseGoDuration("36h")).toBe(36 * 3_600_000)
    expect(parseGoDuration("1h")).not.toBe(parseGoDuration("1m"))
  })

  it("a minus sign makes the duration negative, so validation can refuse it (-5m is not 5m)", () => {
    expect(nanos("-5m")).toBe(-nanos("5m"))
    expect(parseGoDuration("-5m")).toBe(-300_000)
    expect(parseGoDuration("+5m")).toBe(300_000)
    expect(parseGoDuration("-.5s")).toBe(-500)
  })

  it("fractions are read, in every position Go allows them (1.5h, .5s, 1.s)", () => {
    expect(parseGoDuration("1.5h")).toBe(5_400_000)
    expect(parseGoDuration(".5s")).toBe(500)
    expect(parseGoDuration("1.s")).toBe(1000)
    expect(parseGoDuration("1h2m3.4s")).toBe(3_723_400)
    expect(goSays("1.5h").nanos).toBe("5400000000000")
  })

  it("numbers without a unit are refused, except a lone 0", () => {
    expect(parseGoDuration("0")).toBe(0)
    expect(parseGoDuration("-0")).toBe(0)
    expect(parseGoDuration("5")).toBeUndefined()
    expect(goSays("5").error).toBe("time: missing unit in duration \"5\"")
  })

  it("int64 nanoseconds are the limit, one nanosecond further is refused on both sides", () => {
    expect(parseGoDurationNanos("9223372036854775807ns")).toEqual({ nanos: 2n ** 63n - 1n })
    expect(parseGoDurationNanos("-9223372036854775808ns")).toEqual({ nanos: -(2n ** 63n) })
    expect(parseGoDuration("9223372036854775808ns")).toBeUndefined()
    expect(parseGoDuration("-9223372036854775809ns")).toBeUndefined()
    expect(parseGoDuration("2562048h")).toBeUndefined()
  })

  it("names that are not units are not looked up as object properties", () => {
    for (const input of ["1constructor", "1__proto__", "1toString", "1hasOwnProperty"]) {
      expect(goSays(input).error).toBeDefined()
      expect(parseGoDurationNanos(input)).toEqual({ error: goSays(input).error })
    }
  })
})

describe("invalidDurationMessage", () => {
  it("is Go's error for text Go refuses, and the generic one for any other", () => {
    expect(invalidDurationMessage("5x")).toBe(goSays("5x").error)
    expect(invalidDurationMessage("5m")).toBe("time: invalid duration \"5m\"")
  })
})
