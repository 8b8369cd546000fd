/**
 * Property tests explore a fresh random sample on every developer run; in CI (CI=true) they use a
 * fixed seed so a landing never depends on the luck of the draw. FC_SEED picks a seed explicitly,
 * e.g. to replay a failure (fast-check prints the seed of every counterexample). The default number of
 * runs (fast-check's 100) follows FC_RUNS_SCALE, see propertyRuns.ts.
 */
import { FastCheck } from "effect"
import { propertyRuns } from "./propertyRuns.js"

const seed = process.env["FC_SEED"] ?? (process.env["CI"] === "true" ? "20261129" : undefined)
FastCheck.configureGlobal({ numRuns: propertyRuns(100), ...(seed === undefined ? {} : { seed: Number(seed) }) })
