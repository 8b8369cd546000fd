/**
 * Human sizes as docker/go-units `RAMInBytes` reads them (the original driver's `shm_size`): a decimal number,
 * an optional space, an optional unit k/m/g/t/p (any case, binary: k = 1024) optionally followed by `b` or `ib`,
 * or a bare `b`. "128M", "1g", "512k", "1.5GiB", "1048576" are all valid.
 */
import { Either } from "effect"

const sizePattern = /^(\d+(?:\.\d+)?|\.\d+) ?(?:([kmgtp])(?:i?b)?|b)?$/i

const multiplier: Readonly<Record<string, number>> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5
}

/** Bytes (truncated to a whole number, as Go's int64 conversion does), or the go-units error text. */
export const ramInBytes = (size: string): Either.Either<number, string> => {
  const match = sizePattern.exec(size)
  if (match === null) return Either.left(`invalid size: '${size}'`)
  const value = Number(match[1])
  const unit = match[2]?.toLowerCase()
  const bytes = Math.trunc(unit === undefined ? value : value * multiplier[unit]!)
  return Number.isSafeInteger(bytes) ? Either.right(bytes) : Either.left(`invalid size: '${size}' is too large`)
}
