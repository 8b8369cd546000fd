/**
 * Property tests explore a fresh random sample on every developer run; in CI (CI=true) they use a
 * fixed seed so a landing never depends on the luck of the draw. FC_SEED picks a seed explicitly,
 * e.g. to replay a failure (fast-check prints the seed of every counterexample).
 */
import { FastCheck } from "effect"

const seed = process.env["FC_SEED"] ?? (process.env["CI"] === "true" ? "20261129" : undefined)
if (seed !== undefined) FastCheck.configureGlobal({ seed: Number(seed) })
