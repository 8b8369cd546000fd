// `npm run mutate`: mutation testing of src/ (stryker.config.mjs), in parts, then one score for all of it.
//
//   npm run mutate                          every part in turn, then the table
//   npm run mutate -- oci config            those parts, then the table (with any other part already run)
//   npm run mutate -- --summary             the table from the parts already run
//   npm run mutate -- --summary --files     the same with a row for every file
//   npm run mutate -- --survivors src/oci   the mutants no test detected, in files under those paths, with their lines
//   npm run mutate -- --mutate src/x.ts     one plain Stryker run with those arguments
//
// Why parts: Stryker writes its results only when a run ends, and all of src/ takes hours on two cores. A part
// that finished keeps its report (.cache/mutation/<part>.json) and its incremental file, so an interrupted run
// loses one part at most, and running a part again re-tests only the mutants whose code or tests changed.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"

const parts = {
  oci: ["src/oci/**/*.ts"],
  config: ["src/config/**/*.ts", "src/policy/**/*.ts", "src/gc/**/*.ts"],
  runtime: ["src/task/**/*.ts", "src/stats/**/*.ts", "src/containerd/**/*.ts", "src/stream/**/*.ts", "src/plugin/**/*.ts"],
  image: ["src/image/**/*.ts"],
  hcl: ["src/job/Hcl*.ts"],
  job: ["src/job/**/*.ts", "!src/job/Hcl*.ts"]
}

const dir = ".cache/mutation"
const args = process.argv.slice(2)

// Property tests with a fixed seed, so two runs judge a mutant alike, and a quarter of their inputs
// (test/support/propertyRuns.ts): a surviving mutant reruns every property that covers it.
const propertyEnv = { FC_SEED: "20261129", FC_RUNS_SCALE: "0.25" }
// The oracle tests (stryker.config.mjs) run in Stryker's copy of the sources and find the oracles here.
const oracleEnv = { ORACLE_CHECKOUT: process.cwd() }

const stryker = (strykerArgs, env = {}) => {
  const run = spawnSync("npx", ["stryker", "run", ...strykerArgs], {
    stdio: "inherit",
    env: { ...propertyEnv, ...oracleEnv, ...process.env, ...env }
  })
  return run.status ?? 1
}

// The config-bytes oracle the oracle tests need (idempotent; installs its Debian packages when missing). The job-file
// oracle is built by its test, in Stryker's first run, which runs alone.
const buildOracle = () => {
  const build = spawnSync("bash", ["scripts/build-nomad-oracle.sh"], { stdio: "inherit" })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

const reportFlags = ["--summary", "--files", "--survivors"]
const survivorPaths = args.includes("--survivors") ? args.slice(args.indexOf("--survivors") + 1) : []
if (args.some((a) => a.startsWith("-") && !reportFlags.includes(a))) {
  buildOracle()
  process.exit(stryker(args))
}

const reportOnly = args.some((a) => reportFlags.includes(a))
const unknown = reportOnly ? [] : args.filter((a) => !(a in parts))
if (unknown.length > 0) {
  console.error(`unknown part ${unknown.join(", ")}; the parts are ${Object.keys(parts).join(", ")}`)
  process.exit(2)
}
const chosen = reportOnly ? [] : args.length > 0 ? args : Object.keys(parts)
if (chosen.length > 0) buildOracle()
const failed = []
for (const part of chosen) {
  console.log(`\n== mutate: ${part} (${parts[part].join(", ")})`)
  const status = stryker(["--mutate", parts[part].join(","), "--incrementalFile", `${dir}/${part}.incremental.json`], {
    STRYKER_REPORT: part
  })
  if (status !== 0) {
    console.error(`mutate: the ${part} part failed (exit ${status}); its previous report, if any, is kept`)
    failed.push(part)
  }
}
// A part that failed still lets the others run and the table print, but the command fails.
process.exitCode = failed.length > 0 ? 1 : 0

// Stryker's mutation score: detected (killed or timed out) over every mutant with a verdict (detected, survived,
// or covered by no test). Ignored mutants (static ones, see stryker.config.mjs) have no verdict.
const count = (mutants) => {
  const n = { mutants: mutants.length, killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  for (const m of mutants) {
    if (m.status === "Killed") n.killed++
    else if (m.status === "Timeout") n.timeout++
    else if (m.status === "Survived") n.survived++
    else if (m.status === "NoCoverage") n.noCoverage++
    else if (m.status === "Ignored") n.ignored++
    else n.errors++
  }
  const valid = n.killed + n.timeout + n.survived + n.noCoverage
  n.score = valid === 0 ? NaN : (100 * (n.killed + n.timeout)) / valid
  return n
}

const rows = []
for (const part of Object.keys(parts)) {
  const file = `${dir}/${part}.json`
  if (!existsSync(file)) continue
  const report = JSON.parse(readFileSync(file, "utf8"))
  rows.push({ part, files: report.files, mutants: Object.values(report.files).flatMap((f) => f.mutants) })
}
if (rows.length === 0) {
  console.log("mutate: no part has a report yet")
  process.exit()
}

if (args.includes("--survivors")) {
  const undetected = new Set(["Survived", "NoCoverage"])
  for (const [file, { source, mutants }] of rows.flatMap((row) => Object.entries(row.files)).sort(([a], [b]) => a.localeCompare(b))) {
    if (survivorPaths.length > 0 && !survivorPaths.some((p) => file.startsWith(p))) continue
    const found = mutants.filter((m) => undetected.has(m.status)).sort((a, b) => a.location.start.line - b.location.start.line)
    if (found.length === 0) continue
    const lines = source.split("\n")
    console.log(`\n${file}: ${found.length} not detected`)
    for (const m of found) {
      const at = m.location.start.line
      const replacement = (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 80)
      console.log(`  ${at} ${m.status === "NoCoverage" ? "no test" : "survived"} ${m.mutatorName}: ${replacement}`)
      console.log(`      ${lines[at - 1]?.trim().slice(0, 110)}`)
    }
  }
  process.exit()
}
const total = count(rows.flatMap((row) => row.mutants))
const missing = Object.keys(parts).filter((p) => !rows.some((r) => r.part === p))

const columns = ["mutants", "killed", "timeout", "survived", "noCoverage", "ignored", "errors"]
const line = (name, n) =>
  `| ${name} | ${columns.map((c) => n[c]).join(" | ")} | ${Number.isNaN(n.score) ? "-" : `${n.score.toFixed(1)} %`} |`
console.log(`\n| part | ${columns.join(" | ")} | score |`)
console.log(`| --- |${" ---: |".repeat(columns.length + 1)}`)
for (const row of rows) {
  console.log(line(row.part, count(row.mutants)))
  if (!args.includes("--files")) continue
  for (const [file, { mutants }] of Object.entries(row.files).sort(([a], [b]) => a.localeCompare(b))) console.log(line(`  ${file}`, count(mutants)))
}
console.log(line(missing.length === 0 ? "**src/**" : "**parts run**", total))
if (missing.length > 0) console.log(`\nnot run yet: ${missing.join(", ")}`)
