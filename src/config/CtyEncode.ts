/**
 * cty's msgpack marshalling of a config value, as a Nomad agent or client sends it to a driver
 * (zclconf/go-cty cty/msgpack/marshal.go): vmihailenco msgpack with compact integers — keys sorted bytewise (UTF-8),
 * integers in their smallest form, float64 for other exact numbers, decimal text for the rest (CtyNumber.ts).
 * test/integration/nomad-oracle.test.ts checks these bytes against the real Go pipeline.
 */
import { Either } from "effect"
import type { Spec } from "../gen/plugins/shared/hclspec/hcl_spec.js"
import { hclDecode } from "./HclDecode.js"

/**
 * A config body decoded against `spec` (hcldec, HclDecode.ts) and marshalled, as the client does for StartTask
 * and the agent for SetConfig; the failure is hcldec's message.
 */
export const encodeConfig = (spec: Spec, config: Record<string, unknown>): Either.Either<Uint8Array, string> =>
  Either.map(hclDecode(spec, config), encodeCtyMsgpack)

const utf8 = (s: string): Buffer => Buffer.from(s, "utf8")

/** A msgpack type byte followed by `n` in `bytes` big-endian bytes. */
const sized = (code: number, bytes: number, n: bigint): Buffer => {
  const b = Buffer.alloc(1 + bytes)
  b[0] = code
  if (bytes === 8) b.writeBigUInt64BE(BigInt.asUintN(64, n), 1)
  else if (bytes > 0) b.writeUIntBE(Number(BigInt.asUintN(8 * bytes, n)), 1, bytes)
  return b
}

/** vmihailenco's EncodeInt: fixints, then the smallest uint (n >= 0) or int (n < 0) form. */
const intHead = (n: bigint): Buffer => {
  if (n >= 0n) {
    if (n < 0x80n) return Buffer.from([Number(n)])
    if (n <= 0xffn) return sized(0xcc, 1, n)
    if (n <= 0xffffn) return sized(0xcd, 2, n)
    if (n <= 0xffffffffn) return sized(0xce, 4, n)
    return sized(0xcf, 8, n)
  }
  if (n >= -32n) return Buffer.from([Number(BigInt.asUintN(8, n))])
  if (n >= -0x80n) return sized(0xd0, 1, n)
  if (n >= -0x8000n) return sized(0xd1, 2, n)
  if (n >= -0x80000000n) return sized(0xd2, 4, n)
  return sized(0xd3, 8, n)
}

/** The header of a string, array or map of `length`: the fix form, else the 8/16/32-bit ones offered. */
const lengthHead = (length: number, fix: readonly [limit: number, code: number], forms: ReadonlyArray<readonly [bytes: number, code: number]>): Buffer => {
  if (length < fix[0]) return Buffer.from([fix[1] | length])
  const form = forms.find(([bytes]) => length < 2 ** (8 * bytes))
  if (form === undefined) throw new Error(`too long for msgpack: ${length}`)
  return sized(form[1], form[0], BigInt(length))
}

const float64 = (n: number): Buffer => {
  const b = Buffer.alloc(9)
  b[0] = 0xcb
  b.writeDoubleBE(n, 1)
  return b
}

/** cty's msgpack for a decoded value (HclDecode's representation: see CtyNumber.ts for numbers). */
export const encodeCtyMsgpack = (value: unknown): Uint8Array => {
  const chunks: Array<Buffer> = []
  const str = (s: string) => {
    const bytes = utf8(s)
    chunks.push(lengthHead(bytes.length, [32, 0xa0], [[1, 0xd9], [2, 0xda], [4, 0xdb]]), bytes)
  }
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) chunks.push(Buffer.from([0xc0]))
    else if (typeof v === "boolean") chunks.push(Buffer.from([v ? 0xc3 : 0xc2]))
    else if (typeof v === "bigint") chunks.push(intHead(v))
    else if (typeof v === "number") chunks.push(Number.isSafeInteger(v) ? intHead(BigInt(v)) : float64(v))
    else if (typeof v === "string") str(v)
    else if (Array.isArray(v)) {
      chunks.push(lengthHead(v.length, [16, 0x90], [[2, 0xdc], [4, 0xdd]]))
      v.forEach(walk)
    } else if (typeof v === "object") {
      const entries = Object.entries(v).sort(([a], [b]) => Buffer.compare(utf8(a), utf8(b)))
      chunks.push(lengthHead(entries.length, [16, 0x80], [[2, 0xde], [4, 0xdf]]))
      for (const [k, item] of entries) {
        str(k)
        walk(item)
      }
    } else throw new Error(`not a cty value: ${String(v)}`)
  }
  walk(value)
  return new Uint8Array(Buffer.concat(chunks))
}
