// Summaries of a case's samples: the median and the spread the report quotes.

/** Linear-interpolated quantile of sorted values. */
const quantile = (sorted, q) => {
  const at = q * (sorted.length - 1)
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low)
}

/** Median, p10–p90 and min–max of the values. */
export const summarize = (values) => {
  if (values.length === 0) throw new Error("no samples to summarize")
  const sorted = [...values].sort((a, b) => a - b)
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted[0],
    max: sorted.at(-1)
  }
}

export const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length

/** A number with the precision its size warrants: 1234, 123, 12.3, 1.23. */
export const fmt = (value) => {
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value)
  const size = Math.abs(value)
  return value.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2)
}
