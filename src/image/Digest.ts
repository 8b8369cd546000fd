/**
 * Content digests (`algorithm:hex`) as used by OCI descriptors and image references: parsing, validation and
 * incremental verification of bytes against a descriptor's digest and size.
 */
import { createHash, type Hash } from "node:crypto"
import { Option } from "effect"

/** The algorithms go-digest accepts, with the hex length each must have. */
const hexLengthByAlgorithm: Readonly<Record<string, number>> = {
  sha256: 64,
  sha384: 96,
  sha512: 128
}

export interface ParsedDigest {
  readonly algorithm: "sha256" | "sha384" | "sha512"
  readonly hex: string
}

const algorithmPattern = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/
const hexPattern = /^[a-fA-F0-9]{32,}$/

/** Grammar check only (`algorithm:hex`, hex ≥ 32): what the reference grammar accepts before algorithm checks. */
export const isWellFormed = (digest: string): boolean => {
  const colon = digest.indexOf(":")
  if (colon < 0) return false
  return algorithmPattern.test(digest.slice(0, colon)) && hexPattern.test(digest.slice(colon + 1))
}

/** A digest with a supported algorithm and lowercase hex of exactly the algorithm's length. */
export const parse = (digest: string): Option.Option<ParsedDigest> => {
  const colon = digest.indexOf(":")
  if (colon < 0) return Option.none()
  const algorithm = digest.slice(0, colon)
  const hex = digest.slice(colon + 1)
  const length = hexLengthByAlgorithm[algorithm]
  if (length === undefined || hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return Option.none()
  return Option.some({ algorithm: algorithm as ParsedDigest["algorithm"], hex })
}

/** `sha256:<hex>` of the given bytes (or of another supported algorithm). */
export const of = (bytes: Uint8Array, algorithm: ParsedDigest["algorithm"] = "sha256"): string =>
  `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`

/** Outcome of checking content against an expected digest and size. */
export type Verdict =
  | { readonly _tag: "Match" }
  | { readonly _tag: "SizeMismatch"; readonly expected: number; readonly actual: number }
  | { readonly _tag: "DigestMismatch"; readonly expected: string; readonly actual: string }

/**
 * Incremental verifier: feed chunks with `update`; `update` reports an overrun as soon as more bytes than expected
 * arrive (so a runaway body is cut early), `finish` compares size and digest once the body has ended.
 */
export interface Verifier {
  readonly update: (chunk: Uint8Array) => Option.Option<Verdict>
  readonly finish: () => Verdict
}

export const verifier = (expected: ParsedDigest, expectedSize: number): Verifier => {
  const hash: Hash = createHash(expected.algorithm)
  let seen = 0
  return {
    update: (chunk) => {
      seen += chunk.byteLength
      if (seen > expectedSize) {
        return Option.some({ _tag: "SizeMismatch", expected: expectedSize, actual: seen })
      }
      hash.update(chunk)
      return Option.none()
    },
    finish: () => {
      if (seen !== expectedSize) return { _tag: "SizeMismatch", expected: expectedSize, actual: seen }
      const actual = `${expected.algorithm}:${hash.digest("hex")}`
      const wanted = `${expected.algorithm}:${expected.hex}`
      return actual === wanted ? { _tag: "Match" } : { _tag: "DigestMismatch", expected: wanted, actual }
    }
  }
}

/** Verifies a complete buffer in one go. */
export const verify = (bytes: Uint8Array, expected: ParsedDigest, expectedSize: number): Verdict => {
  const v = verifier(expected, expectedSize)
  const early = v.update(bytes)
  return Option.isSome(early) ? early.value : v.finish()
}
