/**
 * cty numbers as Nomad's config pipeline handles them (zclconf/go-cty cty/value_init.go ParseNumberVal and
 * cty/msgpack/marshal.go): parsed from JSON number text or from a string with Go's big.ParseFloat rules (base 10,
 * `e` or `p` exponent, `Inf`), kept exact, converted to a string as a plain decimal (no exponent), and marshalled
 * to msgpack as an int64 when whole and in range, else as a float64 when exact, else as the decimal text.
 * Values are exact rationals; cty rounds to 512 bits of mantissa, which differs where the exact value needs more:
 * texts of more than about 150 significant digits, and magnitudes outside float64's range such as `1p1024` or
 * `1p-1075` (sent as decimal text either way, but cty's text is the rounded value). Not handled here.
 */

export type CtyNumber =
  | { readonly _tag: "Finite"; readonly numerator: bigint; readonly denominator: bigint }
  | { readonly _tag: "Infinite"; readonly negative: boolean }

/** Beyond this the exact value (and cty's decimal text) gets absurdly long: refused here, though cty takes it. */
const maxExponent = 5000

// big.ParseFloat(s, 10, ...): no base prefixes, no underscores, no surrounding spaces.
const finiteText = /^([+-]?)(\d*)(?:\.(\d*))?(?:([eEpP])([+-]?\d+))?$/
const infiniteText = /^([+-]?)(?:Inf|inf)$/

/** The number a string converts to, or undefined where cty says "a number is required". */
export const parseCtyNumber = (text: string): CtyNumber | undefined => {
  const inf = infiniteText.exec(text)
  if (inf !== null) return { _tag: "Infinite", negative: inf[1] === "-" }
  const m = finiteText.exec(text)
  if (m === null) return undefined
  const [, sign, whole = "", fraction = "", marker, exponentText] = m
  if (whole === "" && fraction === "") return undefined
  const exponent = exponentText === undefined ? 0 : Number(exponentText)
  if (Math.abs(exponent) > maxExponent) return undefined
  let numerator = BigInt(`${whole}${fraction}` || "0")
  let denominator = 10n ** BigInt(fraction.length)
  const base = marker === "p" || marker === "P" ? 2n : 10n
  if (exponent >= 0) numerator *= base ** BigInt(exponent)
  else denominator *= base ** BigInt(-exponent)
  return { _tag: "Finite", numerator: sign === "-" ? -numerator : numerator, denominator }
}

/**
 * The number a JSON number in the config becomes: the text JSON.stringify writes, parsed exactly.
 * JSON has no NaN or infinity (JSON.stringify writes null), so those are undefined here.
 */
export const ctyNumberOfJs = (value: number | bigint): CtyNumber | undefined =>
  typeof value === "bigint"
    ? { _tag: "Finite", numerator: value, denominator: 1n }
    : Number.isFinite(value)
    ? parseCtyNumber(JSON.stringify(value))
    : undefined

const abs = (n: bigint): bigint => (n < 0n ? -n : n)

/** cty's number-to-string conversion: Go's big.Float Text('f', -1). */
export const ctyNumberText = (n: CtyNumber): string => {
  if (n._tag === "Infinite") return n.negative ? "-Inf" : "+Inf"
  // The denominator is 2^a·5^b: scale it to 10^digits to read the exact decimal expansion.
  let twos = 0
  let fives = 0
  let d = n.denominator
  while (d % 2n === 0n) (d /= 2n), twos++
  while (d % 5n === 0n) (d /= 5n), fives++
  const digits = Math.max(twos, fives)
  const scaled = abs(n.numerator) * 2n ** BigInt(digits - twos) * 5n ** BigInt(digits - fives)
  const text = scaled.toString().padStart(digits + 1, "0")
  const whole = text.slice(0, text.length - digits)
  const fraction = text.slice(text.length - digits).replace(/0+$/, "")
  const sign = n.numerator < 0n ? "-" : ""
  return `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}`
}

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

const bitLength = (n: bigint): number => n.toString(2).length

/** The float64 equal to n, if there is one. */
const exactFloat64 = (numerator: bigint, denominator: bigint): number | undefined => {
  if (numerator === 0n) return 0
  // Reduce to odd · 2^k; any factor 5 left in the denominator means no binary fraction is exact.
  let odd = abs(numerator)
  let k = 0
  while (odd % 2n === 0n) (odd /= 2n), k++
  let d = denominator
  while (d % 2n === 0n) (d /= 2n), k--
  if (odd % d !== 0n) return undefined
  odd /= d
  if (bitLength(odd) > 53 || k < -1074 || bitLength(odd) + k > 1024) return undefined
  const magnitude = Number(odd) * 2 ** k
  return numerator < 0n ? -magnitude : magnitude
}

/**
 * The JS value whose msgpack encoding is cty's: a number (a safe integer, or an exact float64,
 * including ±Infinity), a bigint (an int64 beyond 2^53, encoded as int64/uint64), or the decimal text.
 */
export const ctyNumberMsgpackValue = (n: CtyNumber): number | bigint | string => {
  if (n._tag === "Infinite") return n.negative ? -Infinity : Infinity
  if (n.numerator % n.denominator === 0n) {
    const whole = n.numerator / n.denominator
    if (whole >= int64Min && whole <= int64Max) {
      return Number.isSafeInteger(Number(whole)) ? Number(whole) : whole
    }
  }
  return exactFloat64(n.numerator, n.denominator) ?? ctyNumberText(n)
}
