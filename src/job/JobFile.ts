/**
 * A job file evaluated as Nomad's jobspec2 evaluates it, before it is read as a job: `variable` and `variables`
 * declarations with their types, defaults and validations; values from `NOMAD_VAR_*`, var files and `-var`
 * (later ones win); `locals` in any order; `dynamic` blocks expanded; every attribute evaluated with `var.*`,
 * `local.*` and the job functions. References to anything else stay as `${...}` text for the client. The result is
 * a tree of blocks with evaluated attributes and their positions, for JobSpec.ts (and `spec`) to read.
 */
import { type Attribute, type Block, type Body, type Expr, HclSyntaxError, parseBody, parseExpression, type Pos } from "./HclSyntax.js"
import { describe, type EvalContext, evaluate, HclEvalError, type HclFunction, isObject, toBoolValue, toNumberValue, toStringValue, type Value } from "./HclEval.js"

/** A problem in a job (or var) file, at a position when there is one. */
export class JobFileError extends Error {
  constructor(readonly detail: string, readonly pos: Pos | undefined, readonly file?: string) {
    super(pos === undefined ? detail : `line ${pos.line}: ${detail}`)
  }

  /** `file:line,column: detail`, the way HCL tools point at a place. */
  at(file: string): string {
    const where = this.file ?? file
    return this.pos === undefined ? `${where}: ${this.detail}` : `${where}:${this.pos.line},${this.pos.column}: ${this.detail}`
  }
}

export interface EvalAttribute {
  readonly name: string
  readonly value: Value
  readonly pos: Pos
}

export interface EvalBlock {
  readonly type: string
  readonly labels: ReadonlyArray<string>
  readonly attributes: ReadonlyArray<EvalAttribute>
  readonly blocks: ReadonlyArray<EvalBlock>
  readonly pos: Pos
}

export interface VariableInputs {
  /** `NOMAD_VAR_name=value` entries of the environment (others are ignored). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Var files, in order: name and text (HCL, or JSON when it starts with `{`). */
  readonly varFiles?: ReadonlyArray<{ readonly name: string; readonly text: string }>
  /** `-var name=value`, in order. */
  readonly vars?: ReadonlyArray<readonly [string, string]>
}

const rethrow = (error: unknown, file?: string): never => {
  if (error instanceof HclSyntaxError || error instanceof HclEvalError) throw new JobFileError(error.detail, error.pos, file)
  throw error
}

// ---------------------------------------------------------------------------------------------------------------
// Type constraints (typeexpr) and cty conversion

export type TypeConstraint =
  | { readonly kind: "string" | "number" | "bool" | "any" }
  | { readonly kind: "list" | "set" | "map"; readonly element: TypeConstraint }
  | { readonly kind: "object"; readonly attributes: Readonly<Record<string, TypeConstraint>> }
  | { readonly kind: "tuple"; readonly elements: ReadonlyArray<TypeConstraint> }

export const typeConstraint = (expr: Expr): TypeConstraint => {
  const bad = (detail: string): never => {
    throw new HclEvalError(expr.pos, `Invalid type specification: ${detail}`)
  }
  if (expr.kind === "variable") {
    if (expr.name === "string" || expr.name === "number" || expr.name === "bool" || expr.name === "any") return { kind: expr.name }
    if (["list", "set", "map", "object", "tuple"].includes(expr.name)) return bad(`the ${expr.name} type constructor requires one argument specifying the element type`)
    return bad(`the keyword ${JSON.stringify(expr.name)} is not a valid type specification`)
  }
  if (expr.kind === "call" && expr.args.length === 1) {
    const arg = expr.args[0]!
    switch (expr.name) {
      case "list":
      case "set":
      case "map":
        return { kind: expr.name, element: typeConstraint(arg) }
      case "optional":
        return typeConstraint(arg)
      case "object":
        if (arg.kind !== "object") return bad("object() requires an object of attribute types, like object({name = string})")
        return {
          kind: "object",
          attributes: Object.fromEntries(arg.items.map((item) => {
            if (item.bareKey === undefined) return bad("object attribute names must be plain identifiers")
            return [item.bareKey, typeConstraint(item.value)]
          }))
        }
      case "tuple":
        if (arg.kind !== "tuple") return bad("tuple() requires a list of element types, like tuple([string, number])")
        return { kind: "tuple", elements: arg.items.map(typeConstraint) }
    }
  }
  return bad("a type is string, number, bool, any, or list(T), set(T), map(T), object({...}), tuple([...])")
}

export const typeText = (t: TypeConstraint): string => {
  switch (t.kind) {
    case "list":
    case "set":
    case "map":
      return `${t.kind}(${typeText(t.element)})`
    case "object":
      return `object({${Object.entries(t.attributes).map(([k, v]) => `${k}=${typeText(v)}`).join(", ")}})`
    case "tuple":
      return `tuple([${t.elements.map(typeText).join(", ")}])`
    default:
      return t.kind
  }
}

/** cty's conversion of a value to a type constraint; the failure says why, as cty does. */
export const convertTo = (value: Value, type: TypeConstraint, path = ""): Value => {
  const at = path === "" ? "" : `${path}: `
  const no = (what: string): never => {
    throw new Error(`${at}${what} required, got ${describe(value)}`)
  }
  if (value === null || type.kind === "any") return value
  switch (type.kind) {
    case "string":
      return toStringValue(value) ?? no("string")
    case "number":
      return toNumberValue(value) ?? no("number")
    case "bool":
      return toBoolValue(value) ?? no("bool")
    case "list":
    case "set": {
      if (!Array.isArray(value)) return no(`${type.kind} of ${typeText(type.element)}`)
      const items = (value as ReadonlyArray<Value>).map((v, i) => convertTo(v, type.element, `${path}[${i}]`))
      return type.kind === "set" ? items.filter((v, i) => items.findIndex((o) => JSON.stringify(o) === JSON.stringify(v)) === i) : items
    }
    case "map":
      if (!isObject(value)) return no(`map of ${typeText(type.element)}`)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convertTo(v, type.element, `${path}.${k}`)]))
    case "object": {
      if (!isObject(value)) return no("object")
      return Object.fromEntries(Object.entries(type.attributes).map(([k, t]) => {
        if (!Object.hasOwn(value, k)) throw new Error(`${at}attribute ${JSON.stringify(k)} is required`)
        return [k, convertTo(value[k]!, t, path === "" ? k : `${path}.${k}`)]
      }))
    }
    case "tuple": {
      if (!Array.isArray(value) || value.length !== type.elements.length) return no(`tuple of ${type.elements.length} elements`)
      return type.elements.map((t, i) => convertTo((value as ReadonlyArray<Value>)[i]!, t, `${path}[${i}]`))
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Variables

interface Validation {
  readonly condition: Expr
  readonly message: string
  readonly pos: Pos
}

interface Variable {
  readonly name: string
  readonly type: TypeConstraint | undefined
  readonly value: { readonly value: Value; readonly from: string; readonly pos: Pos | undefined } | undefined
  readonly validations: ReadonlyArray<Validation>
  readonly pos: Pos
}

const identifier = /^[\p{L}_][\p{L}\p{N}_-]*$/u

const noContext: EvalContext = { variables: {}, functions: {} }

const attributesOf = (body: Body, allowed: ReadonlyArray<string>, blocks: ReadonlyArray<string>, where: string): Record<string, Attribute> => {
  const out: Record<string, Attribute> = {}
  for (const a of body.attributes) {
    if (!allowed.includes(a.name)) throw new JobFileError(`Unsupported argument: an argument named ${JSON.stringify(a.name)} is not expected in ${where}`, a.pos)
    out[a.name] = a
  }
  for (const b of body.blocks) {
    if (!blocks.includes(b.type)) throw new JobFileError(`Unsupported block type: blocks of type ${JSON.stringify(b.type)} are not expected in ${where}`, b.pos)
  }
  return out
}

const declareVariable = (block: Block): Variable => {
  const name = block.labels[0]
  if (block.labels.length !== 1 || name === undefined) throw new JobFileError("Missing name for variable: a variable block needs exactly one label, its name", block.pos)
  if (!identifier.test(name)) {
    throw new JobFileError("Invalid variable name: a name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes", block.pos)
  }
  const attrs = attributesOf(block.body, ["description", "default", "type", "sensitive"], ["validation"], `variable ${JSON.stringify(name)}`)
  const type = attrs["type"] === undefined ? undefined : typeConstraint(attrs["type"].expr)
  let value: Variable["value"]
  if (attrs["default"] !== undefined) {
    // jobspec2 evaluates defaults without variables or functions.
    const raw = evaluate(attrs["default"].expr, noContext)
    let converted = raw
    if (type !== undefined) {
      try {
        converted = convertTo(raw, type)
      } catch (error) {
        throw new JobFileError(
          `Invalid default value for variable: this default value is not compatible with the variable's type constraint: ${(error as Error).message}`,
          attrs["default"].expr.pos
        )
      }
    }
    value = { value: converted, from: "default", pos: attrs["default"].expr.pos }
  }
  const validations = block.body.blocks.map((v): Validation => {
    const va = attributesOf(v.body, ["condition", "error_message"], [], "a validation block")
    if (va["condition"] === undefined || va["error_message"] === undefined) {
      throw new JobFileError("Missing required argument: a validation block needs condition and error_message", v.pos)
    }
    const message = evaluate(va["error_message"].expr, noContext)
    if (typeof message !== "string" || message === "") throw new JobFileError("Invalid validation error message: it must be a non-empty string", va["error_message"].pos)
    return { condition: va["condition"].expr, message, pos: v.pos }
  })
  return { name, type, value, validations, pos: block.pos }
}

/** A value given from outside (env, -var): a string for string, number and untyped variables, else an HCL expression. */
const outsideValue = (variable: Variable, text: string, source: string): Value => {
  const kind = variable.type?.kind
  if (kind === undefined || kind === "string" || kind === "number") return text
  try {
    return evaluate(parseExpression(text), noContext)
  } catch (error) {
    if (error instanceof HclSyntaxError || error instanceof HclEvalError) {
      throw new JobFileError(`Invalid value for variable ${variable.name} from ${source}: ${error.detail}`, undefined)
    }
    throw error
  }
}

const assign = (variable: Variable, value: Value, from: string, pos: Pos | undefined, file?: string): Variable => {
  let converted = value
  if (variable.type !== undefined) {
    try {
      converted = convertTo(value, variable.type)
    } catch (error) {
      throw new JobFileError(
        `Invalid value for variable: the value for ${variable.name} (from ${from}) is not compatible with the variable's type constraint: ${(error as Error).message}`,
        pos,
        file
      )
    }
  }
  return { ...variable, value: { value: converted, from, pos } }
}

const varFileAttributes = (name: string, text: string): Array<{ readonly name: string; readonly value: Value; readonly pos: Pos | undefined }> => {
  if (text.trimStart().startsWith("{")) {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (error) {
      throw new JobFileError(`unable to parse var file: ${(error as Error).message}`, undefined, name)
    }
    if (!isObject(json as Value)) throw new JobFileError("unable to parse var file: a JSON var file is an object of variable values", undefined, name)
    return Object.entries(json as Record<string, Value>).map(([k, v]) => ({ name: k, value: v, pos: undefined }))
  }
  let body: Body
  try {
    body = parseBody(text)
  } catch (error) {
    return rethrow(error, name)
  }
  const declaration = body.blocks.find((b) => b.type === "variable")
  if (declaration !== undefined) {
    throw new JobFileError(
      `Variable declaration in a var file: a var file assigns values to variables declared in the job file; write ${declaration.labels[0] ?? "name"} = <value> instead`,
      declaration.pos,
      name
    )
  }
  if (body.blocks.length > 0) throw new JobFileError("Unexpected block: a var file holds only name = value assignments", body.blocks[0]!.pos, name)
  return body.attributes.map((a) => {
    try {
      return { name: a.name, value: evaluate(a.expr, noContext), pos: a.pos }
    } catch (error) {
      return rethrow(error, name)
    }
  })
}

const collectVariables = (blocks: ReadonlyArray<Block>, inputs: VariableInputs): Record<string, Value> => {
  const variables = new Map<string, Variable>()
  const declare = (v: Variable) => {
    if (variables.has(v.name)) throw new JobFileError(`Duplicate variable: duplicate ${v.name} variable definition found`, v.pos)
    variables.set(v.name, v)
  }
  for (const block of blocks) {
    if (block.type === "variable") declare(declareVariable(block))
    else if (block.type === "variables") {
      if (block.body.blocks.length > 0) throw new JobFileError("Unexpected block: a variables block holds only name = default assignments", block.body.blocks[0]!.pos)
      for (const a of block.body.attributes) {
        declare({ name: a.name, type: undefined, value: { value: evaluate(a.expr, noContext), from: "default", pos: a.pos }, validations: [], pos: a.pos })
      }
    }
  }
  for (const [key, text] of Object.entries(inputs.env ?? {})) {
    if (!key.startsWith("NOMAD_VAR_") || text === undefined) continue
    const variable = variables.get(key.slice("NOMAD_VAR_".length))
    if (variable !== undefined) variables.set(variable.name, assign(variable, outsideValue(variable, text, `$${key}`), `$${key}`, undefined))
  }
  for (const file of inputs.varFiles ?? []) {
    for (const a of varFileAttributes(file.name, file.text)) {
      const variable = variables.get(a.name)
      if (variable === undefined) {
        throw new JobFileError(
          `Undefined variable: a ${JSON.stringify(a.name)} variable was set but was not found in known variables; to declare variable ${JSON.stringify(a.name)}, place a variable block in your job file`,
          a.pos,
          file.name
        )
      }
      variables.set(a.name, assign(variable, a.value, file.name, a.pos, file.name))
    }
  }
  for (const [name, text] of inputs.vars ?? []) {
    const variable = variables.get(name)
    if (variable === undefined) {
      throw new JobFileError(
        `Undefined -var variable: a ${JSON.stringify(name)} variable was passed in the command line but was not found in known variables; to declare variable ${JSON.stringify(name)}, place a variable block in your job file`,
        undefined
      )
    }
    variables.set(name, assign(variable, outsideValue(variable, text, `-var ${name}`), `-var ${name}`, undefined))
  }
  const values: Record<string, Value> = {}
  for (const v of variables.values()) {
    if (v.value === undefined) {
      throw new JobFileError(`Unset variable ${JSON.stringify(v.name)}: a used variable must be set or have a default value; set it with -var, -var-file or NOMAD_VAR_${v.name}`, v.pos)
    }
    values[v.name] = v.value.value
  }
  for (const v of variables.values()) {
    for (const validation of v.validations) {
      const result = toBoolValue(evaluate(validation.condition, { variables: { var: { [v.name]: v.value!.value } }, functions: {} }))
      if (result === undefined) throw new JobFileError("Invalid variable validation result: the condition must be true or false", validation.condition.pos)
      if (!result) {
        throw new JobFileError(
          `Invalid value for ${v.value!.from} variable: ${validation.message} (checked by the validation rule at line ${validation.pos.line})`,
          v.value!.pos ?? v.pos
        )
      }
    }
  }
  return values
}

// ---------------------------------------------------------------------------------------------------------------
// Locals and the job body

const evaluateLocals = (blocks: ReadonlyArray<Block>, base: EvalContext): Record<string, Value> => {
  const pending: Array<Attribute> = []
  const seen = new Set<string>()
  for (const block of blocks.filter((b) => b.type === "locals")) {
    if (block.body.blocks.length > 0) throw new JobFileError("Unexpected block: a locals block holds only name = expression assignments", block.body.blocks[0]!.pos)
    for (const a of block.body.attributes) {
      if (seen.has(a.name)) throw new JobFileError(`Duplicate value in locals: duplicate ${a.name} definition found`, a.pos)
      seen.add(a.name)
      pending.push(a)
    }
  }
  const locals: Record<string, Value> = {}
  // As jobspec2: evaluate what can be, and retry the rest once others are known (locals may be in any order).
  while (pending.length > 0) {
    let progressed = false
    let lastError: unknown
    for (const a of [...pending]) {
      try {
        locals[a.name] = evaluate(a.expr, { ...base, variables: { ...base.variables, local: { ...locals } } })
        pending.splice(pending.indexOf(a), 1)
        progressed = true
      } catch (error) {
        lastError = error
      }
    }
    if (!progressed) rethrow(lastError)
  }
  return locals
}

const evaluateBody = (body: Body, ctx: EvalContext): { attributes: Array<EvalAttribute>; blocks: Array<EvalBlock> } => {
  const attributes = body.attributes.map((a) => ({ name: a.name, value: evaluate(a.expr, ctx), pos: a.pos }))
  const blocks: Array<EvalBlock> = []
  for (const block of body.blocks) {
    if (block.type === "dynamic") blocks.push(...expandDynamic(block, ctx))
    else blocks.push({ type: block.type, labels: block.labels, ...evaluateBody(block.body, ctx), pos: block.pos })
  }
  return { attributes, blocks }
}

/** `dynamic "type" { for_each, iterator, labels, content {} }`: one block of that type per element. */
const expandDynamic = (block: Block, ctx: EvalContext): Array<EvalBlock> => {
  const type = block.labels[0]
  if (block.labels.length !== 1 || type === undefined) throw new JobFileError("Invalid dynamic block: a dynamic block needs one label, the type of the blocks it makes", block.pos)
  const attrs = attributesOf(block.body, ["for_each", "iterator", "labels"], ["content"], `dynamic ${JSON.stringify(type)}`)
  const contents = block.body.blocks
  if (attrs["for_each"] === undefined || contents.length !== 1) {
    throw new JobFileError(`Invalid dynamic block: dynamic ${JSON.stringify(type)} needs a for_each argument and one content block`, block.pos)
  }
  const iterator = attrs["iterator"] === undefined ? type : attrs["iterator"].expr.kind === "variable" ? attrs["iterator"].expr.name : undefined
  if (iterator === undefined) throw new JobFileError("Invalid dynamic iterator name: the iterator is a plain name", attrs["iterator"]!.pos)
  const collection = evaluate(attrs["for_each"].expr, ctx)
  const items: Array<readonly [Value, Value]> = Array.isArray(collection)
    ? collection.map((v, i) => [i, v] as const)
    : isObject(collection)
    ? Object.keys(collection).sort().map((k) => [k, collection[k]!] as const)
    : (() => {
      throw new JobFileError(`Invalid dynamic for_each value: cannot use ${describe(collection)} in for_each; a list, set or map is required`, attrs["for_each"]!.pos)
    })()
  return items.map(([key, value]) => {
    const inner = { ...ctx, variables: { ...ctx.variables, [iterator]: { key, value } } }
    const labels = attrs["labels"] === undefined ? [] : evaluate(attrs["labels"].expr, inner)
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === "string")) {
      throw new JobFileError("Invalid dynamic block labels: labels must be a list of strings", attrs["labels"]!.pos)
    }
    return { type, labels: labels as Array<string>, ...evaluateBody(contents[0]!.body, inner), pos: block.pos }
  })
}

export interface EvaluatedJobFile {
  /** The job block, evaluated; undefined for a file with no job block (a bare task config). */
  readonly job: EvalBlock | undefined
  /** Everything at the top level, evaluated (for a file that is just a config block's body). */
  readonly root: EvalBlock
}

/**
 * Parses and evaluates a job file. `functions` are the job functions (HclFunctions.ts). A file without a job
 * block is evaluated as a plain body (e.g. a task's `config` block on its own).
 */
export const evaluateJobFile = (
  text: string,
  functions: Readonly<Record<string, HclFunction>>,
  inputs: VariableInputs = {}
): EvaluatedJobFile => {
  try {
    const body = parseBody(text)
    const unknownVariable = (source: string): Value => `\${${source}}`
    const hasJob = body.blocks.some((b) => b.type === "job")
    if (!hasJob) {
      const root = { type: "", labels: [], ...evaluateBody(body, { variables: { var: {}, local: {} }, functions, unknownVariable }), pos: body.pos }
      return { job: undefined, root }
    }
    for (const a of body.attributes) throw new JobFileError(`Unsupported argument: an argument named ${JSON.stringify(a.name)} is not expected at the top of a job file`, a.pos)
    for (const b of body.blocks) {
      if (!["job", "variable", "variables", "locals"].includes(b.type)) {
        throw new JobFileError(`Unsupported block type: blocks of type ${JSON.stringify(b.type)} are not expected at the top of a job file (job, variable, variables, locals)`, b.pos)
      }
    }
    const jobs = body.blocks.filter((b) => b.type === "job")
    if (jobs.length > 1) throw new JobFileError(`Duplicate job block: only one block of type "job" is allowed; the first is at line ${jobs[0]!.pos.line}`, jobs[1]!.pos)
    const jobBlock = jobs[0]!
    if (jobBlock.labels.length !== 1) throw new JobFileError("Missing name for job: a job block needs exactly one label, its name", jobBlock.pos)
    const vars = collectVariables(body.blocks, inputs)
    const base: EvalContext = { variables: { var: vars }, functions, unknownVariable }
    const locals = evaluateLocals(body.blocks, base)
    const ctx: EvalContext = { ...base, variables: { var: vars, local: locals } }
    const job: EvalBlock = { type: "job", labels: jobBlock.labels, ...evaluateBody(jobBlock.body, ctx), pos: jobBlock.pos }
    return { job, root: { type: "", labels: [], attributes: [], blocks: [job], pos: body.pos } }
  } catch (error) {
    return rethrow(error)
  }
}
