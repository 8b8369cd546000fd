// The unit-test config as Stryker runs it (stryker.config.mjs). Each mutant runs a handful of tests; with
// isolated test files every run imported effect and the code under test afresh, most of a mutant's cost.
// Without isolation a worker keeps the modules it has loaded, 22 % faster with the same verdict on every
// mutant of Duration.ts and Reference.ts (measured side by side). That is sound because Stryker switches a
// mutant on at run time; the mutants that only take effect while a module loads (static ones) are skipped, see
// stryker.config.mjs.
import { defineConfig, mergeConfig } from "vitest/config"
import unit from "./vitest.config.js"

export default mergeConfig(unit, defineConfig({ test: { isolate: false } }))
