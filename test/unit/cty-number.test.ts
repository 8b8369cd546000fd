/**
 * src/config/CtyNumber.ts and src/config/CtyEncode.ts directly, at the edges the end-to-end tests
 * (test/integration/nomad-oracle.test.ts, test/unit/config.test.ts) do not reach: the boundaries between msgpack's
 * integer, string, array and map forms, and the edges of "exactly a float64" (53 significant bits, the smallest
 * subnormal 2^-1074, the largest finite 2^1024 − 2^971).
 *
 * The expected values are literals, JavaScript's own correctly rounded Number literals, or exact BigInt arithmetic
 * written here (2^-n = 5^n / 10^n). The msgpack bytes follow the msgpack spec and vmihailenco's EncodeInt/EncodeUint
 * (smallest form; uint forms for n >= 0, int forms below); they were checked once against the real Go pipeline
 * (test/support/NomadOracle.ts, cty 1.12.1) when this file was written.
 */
import { describe, expect, it } from "vitest"
import { encodeCtyMsgpack } from "../../src/config/CtyEncode.js"
import { ctyNumberMsgpackValue, ctyNumberOfJs, ctyNumberText, parseCtyNumber } from "../../src/config/CtyNumber.js"

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const finite = (numerator: bigint, denominator: bigint) => ({ _tag: "Finite", numerator, denominator }) as const
const msgpackValueOf = (text: string) => {
  const n = parseCtyNumber(text)
  if (n === undefined) throw new Error(`${text} does not parse`)
  return ctyNumberMsgpackValue(n)
}
/** k·2^-n (k odd, k < 2^n) written out: k·5^n / 10^n, as a plain decimal. */
const overTwoTo = (k: bigint, n: bigint): string => `0.${(k * 5n ** n).toString().padStart(Number(n), "0")}`

describe("parsing a cty number from text (Go's big.ParseFloat, base 10)", () => {
  it.each([
    ["1", finite(1n, 1n)],
    ["+1", finite(1n, 1n)],
    ["-1", finite(-1n, 1n)],
    ["-2.50", finite(-250n, 100n)],
    [".5", finite(5n, 10n)],
    ["3p-2", finite(3n, 4n)],
    ["1e5000", finite(10n ** 5000n, 1n)],
    ["-1e-5000", finite(-1n, 10n ** 5000n)],
    ["1p5000", finite(2n ** 5000n, 1n)]
  ])("%j is read as an exact rational", (text, number) => {
    expect(parseCtyNumber(text)).toEqual(number)
  })

  it.each(["", "abc", "1x", "0x10", " 1", "1_000", "1e", "e5", "."])("%j is not a number", (text) => {
    expect(parseCtyNumber(text)).toBeUndefined()
  })

  it.each(["1e5001", "1e-5001", "1p5001", "-1p-5001"])("%j is refused: an exponent beyond 5000 is this driver's limit", (text) => {
    expect(parseCtyNumber(text)).toBeUndefined()
  })
})

describe("a JSON number from the config", () => {
  it("a bigint is the whole number it holds", () => {
    expect(ctyNumberOfJs(2n ** 70n)).toEqual(finite(2n ** 70n, 1n))
    expect(ctyNumberOfJs(-5n)).toEqual(finite(-5n, 1n))
  })
  it("a number is the text JSON.stringify writes, exactly; NaN and infinities are none", () => {
    expect(ctyNumberOfJs(0.1)).toEqual(finite(1n, 10n))
    expect(ctyNumberOfJs(NaN)).toBeUndefined()
    expect(ctyNumberOfJs(-Infinity)).toBeUndefined()
  })
})

describe("a cty number as text (Go's Text('f', -1): plain decimal, no exponent)", () => {
  it.each([
    ["1p-1", "0.5"],
    ["-3p-3", "-0.375"],
    ["5p-1", "2.5"],
    ["1p-10", "0.0009765625"],
    ["2.50", "2.5"],
    ["1p-20", overTwoTo(1n, 20n)]
  ])("%j reads %s, however many twos the denominator holds", (text, expected) => {
    expect(ctyNumberText(parseCtyNumber(text)!)).toBe(expected)
  })

  // Parsed numbers always have at least as many twos as fives in the denominator; any 2^a·5^b is read alike.
  it.each([
    [finite(1n, 5n), "0.2"],
    [finite(-3n, 25n), "-0.12"],
    [finite(7n, 40n), "0.175"]
  ])("%o reads %s, however many fives the denominator holds", (number, expected) => {
    expect(ctyNumberText(number)).toBe(expected)
  })
})

describe("the value a cty number is marshalled as (int64 when whole and in range, else float64 when exact, else text)", () => {
  it.each<[string, number | bigint | string]>([
    // Whole numbers written with a fraction or exponent are still whole.
    ["2.0", 2],
    ["-2.50e1", -25],
    ["12e-1", "1.2"],
    // The int64 range, both ends inclusive; beyond it a float64 if exact, else the text.
    ["9223372036854775807", 9223372036854775807n],
    ["-9223372036854775808", -9223372036854775808n],
    ["9223372036854775808", 9223372036854775808],
    ["9223372036854775809", "9223372036854775809"],
    ["-9223372036854775809", "-9223372036854775809"]
  ])("%j is marshalled as %o", (text, expected) => {
    expect(msgpackValueOf(text)).toStrictEqual(expected)
  })

  it.each<[string, number | string]>([
    // 53 significant bits fit a float64; 54 do not.
    ["4503599627370495.5", 4503599627370495.5],
    ["-4503599627370495.5", -4503599627370495.5],
    ["9007199254740991.5", "9007199254740991.5"],
    ["-0.5", -0.5],
    // The smallest subnormal is exact, and so is the largest finite float64.
    ["1p-1074", Number.MIN_VALUE],
    ["3p-1074", 1.5e-323],
    ["9007199254740991p971", Number.MAX_VALUE],
    ["1p1023", 8.98846567431158e307]
  ])("a fraction or a number beyond int64, %j, is marshalled as %o", (text, expected) => {
    expect(msgpackValueOf(text)).toStrictEqual(expected)
  })

  // Below 2^-1074 and from 2^1024 up there is no float64, so cty sends the text. Only its leading digits are
  // pinned: cty rounds the value to 512 bits first (about 155 significant digits), which CtyNumber.ts does not.
  it.each([
    ["1p-1075", overTwoTo(1n, 1075n).slice(0, 2 + 323 + 40)],
    ["3p-1075", overTwoTo(3n, 1075n).slice(0, 2 + 323 + 40)],
    ["1p1024", (2n ** 1024n).toString().slice(0, 40)],
    ["-1p1024", `-${(2n ** 1024n).toString().slice(0, 40)}`]
  ])("%j, beyond float64's range, is marshalled as its decimal text", (text, leading) => {
    const value = msgpackValueOf(text)
    expect(typeof value).toBe("string")
    expect((value as string).slice(0, leading.length)).toBe(leading)
  })

  it("the literals above are what they claim", () => {
    expect(4503599627370495.5 * 2).toBe(2 ** 53 - 1)
    expect(Number.MIN_VALUE).toBe(2 ** -1074)
    expect(1.5e-323).toBe(3 * 2 ** -1074)
    expect(8.98846567431158e307).toBe(2 ** 1023)
    expect(Number.MAX_VALUE).toBe((2 ** 53 - 1) * 2 ** 971)
    expect(9223372036854775808).toBe(2 ** 63)
  })
})

describe("cty msgpack marshalling", () => {
  it.each<[string, unknown, string]>([
    ["0", 0, "00"],
    ["the largest positive fixint", 127, "7f"],
    ["the smallest uint8", 128, "cc80"],
    ["the largest uint8", 255, "ccff"],
    ["the smallest uint16", 256, "cd0100"],
    ["the largest uint16", 65535, "cdffff"],
    ["the smallest uint32", 65536, "ce00010000"],
    ["the largest uint32", 4294967295, "ceffffffff"],
    ["the smallest uint64", 4294967296, "cf0000000100000000"],
    ["int64's largest, as a bigint", 9223372036854775807n, "cf7fffffffffffffff"],
    ["-1", -1, "ff"],
    ["the smallest negative fixint", -32, "e0"],
    ["the largest int8", -33, "d0df"],
    ["the smallest int8", -128, "d080"],
    ["the largest int16", -129, "d1ff7f"],
    ["the smallest int16", -32768, "d18000"],
    ["the largest int32", -32769, "d2ffff7fff"],
    ["the smallest int32", -2147483648, "d280000000"],
    ["the largest int64", -2147483649, "d3ffffffff7fffffff"],
    ["int64's smallest, as a bigint", -9223372036854775808n, "d38000000000000000"],
    ["a fraction, as float64", 1.5, "cb3ff8000000000000"],
    ["null", null, "c0"],
    ["undefined, as null", undefined, "c0"],
    ["true", true, "c3"],
    ["false", false, "c2"]
  ])("%s is written in its smallest form (%o → %s)", (_, value, expected) => {
    expect(hex(encodeCtyMsgpack(value))).toBe(expected)
  })

  it.each([
    ["empty", "", "a0"],
    ["31 bytes", "a".repeat(31), "bf"],
    ["32 bytes", "a".repeat(32), "d920"],
    ["32 bytes in 16 characters", "é".repeat(16), "d920"],
    ["255 bytes", "a".repeat(255), "d9ff"],
    ["256 bytes", "a".repeat(256), "da0100"],
    ["65535 bytes", "a".repeat(65535), "daffff"],
    ["65536 bytes", "a".repeat(65536), "db00010000"]
  ])("a string of %s (UTF-8) has the header %s", (_, s, head) => {
    expect(hex(encodeCtyMsgpack(s))).toBe(head + Buffer.from(s, "utf8").toString("hex"))
  })

  it.each([
    [0, "90"],
    [15, "9f"],
    [16, "dc0010"],
    [65535, "dcffff"],
    [65536, "dd00010000"]
  ])("a list of %i elements has the header %s", (length, head) => {
    const bytes = hex(encodeCtyMsgpack(new Array<number>(length).fill(0)))
    expect(bytes).toBe(head + "00".repeat(length))
  })

  it.each([
    [0, "80"],
    [15, "8f"],
    [16, "de0010"],
    [65536, "df00010000"]
  ])("a map of %i entries has the header %s", (length, head) => {
    const keys = Array.from({ length }, (_, i) => `k${String(i).padStart(5, "0")}`)
    const bytes = hex(encodeCtyMsgpack(Object.fromEntries(keys.map((k) => [k, 0]))))
    expect(bytes).toBe(head + keys.map((k) => `a6${Buffer.from(k).toString("hex")}00`).join(""))
  })

  it("map keys are sorted bytewise in UTF-8", () => {
    expect(hex(encodeCtyMsgpack({ b: 1, "é": 2, a: null, B: true }))).toBe("84a142c3a161c0a16201a2c3a902")
  })

  it.each([
    ["a function", () => 1],
    ["a symbol", Symbol("x")]
  ])("%s is not a cty value and is refused", (_, value) => {
    expect(() => encodeCtyMsgpack(value)).toThrow(/^not a cty value: /)
  })
})
