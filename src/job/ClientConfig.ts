/**
 * What the Nomad client does to a task's `config` block before StartTask (hashicorp/nomad
 * client/allocrunner/taskrunner/task_runner.go runDriver): every string is an HCL template evaluated with the
 * task's variables (its environment, `node.*`, `attr.*`, `meta.*`, `env["..."]`; an unknown variable is an error,
 * as in Nomad), the result is decoded against the driver's schema
 * (hcldec, src/config/HclDecode.ts) and marshalled as cty msgpack (src/config/CtyEncode.ts). Failures name the
 * option, for the job file's line.
 */
import { Either } from "effect"
import { encodeCtyMsgpack } from "../config/CtyEncode.js"
import type { HclBody } from "../config/Hcl.js"
import { hclDecode } from "../config/HclDecode.js"
import type { Spec } from "../gen/plugins/shared/hclspec/hcl_spec.js"
import { evaluate, HclEvalError, isObject, type Value } from "./HclEval.js"
import { HclSyntaxError, parseTemplate } from "./HclSyntax.js"
import { distance } from "./JobSpec.js"

export interface ConfigProblem {
  /** The top-level option the problem is in, when known. */
  readonly option: string | undefined
  readonly detail: string
}

/** The variables the client evaluates config strings with: each variable by name, dotted names as objects. */
export const configVariables = (env: Readonly<Record<string, string>>, attributes: Readonly<Record<string, string>>): Record<string, Value> => {
  const out: Record<string, Value> = {}
  for (const [key, value] of Object.entries({ ...attributes, ...env })) {
    const parts = key.split(".")
    let target = out as Record<string, Value>
    for (const part of parts.slice(0, -1)) {
      if (!isObject(target[part])) target[part] = {}
      target = target[part] as Record<string, Value>
    }
    target[parts[parts.length - 1]!] = value
  }
  out["env"] = { ...env }
  return out
}

const interpolateValue = (value: unknown, variables: Record<string, Value>, path: string): unknown => {
  if (typeof value === "string") {
    if (!/[$%]\{/.test(value)) return value
    try {
      return evaluate(parseTemplate(value), { variables, functions: {} })
    } catch (error) {
      if (error instanceof HclSyntaxError || error instanceof HclEvalError) throw new InterpolationError(path, `${JSON.stringify(value)}: ${error.detail}`)
      throw error
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateValue(v, variables, `${path}[${i}]`))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateValue(v, variables, path === "" ? k : `${path}.${k}`)]))
  }
  return value
}

class InterpolationError extends Error {
  constructor(readonly path: string, readonly detail: string) {
    super(detail)
  }
}

const topOption = (path: string) => path.split(/[.[]/)[0]

/** The option names of an Object spec (the driver's task options). */
export const specOptions = (spec: Spec): ReadonlyArray<string> =>
  spec.block?.$case === "object" ? Object.keys(spec.block.value.attributes) : []

/** The config's msgpack bytes as the client would send them, or what is wrong with it. */
export const clientConfigBytes = (
  spec: Spec,
  config: HclBody,
  env: Readonly<Record<string, string>>,
  attributes: Readonly<Record<string, string>>
): Either.Either<Uint8Array, ConfigProblem> => {
  const options = specOptions(spec)
  for (const key of Object.keys(config)) {
    if (!options.includes(key)) {
      const near = options.filter((o) => distance(o, key) <= 2).sort((a, b) => distance(a, key) - distance(b, key))[0]
      return Either.left({
        option: key,
        detail: `unknown option ${JSON.stringify(key)}: containerd-driver has no such task option${near === undefined ? "" : `; did you mean ${JSON.stringify(near)}?`}`
      })
    }
  }
  let interpolated: unknown
  try {
    interpolated = interpolateValue(config, configVariables(env, attributes), "")
  } catch (error) {
    if (error instanceof InterpolationError) return Either.left({ option: topOption(error.path), detail: `failed to interpolate ${error.path} = ${error.detail}` })
    throw error
  }
  return Either.map(
    Either.mapLeft(hclDecode(spec, interpolated as Record<string, unknown>), (detail) => ({
      option: /"([^"]+)"/.exec(detail)?.[1]?.split(/[.[]/)[0],
      detail
    })),
    encodeCtyMsgpack
  )
}
