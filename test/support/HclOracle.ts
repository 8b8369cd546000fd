/**
 * The independent oracle for job-file evaluation: test/oracle/hcleval, a Go program evaluating HCL text with
 * hashicorp/hcl's hclsyntax and go-cty's functions (Debian's hcl 2.14.1 and cty 1.12.1, the packages
 * scripts/build-nomad-oracle.sh installs), built here on first use; and ours (src/job/Hcl*.ts), answering alike.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { evaluate, type EvalContext, type Value } from "../../src/job/HclEval.js"
import { jobFunctions } from "../../src/job/HclFunctions.js"
import { type Body, parseBody } from "../../src/job/HclSyntax.js"
import { oracleCheckout } from "./NomadOracle.js"

const source = path.join(oracleCheckout, "test/oracle/hcleval/main.go")
const binary = path.join(oracleCheckout, ".cache/nomad-oracle/hcleval")

const oracleBinary = (): string => {
  const built = fs.statSync(binary, { throwIfNoEntry: false })
  if (built !== undefined && built.mtimeMs >= fs.statSync(source).mtimeMs) return binary
  try {
    // GOPATH mode against Debian's Go packages, off the network, as scripts/build-nomad-oracle.sh builds its oracle.
    execFileSync("go", ["build", "-trimpath", "-o", binary, source], {
      env: { ...process.env, GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOPROXY: "off", GOFLAGS: "", GOCACHE: path.join(oracleCheckout, ".cache/nomad-oracle/go-build") },
      stdio: "pipe"
    })
  } catch (error) {
    throw new Error(`cannot build the HCL oracle (needs golang-go and golang-github-hashicorp-hcl-v2-dev: run scripts/test-env.sh up): ${String((error as { stderr?: Buffer }).stderr ?? error)}`)
  }
  return binary
}

export interface OracleBody {
  readonly attributes: Record<string, Value>
  readonly blocks: ReadonlyArray<{ readonly type: string; readonly labels: ReadonlyArray<string>; readonly body: OracleBody }>
}
export type OracleResult = { readonly body: OracleBody; readonly error?: undefined } | { readonly error: string; readonly line: number; readonly body?: undefined }

export const oracle = (requests: ReadonlyArray<{ readonly text: string; readonly variables: Record<string, Value> }>): Array<OracleResult> =>
  JSON.parse(execFileSync(oracleBinary(), [], { input: JSON.stringify(requests), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })) as Array<OracleResult>


export const ours = (body: Body, ctx: EvalContext): OracleBody => ({
  attributes: Object.fromEntries([...body.attributes].sort((a, b) => (a.name < b.name ? -1 : 1)).map((a) => [a.name, evaluate(a.expr, ctx)])),
  blocks: body.blocks.map((b) => ({ type: b.type, labels: b.labels, body: ours(b.body, ctx) }))
})

/** Ours, as the oracle answers: the body, or the error's line. */
export const ourResult = (text: string, variables: Record<string, Value>): OracleResult => {
  try {
    // The function table is built per call, not once at import: a mutation run switches mutants on while tests
    // run, and a table built while modules load would keep the unmutated functions.
    return { body: ours(parseBody(text), { variables, functions: jobFunctions(undefined) }) }
  } catch (error) {
    return { error: String(error), line: (error as { pos?: { line: number } }).pos?.line ?? 0 }
  }
}

