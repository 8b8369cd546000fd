/**
 * An evaluated HCL block (src/job/JobFile.ts) in the shape jobspec2 stores: every block becomes a list of bodies,
 * and an object-valued attribute a one-element list (hashicorp/nomad jobspec2/hclutil/blockattrs.go), so a task's
 * `config` decodes exactly like a submitted job's. Pure.
 */
import type { Value } from "../job/HclEval.js"
import type { EvalBlock } from "../job/JobFile.js"

export type HclValue = string | number | boolean | null | ReadonlyArray<HclValue> | HclBody
export interface HclBody {
  readonly [key: string]: HclValue
}

/** A block with its labels, kept separately so callers can find e.g. `task "web"`. */
export interface HclBlock {
  readonly type: string
  readonly labels: ReadonlyArray<string>
  readonly body: HclBody
  readonly blocks: ReadonlyArray<HclBlock>
}

const isObjectValue = (v: Value): boolean => typeof v === "object" && v !== null && !Array.isArray(v)

/** A block's body as jobspec2 stores it: blocks as lists of bodies, object attributes wrapped in a list. */
export const jobspecBody = (block: EvalBlock): HclBody => {
  const body: Record<string, HclValue> = {}
  for (const a of block.attributes) body[a.name] = isObjectValue(a.value) ? [a.value as HclBody] : (a.value as HclValue)
  for (const b of block.blocks) body[b.type] = [...((body[b.type] as Array<HclValue> | undefined) ?? []), jobspecBody(b)]
  return body
}

export const toHclBlock = (block: EvalBlock): HclBlock => ({
  type: block.type,
  labels: block.labels,
  body: jobspecBody(block),
  blocks: block.blocks.map(toHclBlock)
})
