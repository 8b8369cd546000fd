/**
 * Go duration strings ("300ms", "1.5h", "2h45m"), the format the original driver's options use
 * (`image_pull_timeout`, `stats_interval`). Parsed exactly as Go's time.ParseDuration accepts them.
 */
const unitNanos: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n
}

const component = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/

/** Go durations are int64 nanoseconds; anything longer (about 292 years) is an invalid duration to Go. */
const maxNanos = 2n ** 63n - 1n

/** Milliseconds of a Go duration string, or undefined when Go would reject it. */
export const parseGoDuration = (text: string): number | undefined => {
  let rest = text
  let negative = false
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-")
    rest = rest.slice(1)
  }
  if (rest === "0") return 0
  if (rest === "") return undefined
  let nanos = 0n
  while (rest !== "") {
    const m = component.exec(rest)
    if (m === null) return undefined
    const [, whole = "", fraction, unit] = m
    if (whole === "" && (fraction === undefined || fraction === "")) return undefined
    const scale = unitNanos[unit!]!
    nanos += BigInt(whole || "0") * scale
    // Go adds the fraction through a float64, truncated; so does this.
    if (fraction !== undefined && fraction !== "") {
      nanos += BigInt(Math.trunc(Number(`0.${fraction}`) * Number(scale)))
    }
    if (nanos > maxNanos + (negative ? 1n : 0n)) return undefined
    rest = rest.slice(m[0].length)
  }
  return (negative ? -Number(nanos) : Number(nanos)) / 1e6
}

/** Go's error text for a duration it cannot parse, kept for the original driver's messages. */
export const invalidDurationMessage = (text: string): string => `time: invalid duration ${JSON.stringify(text)}`
