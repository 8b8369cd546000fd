// One benchmark session from the command line: the checks before it, the cases, and the results printed (table,
// budgets' verdicts, each case's details). bench/run.mjs runs every case and writes the docs; bench/handshake.mjs,
// bench/start.mjs and bench/pull.mjs run one case with options of their own.
import { describeMachine, loadAverage } from "./machine.mjs"
import { preflight } from "./preflight.mjs"
import { resultsTable, verdictLines } from "./report.mjs"
import { runCases } from "./runner.mjs"

export const defaults = () => ({
  address: process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock",
  registry: process.env.TEST_REGISTRY ?? "127.0.0.1:5000",
  rounds: 10
})

/** Runs the cases and prints what they measured; exits 1 when a case failed. `{ results, machine, load, minutes }`. */
export const session = async (cases, options) => {
  preflight()
  const began = Date.now()
  const loadBefore = loadAverage()
  const machine = describeMachine(options.address)
  console.log(`containerd-driver benchmarks: ${cases.map((c) => c.name).join(", ")}`)
  console.log(machine.join("\n"))
  const { results, failures } = await runCases(cases, options)
  const loadAfter = loadAverage()
  const minutes = ((Date.now() - began) / 60_000).toFixed(1)
  if (results.length > 0) {
    for (const section of results.flatMap((r) => r.sections)) {
      if ((section.details ?? []).length > 0) console.log(`\n### ${section.title}\n\n${section.details.join("\n")}`)
    }
    console.log(`\n${resultsTable(results).join("\n")}\n`)
    console.log(verdictLines(results).join("\n"))
  }
  if (options.cpuProfDir !== undefined) console.log(`\nplugin CPU profiles under ${options.cpuProfDir}/<case>/`)
  console.log(`\n${minutes} min; load average ${loadBefore} at the start, ${loadAfter} at the end`)
  if (failures.length > 0) {
    console.error(`\nFAILED: ${failures.map((f) => `${f.name} (${String(f.error.message).split("\n")[0]})`).join("; ")}`)
    process.exit(1)
  }
  return { results, machine, load: { before: loadBefore, after: loadAfter }, minutes }
}

/** `--name=value` flags and positional arguments; unknown flags are refused with the usage. */
export const parseArgs = (argv, { flags = [], switches = [], usage }) => {
  const positional = argv.filter((a) => !a.startsWith("--"))
  const values = {}
  const on = new Set()
  for (const arg of argv.filter((a) => a.startsWith("--"))) {
    const [name, ...rest] = arg.slice(2).split("=")
    if (arg === "--help") {
      console.log(usage)
      process.exit(0)
    } else if (rest.length > 0 && flags.includes(name)) values[name] = rest.join("=")
    else if (rest.length === 0 && switches.includes(name)) on.add(name)
    else {
      console.error(`unknown or malformed argument ${arg}\n${usage}`)
      process.exit(2)
    }
  }
  return { positional, values, on }
}

/** An integer argument ≥ min, or the fallback when absent; refused with the usage otherwise. */
export const integerArg = (text, name, fallback, min, usage) => {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name} must be an integer ≥ ${min}, got ${text}\n${usage}`)
    process.exit(2)
  }
  return n
}
