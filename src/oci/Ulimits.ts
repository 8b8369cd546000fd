/**
 * The `ulimit` option (new; Docker's names and value syntax): `{ nofile = "65536:65536", nproc = "4096",
 * memlock = "unlimited" }` → `process.rlimits`. Names are go-units' (case-insensitive, `RLIMIT_` prefix optional);
 * a value is `soft:hard` or one value for both, each a whole number, `unlimited` or -1 (RLIM_INFINITY).
 */
import { Either } from "effect"
import type { Rlimit } from "./RuntimeSpec.js"
import { type SpecError, specError } from "./SpecError.js"

/** RLIM_INFINITY (2^64 − 1), written exactly by SpecJson. */
export const rlimInfinity = 18446744073709551615n

export const ulimitNames: ReadonlyArray<string> = [
  "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio",
  "rttime", "sigpending", "stack"
]

/** A limit; "TooLarge" for a number no rlimit can hold (it must not turn into RLIM_INFINITY). */
const parseValue = (text: string): number | bigint | "TooLarge" | undefined => {
  const t = text.trim().toLowerCase()
  if (t === "unlimited" || t === "-1") return rlimInfinity
  if (!/^\d+$/.test(t)) return undefined
  const n = BigInt(t)
  if (n > rlimInfinity) return "TooLarge"
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
}

const asBigInt = (v: number | bigint): bigint => (typeof v === "bigint" ? v : BigInt(v))

/** One rlimit per entry, sorted by name (records have no meaningful order). */
export const parseUlimits = (
  ulimit: Readonly<Record<string, string>>
): Either.Either<ReadonlyArray<Rlimit>, SpecError> =>
  Either.all(
    Object.keys(ulimit)
      .sort()
      .map((key): Either.Either<Rlimit, SpecError> => {
        const raw = ulimit[key]!
        const name = key.trim().toLowerCase().replace(/^rlimit_/, "")
        if (!ulimitNames.includes(name)) {
          return Either.left(
            specError("InvalidUlimit", `unknown ulimit ${JSON.stringify(key)}; valid names are ${ulimitNames.join(", ")}`)
          )
        }
        const parts = raw.split(":")
        const soft = parts.length <= 2 ? parseValue(parts[0]!) : undefined
        const hard = parts.length === 2 ? parseValue(parts[1]!) : parts.length === 1 ? soft : undefined
        if (soft === "TooLarge" || hard === "TooLarge") {
          return Either.left(
            specError(
              "InvalidUlimit",
              `invalid ulimit ${key} = ${JSON.stringify(raw)}: a limit is at most ${rlimInfinity} (2^64 − 1); ` +
                `write "unlimited" for no limit`
            )
          )
        }
        if (soft === undefined || hard === undefined) {
          return Either.left(
            specError(
              "InvalidUlimit",
              `invalid ulimit ${key} = ${JSON.stringify(raw)}: expected "soft:hard" or one value for both, ` +
                `each a whole number or "unlimited", e.g. "65536:65536"`
            )
          )
        }
        if (asBigInt(soft) > asBigInt(hard)) {
          return Either.left(
            specError("InvalidUlimit", `invalid ulimit ${key} = ${JSON.stringify(raw)}: the soft limit is above the hard limit`)
          )
        }
        return Either.right({ type: `RLIMIT_${name.toUpperCase()}`, hard, soft })
      })
  )

/** Replaces same-type rlimits in place (e.g. the default RLIMIT_NOFILE 1024) and appends the rest. */
export const mergeRlimits = (rlimits: ReadonlyArray<Rlimit>, additions: ReadonlyArray<Rlimit>): ReadonlyArray<Rlimit> => {
  const result = [...rlimits]
  for (const rlimit of additions) {
    const at = result.findIndex((r) => r.type === rlimit.type)
    if (at >= 0) result[at] = rlimit
    else result.push(rlimit)
  }
  return result
}
