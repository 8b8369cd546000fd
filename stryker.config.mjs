// `npm run mutate`: StrykerJS over the pure domain code in src/, judged by the unit tests only (the integration
// tests need containerd and the registries and take minutes per run). Not part of CI: it takes hours on two cores.
// Everything it writes stays in .cache/mutation (git-ignored); a run resumes from its incremental file, so only
// mutants in changed code or covered by changed tests run again. `npm run mutate -- --mutate src/oci/Spec.ts`
// narrows a run to one file.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  // vitest.config.ts includes test/**/*.test.ts; the sandbox leaves out the integration and soak tests (see
  // ignorePatterns), so only the unit tests remain. (vitest's `dir` would make that include relative to it and find
  // nothing.)
  vitest: { configFile: "vitest.config.ts" },
  mutate: [
    "src/**/*.ts",
    // Generated protobuf code, and the command-line entry point (I/O, exercised by the integration tests).
    "!src/gen/**",
    "!src/main.ts"
  ],
  // The sandbox copy needs the sources and the unit tests' inputs only.
  ignorePatterns: ["dist", ".cache", "docs", "bench", "proto", "test/integration", "test/soak", "test/oracle"],
  coverageAnalysis: "perTest",
  checkers: [],
  concurrency: 2,
  // The machine is shared and slow under load: a mutant's tests get generous time before it counts as a hang.
  timeoutMS: 30_000,
  timeoutFactor: 3,
  incremental: true,
  incrementalFile: ".cache/mutation/stryker-incremental.json",
  tempDirName: ".cache/stryker-tmp",
  cleanTempDir: "always",
  reporters: ["clear-text", "progress-append-only", "json", "html"],
  // STRYKER_REPORT names the report of one narrowed run, so runs over different files can go side by side.
  jsonReporter: { fileName: `.cache/mutation/${process.env.STRYKER_REPORT ?? "mutation"}.json` },
  htmlReporter: { fileName: ".cache/mutation/mutation.html" },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0, reportScoreTable: true, reportMutants: false },
  thresholds: { high: 80, low: 60, break: null }
}
