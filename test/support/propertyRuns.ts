/**
 * How many inputs a property test tries. FC_RUNS_SCALE scales every count: `npm run mutate` (scripts/mutate.mjs)
 * sets it below 1 because a surviving mutant reruns every property that covers it, and the spec properties alone
 * cost seconds at full count. Every other run uses the counts as written.
 */
const scale = Number(process.env["FC_RUNS_SCALE"] ?? "1")

export const propertyRuns = (runs: number): number =>
  Number.isFinite(scale) && scale > 0 ? Math.max(10, Math.round(runs * scale)) : runs
