// StrykerJS over the pure domain code in src/, judged by the unit tests and the oracle tests (the other integration
// tests need containerd and the registries and take minutes per run). Not part of CI: all of src/ takes hours on two cores.
// `npm run mutate` (scripts/mutate.mjs) runs it over src/ in parts and adds up the score; `npm run mutate --
// --mutate src/oci/Spec.ts` is one run over one file. Everything it writes stays in .cache/mutation (git-ignored).
const report = process.env.STRYKER_REPORT ?? "mutation"

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  // vitest.config.ts includes test/**/*.test.ts; the sandbox leaves out the soak tests and the integration
  // tests but the oracle ones (see ignorePatterns). (vitest's `dir` would make that include relative to it and find
  // nothing.)
  // `related: false`: every unit test takes part in the first run, which records what each test covers, rather than
  // the ones vitest's module graph calls related to the mutated files. Costs one full unit run (about a minute) per
  // part, and a test left out there can only make mutants look uncovered.
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  mutate: [
    "src/**/*.ts",
    // Generated protobuf code, and the command-line entry point (I/O, exercised by the integration tests).
    "!src/gen/**",
    "!src/main.ts"
  ],
  // The sandbox copy needs the sources and the tests' inputs only.
  // Anchored at the root: these are gitignore-style patterns, and a bare "proto" also dropped src/gen/**/proto/, so every
  // test importing the generated protocol code failed to load in the sandbox, and Stryker leaves out a test file that
  // fails to load without a word (its mutants then read as not covered, or as surviving every other test).
  // The oracle tests among the integration tests need no containerd: they check the config decoding
  // (src/config/HclDecode.ts, Cty*.ts) and the job-file evaluation (src/job/Hcl*.ts) against HashiCorp's own Go
  // libraries, and they are those modules' main tests. They find the oracles in the checkout (ORACLE_CHECKOUT,
  // set by scripts/mutate.mjs).
  ignorePatterns: [
    "/dist",
    "/.cache",
    "/docs",
    "/bench",
    "/proto",
    "/test/integration/*",
    // every *-oracle test: nomad-oracle, policy-config-oracle, run-hcl-oracle, hcl-*-oracle
    "!/test/integration/*-oracle.test.ts",
    "/test/soak",
    "/test/oracle"
  ],
  coverageAnalysis: "perTest",
  // A static mutant changes code that runs while modules load (schema definitions, tables, defaults decoded at
  // import, expected values computed while tests are collected). Stryker cannot tell which tests cover it, so it
  // would run the whole unit suite afresh for each (about a minute apiece here). They are counted as ignored and the
  // report says how many (docs/testing.md).
  ignoreStatic: true,
  checkers: [],
  concurrency: 2,
  // A mutant that makes a loop endless costs this long before it counts as a hang (plus three times its tests'
  // own time), then a fresh worker: Stryker's default, since each mutant now runs only the tests that cover it.
  timeoutMS: 5_000,
  timeoutFactor: 3,
  incremental: true,
  // scripts/mutate.mjs gives each part of src/ its own file (--incrementalFile), so parts do not overwrite each other.
  incrementalFile: ".cache/mutation/stryker-incremental.json",
  tempDirName: ".cache/stryker-tmp",
  cleanTempDir: "always",
  reporters: ["clear-text", "progress-append-only", "json", "html"],
  // STRYKER_REPORT names the reports of one run (scripts/mutate.mjs: one per part of src/).
  jsonReporter: { fileName: `.cache/mutation/${report}.json` },
  htmlReporter: { fileName: `.cache/mutation/${report}.html` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0, reportScoreTable: true, reportMutants: false },
  thresholds: { high: 80, low: 60, break: null }
}
