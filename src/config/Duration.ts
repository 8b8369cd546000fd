/**
 * Go duration strings ("300ms", "1.5h", "2h45m"), the format the original driver's options use
 * (`image_pull_timeout`, `stats_interval`). Parsed exactly as Go's time.ParseDuration accepts them.
 */
const unitNanos: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9
}

const component = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/

/** Milliseconds of a Go duration string, or undefined when Go would reject it. */
export const parseGoDuration = (text: string): number | undefined => {
  let rest = text
  let sign = 1
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1
    rest = rest.slice(1)
  }
  if (rest === "0") return 0
  if (rest === "") return undefined
  let nanos = 0
  while (rest !== "") {
    const m = component.exec(rest)
    if (m === null) return undefined
    nanos += Number(m[1]) * unitNanos[m[2]!]!
    rest = rest.slice(m[0].length)
  }
  return (sign * nanos) / 1e6
}

/** Go's error text for a duration it cannot parse, kept for the original driver's messages. */
export const invalidDurationMessage = (text: string): string => `time: invalid duration ${JSON.stringify(text)}`
