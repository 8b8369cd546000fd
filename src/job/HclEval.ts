/**
 * Evaluation of HCL expressions (HclSyntax.ts) to plain values, with cty's conversion rules where HCL applies
 * them: arithmetic and comparisons convert strings to numbers, logic converts "true"/"false" to bools,
 * templates render numbers and bools as text. Lists and tuples are arrays, maps and objects plain objects.
 *
 * As in Nomad's jobspec2, a reference to a variable the job file does not define (`${NOMAD_TASK_NAME}`,
 * `${attr.kernel.name}`, `${env["HOME"]}`) evaluates to its own text in `${...}`: the client interpolates it
 * later with the task's environment.
 */
import { type BinaryOp, type Expr, type Pos, type TemplatePart, traversalSource } from "./HclSyntax.js"

export type Value = string | number | boolean | null | ReadonlyArray<Value> | { readonly [key: string]: Value }

export class HclEvalError extends Error {
  constructor(readonly pos: Pos, readonly detail: string) {
    super(`line ${pos.line}: ${detail}`)
  }
}

export type HclFunction = (args: ReadonlyArray<Value>, pos: Pos) => Value

export interface EvalContext {
  readonly variables: Readonly<Record<string, Value>>
  readonly functions: Readonly<Record<string, HclFunction>>
  /** What a reference to an undefined root variable evaluates to (Nomad: its own text); undefined: an error. */
  readonly unknownVariable?: (source: string) => Value
}

export const isObject = (v: Value | undefined): v is { readonly [key: string]: Value } =>
  typeof v === "object" && v !== null && !Array.isArray(v)

export const typeName = (v: Value): string =>
  v === null ? "null" : Array.isArray(v) ? "tuple" : typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v

/** cty's text for a number: integers in full, other numbers in their shortest form. */
export const numberText = (n: number): string => {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString()
  return String(n)
}

/** cty's conversion to string, or undefined when there is none. */
export const toStringValue = (v: Value): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" ? numberText(v) : typeof v === "boolean" ? String(v) : undefined

export const toNumberValue = (v: Value): number | undefined => {
  if (typeof v === "number") return v
  // cty.ParseNumberVal: a sign may lead, no blanks around (" 5" is no number, "+1" is one).
  if (typeof v === "string" && /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) return Number(v)
  return undefined
}

export const toBoolValue = (v: Value): boolean | undefined =>
  typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : undefined

/** cty's equality: same type and value, deeply (a string never equals a number). */
export const valuesEqual = (a: Value, b: Value): boolean => {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => valuesEqual(x, b[i]!))
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && valuesEqual(a[k]!, b[k]!))
  }
  return false
}

const fail = (pos: Pos, detail: string): never => {
  throw new HclEvalError(pos, detail)
}

const number = (v: Value, pos: Pos, what: string): number => {
  const n = toNumberValue(v)
  if (n === undefined) fail(pos, `Invalid operand: unsuitable value for the ${what} operand: a number is required, got ${describe(v)}`)
  return n!
}

const bool = (v: Value, pos: Pos, what: string): boolean => {
  const b = toBoolValue(v)
  if (b === undefined) fail(pos, `Invalid operand: unsuitable value for the ${what} operand: a bool is required, got ${describe(v)}`)
  return b!
}

export const describe = (v: Value): string => {
  if (v === null) return "null"
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`
  if (typeof v === "number" || typeof v === "boolean") return `the ${typeName(v)} ${String(v)}`
  return `a ${typeName(v)}`
}

const binary = (op: BinaryOp, left: Value, right: Value, pos: Pos): Value => {
  switch (op) {
    case "==":
      return valuesEqual(left, right)
    case "!=":
      return !valuesEqual(left, right)
    case "&&":
    case "||": {
      const a = bool(left, pos, "left")
      const b = bool(right, pos, "right")
      return op === "&&" ? a && b : a || b
    }
    default: {
      const a = number(left, pos, "left")
      const b = number(right, pos, "right")
      switch (op) {
        case "+":
          return a + b
        case "-":
          return a - b
        case "*":
          return a * b
        case "/":
          if (b === 0) fail(pos, "Operation failed: error while calculating the division: divide by zero")
          return a / b
        case "%":
          // cty's modulo by zero gives the dividend; a zero remainder is +0 there (JavaScript's -1 % -1 is -0), while
          // its -1 * 0 and -0 are -0 as JavaScript's are.
          return b === 0 ? a : (a % b) + 0
        case "<":
          return a < b
        case ">":
          return a > b
        case "<=":
          return a <= b
        case ">=":
          return a >= b
      }
    }
  }
}

/** The string an interpolation puts into a template. */
const interpolated = (v: Value, pos: Pos): string => {
  if (v === null) fail(pos, "Invalid template interpolation value: the expression result is null; cannot include a null value in a string template")
  const s = toStringValue(v)
  if (s === undefined) fail(pos, `Invalid template interpolation value: cannot include ${describe(v)} in a string template: string required`)
  return s!
}

const elements = (collection: Value, pos: Pos, what: string): Array<readonly [Value, Value]> => {
  if (Array.isArray(collection)) return collection.map((v, i) => [i, v] as const)
  if (isObject(collection)) return Object.keys(collection).sort().map((k) => [k, collection[k]!] as const)
  return fail(pos, `Iteration over non-iterable value: a value of type ${typeName(collection)} cannot be used as the collection in a ${what}`)
}

const index = (target: Value, key: Value, pos: Pos): Value => {
  if (target === null) fail(pos, "Attempt to index null value: this value is null, so it does not have any indices")
  if (Array.isArray(target)) {
    const i = toNumberValue(key)
    if (i === undefined || !Number.isInteger(i)) fail(pos, `Invalid index: a list index must be a whole number, got ${describe(key)}`)
    if (i! < 0 || i! >= target.length) fail(pos, `Invalid index: the given key does not identify an element in this collection value (index ${i}, ${target.length} elements)`)
    return target[i!]!
  }
  if (isObject(target)) {
    const k = toStringValue(key)
    if (k === undefined) fail(pos, `Invalid index: an object or map key must be a string, got ${describe(key)}`)
    if (!Object.hasOwn(target, k!)) fail(pos, `Invalid index: the given key does not identify an element in this collection value: there is no ${JSON.stringify(k)}`)
    return target[k!]!
  }
  return fail(pos, `Invalid index: this value (${describe(target)}) does not have any indices`)
}

const getattr = (target: Value, name: string, pos: Pos): Value => {
  if (target === null) fail(pos, `Attempt to get attribute from null value: this value is null, so it does not have an attribute named ${JSON.stringify(name)}`)
  if (!isObject(target)) return fail(pos, `Unsupported attribute: cannot get attribute ${JSON.stringify(name)} of ${describe(target)}`)
  if (!Object.hasOwn(target, name)) fail(pos, `Unsupported attribute: this object does not have an attribute named ${JSON.stringify(name)}`)
  return target[name]!
}

export const evaluate = (expr: Expr, ctx: EvalContext): Value => new Evaluator(ctx).expr(expr, undefined)

class Evaluator {
  constructor(readonly ctx: EvalContext) {}

  with(names: Record<string, Value>): Evaluator {
    return new Evaluator({ ...this.ctx, variables: { ...this.ctx.variables, ...names } })
  }

  expr(e: Expr, item: Value | undefined): Value {
    switch (e.kind) {
      case "literal":
        return e.value
      case "wrap":
        return this.expr(e.expr, item)
      case "template":
        return this.template(e.parts, item)
      case "paren":
        return this.expr(e.expr, item)
      case "tuple":
        return e.items.map((x) => this.expr(x, item))
      case "object": {
        const out: Record<string, Value> = {}
        for (const { bareKey, key, value } of e.items) {
          const k = bareKey ?? toStringValue(this.expr(key, item))
          if (k === undefined) fail(key.pos, "Incorrect key type: an object key must be a string")
          out[k!] = this.expr(value, item)
        }
        return out
      }
      case "item":
        if (item === undefined) fail(e.pos, "Invalid splat: no element here")
        return item!
      case "variable":
      case "getattr":
      case "index":
        return this.traversal(e, item)
      case "splat": {
        const target = this.expr(e.target, item)
        if (target === null) return []
        const list = Array.isArray(target) ? target : [target]
        return list.map((element) => this.expr(e.each, element))
      }
      case "call":
        return this.call(e, item)
      case "unary": {
        const v = this.expr(e.operand, item)
        return e.op === "!" ? !bool(v, e.pos, "logical not") : -number(v, e.pos, "negation")
      }
      case "binary": {
        // && and || evaluate both sides in HCL too; no short circuit.
        return binary(e.op, this.expr(e.left, item), this.expr(e.right, item), e.pos)
      }
      case "conditional": {
        const condition = this.expr(e.condition, item)
        if (condition === null) fail(e.condition.pos, "Null condition: the condition value is null; conditions must be true or false")
        // HCL evaluates both results and unifies their types: primitives of different types become strings, a
        // collection and a primitive are inconsistent.
        const then = this.expr(e.then, item)
        const otherwise = this.expr(e.otherwise, item)
        const chosen = bool(condition, e.condition.pos, "condition") ? then : otherwise
        if (then === null || otherwise === null) return chosen
        const structural = [then, otherwise].filter((v) => typeof v === "object").length
        const kinds = new Set([typeof then, typeof otherwise])
        // A string unifies with a number or a bool; a number and a bool do not unify.
        const numberAndBool = kinds.has("number") && kinds.has("boolean")
        if (structural === 1 || numberAndBool || (structural === 2 && Array.isArray(then) !== Array.isArray(otherwise))) {
          fail(e.pos, `Inconsistent conditional result types: the true and false result expressions must have consistent types; the true value is ${typeName(then)}, the false value is ${typeName(otherwise)}`)
        }
        if (structural === 0 && typeof then !== typeof otherwise) return toStringValue(chosen)!
        return chosen
      }
      case "for":
        return this.forExpr(e, item)
    }
  }

  traversal(e: Expr & { kind: "variable" | "getattr" | "index" }, item: Value | undefined): Value {
    if (e.kind === "variable") {
      if (Object.hasOwn(this.ctx.variables, e.name)) return this.ctx.variables[e.name]!
      return this.unknown(e, e.name)
    }
    if (e.kind === "getattr") {
      const root = rootOf(e)
      if (root !== undefined && !Object.hasOwn(this.ctx.variables, root.name)) return this.unknown(e, root.name)
      return getattr(this.expr(e.target, item), e.name, e.pos)
    }
    const root = rootOf(e)
    if (root !== undefined && !Object.hasOwn(this.ctx.variables, root.name)) return this.unknown(e, root.name)
    return index(this.expr(e.target, item), this.expr(e.key, item), e.pos)
  }

  unknown(e: Expr, root: string): Value {
    const source = traversalSource(e)
    if (this.ctx.unknownVariable !== undefined && source !== undefined) return this.ctx.unknownVariable(source)
    return fail(e.pos, `Unknown variable: there is no variable named ${JSON.stringify(root)}`)
  }

  call(e: Expr & { kind: "call" }, item: Value | undefined): Value {
    // try and can look at errors of their arguments, so they evaluate them themselves.
    if (e.name === "try") {
      for (const arg of e.args) {
        try {
          return this.expr(arg, item)
        } catch (error) {
          if (!(error instanceof HclEvalError)) throw error
        }
      }
      return fail(e.pos, "Error in function call: call to function \"try\" failed: no expression succeeded")
    }
    if (e.name === "can") {
      if (e.args.length !== 1) fail(e.pos, "Incorrect number of function arguments: function \"can\" takes one argument")
      try {
        this.expr(e.args[0]!, item)
        return true
      } catch (error) {
        if (!(error instanceof HclEvalError)) throw error
        return false
      }
    }
    const fn = this.ctx.functions[e.name]
    if (fn === undefined) fail(e.pos, `Call to unknown function: there is no function named ${JSON.stringify(e.name)}`)
    let args = e.args.map((a) => this.expr(a, item))
    if (e.expand) {
      const last = args[args.length - 1]
      if (!Array.isArray(last)) fail(e.pos, `Invalid expanding argument value: the expanding argument (indicated by ...) must be a list, got ${describe(last ?? null)}`)
      args = [...args.slice(0, -1), ...(last as ReadonlyArray<Value>)]
    }
    try {
      return fn!(args, e.pos)
    } catch (error) {
      if (error instanceof HclEvalError) throw error
      return fail(e.pos, `Error in function call: call to function ${JSON.stringify(e.name)} failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  forExpr(e: Expr & { kind: "for" }, item: Value | undefined): Value {
    const pairs = elements(this.expr(e.collection, item), e.collection.pos, "for expression")
    const scopes = pairs.map(([k, v]) => this.with({ ...(e.keyVar === undefined ? {} : { [e.keyVar]: k }), [e.valueVar]: v }))
    const kept = scopes.filter((scope) => e.condition === undefined || bool(scope.expr(e.condition, item), e.condition.pos, "for condition"))
    if (e.keyExpr === undefined) return kept.map((scope) => scope.expr(e.valueExpr, item))
    const out: Record<string, Value> = {}
    const groups: Record<string, Array<Value>> = {}
    for (const scope of kept) {
      const key = toStringValue(scope.expr(e.keyExpr, item))
      if (key === undefined) fail(e.keyExpr.pos, "Invalid object key: the key expression must produce a string")
      const value = scope.expr(e.valueExpr, item)
      if (e.grouping) (groups[key!] ??= []).push(value)
      else {
        if (Object.hasOwn(out, key!)) {
          fail(e.keyExpr.pos, `Duplicate object key: two different items produced the key ${JSON.stringify(key)}; add an ellipsis (...) after the value to group them`)
        }
        out[key!] = value
      }
    }
    return e.grouping ? groups : out
  }

  template(parts: ReadonlyArray<TemplatePart>, item: Value | undefined): string {
    let out = ""
    for (const part of parts) {
      switch (part.kind) {
        case "text":
          out += part.text
          break
        case "interp":
          out += interpolated(this.expr(part.expr, item), part.expr.pos)
          break
        case "if": {
          const condition = bool(this.expr(part.condition, item), part.pos, "if directive")
          out += this.template(condition ? part.then : part.otherwise, item)
          break
        }
        case "for":
          for (const [k, v] of elements(this.expr(part.collection, item), part.pos, "template for directive")) {
            out += this.with({ ...(part.keyVar === undefined ? {} : { [part.keyVar]: k }), [part.valueVar]: v }).template(part.body, item)
          }
          break
      }
    }
    return out
  }
}

const rootOf = (e: Expr): (Expr & { kind: "variable" }) | undefined =>
  e.kind === "variable" ? e : e.kind === "getattr" || e.kind === "index" ? rootOf(e.target) : undefined
