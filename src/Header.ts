/**
 * The object's header (`run --header N`): its first N lines, read once by the coordinator and
 * carried in every task, so that each chunk's command reads them before the chunk's own lines
 * while the plan covers only the bytes after them. No worker reads them again.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { UsageError } from "./Errors.js"
import { NEWLINE } from "./LineCut.js"
import type { ObjectVersion } from "./ObjectStore.js"
import type { ObjectUri } from "./ObjectUri.js"
import { readRange } from "./Retry.js"
import { formatBytes } from "./Size.js"

/**
 * The most header bytes a run takes. Every task carries the header (base64 in a Lambda
 * event, whose synchronous payload is limited to 6 MB), so it is kept well below that.
 */
export const MAX_BYTES = 1024 * 1024

/** The first read; each further one doubles what has been read, up to `MAX_BYTES` in all. */
const FIRST_WINDOW = 64 * 1024

/** Parses `--header N`: a whole number of lines, 0 (no header) or more. */
export const parseLines = (text: string): Either.Either<number, UsageError> => {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  return Number.isSafeInteger(value)
    ? Either.right(value)
    : Either.left(new UsageError({ reason: `--header must be a whole number of lines (0 or more); got "${text}"` }))
}

/** The end of the `lines`-th line in `bytes` (one past its newline), or undefined when `bytes` holds fewer. */
const endOfLine = (bytes: Uint8Array, lines: number): number | undefined => {
  let at = 0
  for (let line = 0; line < lines; line++) {
    const newline = bytes.indexOf(NEWLINE, at)
    if (newline === -1) return undefined
    at = newline + 1
  }
  return at
}

/**
 * The first `lines` lines of the object `version` at `uri`, newlines included: `[0, end)`
 * where `end` is one past the `lines`-th newline, or the whole object when it has fewer lines.
 * Empty for 0 lines or an empty object, with no request. Reads from byte 0 in windows (64 KiB,
 * then doubling) with `Retry.readRange`, never past `maxBytes`; a header longer than
 * `maxBytes` fails with `UsageError`.
 */
export const read = (uri: ObjectUri, version: ObjectVersion, lines: number, maxBytes = MAX_BYTES) =>
  Effect.gen(function*() {
    const limit = Math.min(version.size, maxBytes)
    let bytes: Uint8Array = new Uint8Array(0)
    while (lines > 0 && bytes.length < limit) {
      const end = Math.min(limit, Math.max(FIRST_WINDOW, bytes.length * 2))
      const window = yield* Stream.runCollect(readRange(uri, version, { start: bytes.length, end }))
      bytes = Buffer.concat([bytes, ...Chunk.toReadonlyArray(window)])
      const found = endOfLine(bytes, lines)
      if (found !== undefined) return bytes.subarray(0, found)
    }
    if (lines > 0 && limit < version.size) {
      return yield* new UsageError({
        reason: `--header ${lines}: the first ${lines} line${lines === 1 ? " is" : "s are"} longer than ${
          formatBytes(maxBytes)
        }, the most a header may be (every task carries it)`
      })
    }
    return bytes
  })
