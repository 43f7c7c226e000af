/**
 * Byte sizes as people type them: `1048576`, `64KiB`, `16MiB`, `1GiB`, `10MB` (KB/MB/GB are
 * read as 1000-based, KiB/MiB/GiB as 1024-based, `K`/`M`/`G` alone as 1024-based).
 */
import * as Either from "effect/Either"
import { UsageError } from "./Errors.js"

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4
}

/** Parses a size of at least `min` bytes; `what` names the option in the error. */
export const parseSize = (text: string, what: string, min = 1): Either.Either<number, UsageError> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = match === null ? undefined : UNITS[match[2]!.toLowerCase()]
  const bytes = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit
  if (!Number.isSafeInteger(bytes) || bytes < min) {
    return Either.left(
      new UsageError({ reason: `${what} must be a whole number of bytes of at least ${min}, with an optional unit (KiB, MiB, GiB, KB, MB, GB); got "${text}"` })
    )
  }
  return Either.right(bytes)
}

/** Parses a whole number from 1 to `max` (a count). */
export const parseCount = (text: string, what: string, max = Number.MAX_SAFE_INTEGER): Either.Either<number, UsageError> => {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value) || value < 1) {
    return Either.left(new UsageError({ reason: `${what} must be a whole number of at least 1; got "${text}"` }))
  }
  return value <= max
    ? Either.right(value)
    : Either.left(new UsageError({ reason: `${what} must be at most ${max}; got ${text.trim()}` }))
}

/** A size for people: `1.5 GiB`. */
export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
