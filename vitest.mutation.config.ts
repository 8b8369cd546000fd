// The unit-test config as Stryker runs it (stryker.config.mjs). Each mutant runs only the tests that cover it, in
// a fresh vitest worker; with isolated test files each of those files also imported effect and the code under test
// afresh. Without isolation the files of one run share what they load: 22 % faster over Duration.ts and
// Reference.ts, with the same verdict on every mutant (measured side by side). Sound because Stryker switches a
// mutant on at run time; the mutants that only take effect while a module loads (static ones) are skipped, see
// stryker.config.mjs.
import { defineConfig, mergeConfig } from "vitest/config"
import unit from "./vitest.config.js"

export default mergeConfig(unit, defineConfig({ test: { isolate: false } }))
