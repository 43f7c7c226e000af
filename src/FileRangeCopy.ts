/**
 * The byte path of a local copy: a half-open range of one file written to a new file, fd to
 * fd, through one reused buffer, with positional reads and writes in a plain loop. No stream
 * stage, no buffer per piece: the loop costs what `read(2)` and `write(2)` cost. The loop runs
 * inside one Effect; interrupting it stops the loop after the read or write in flight, and
 * both files are closed before the interruption completes. `copyIntoPlace` is the whole local
 * part in that one Effect (the source's version checked on its open file, the directory made,
 * the bytes copied to a temporary file renamed into place, that file removed on any failure),
 * so a chunk costs a handful of system calls and no Effect step per call.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Stats as FileStats } from "node:fs"
import type { FileHandle } from "node:fs/promises"
import { mkdir, open, rename, rm } from "node:fs/promises"
import * as NodePath from "node:path"
import type { ByteRange } from "./ByteRange.js"

/**
 * The size of the one buffer of a copy (smaller for a smaller range). Measured on 1 GiB: 256 KiB
 * costs about a third of the system time of 1 MiB (the buffer stays in the CPU's cache between
 * the read and the write), and less user time than 64 or 128 KiB (fewer calls).
 */
export const COPY_BUFFER_SIZE = 256 * 1024

/** Progress is reported once this many bytes are written (and at the end), not per buffer. */
const PROGRESS_STEP = 4 * COPY_BUFFER_SIZE

/**
 * A copy that could not finish: a system call failed on one `side` (`code` is its errno name,
 * when it has one), the source ended before the range did (`endedAt`, the source side), or the
 * source is no longer the version asked for (`changedTo`, the ETag it has now).
 */
export class FileCopyError extends Data.TaggedError("FileCopyError")<{
  readonly side: "source" | "target"
  readonly code: string | undefined
  readonly reason: string
  readonly endedAt?: number
  readonly changedTo?: string
}> {}

/** How to copy: progress reports, and the source version the bytes must come from. */
export interface CopyOptions {
  /** Counts of bytes written, at least once per 1 MiB and once at the end. */
  readonly progress?: ((bytes: number) => void) | undefined
  /**
   * The source's expected ETag and how to compute one from `fstat` of the open source. It is
   * checked before the first byte is read and after the last one (and when the source ends
   * early): any difference fails the copy with `changedTo`, so no byte of another version is
   * ever kept.
   */
  readonly version?: { readonly etag: string; readonly etagOf: (stats: FileStats) => string } | undefined
}

const failure = (side: "source" | "target") => (error: unknown): FileCopyError => {
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined
  return new FileCopyError({ side, code, reason: error instanceof Error ? error.message : String(error) })
}

/** Runs `f` on the file opened at `path` with `flags`, and closes it however `f` ends. */
const withFile = async <A>(
  path: string,
  flags: string,
  side: "source" | "target",
  f: (handle: FileHandle) => Promise<A>
): Promise<A> => {
  const handle = await open(path, flags).catch((error) => Promise.reject(failure(side)(error)))
  try {
    return await f(handle)
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** The loop: read up to one buffer at the source position, write all of it at the target position. */
const copyLoop = async (
  source: FileHandle,
  target: FileHandle,
  range: ByteRange,
  progress: ((bytes: number) => void) | undefined,
  stopped: () => boolean,
  checkVersion: () => Promise<void>
): Promise<void> => {
  const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(COPY_BUFFER_SIZE, range.end - range.start)))
  let position = range.start
  let unreported = 0
  while (position < range.end && !stopped()) {
    const wanted = Math.min(buffer.length, range.end - position)
    const { bytesRead } = await source.read(buffer, 0, wanted, position).catch((error) => Promise.reject(failure("source")(error)))
    if (bytesRead === 0) {
      // A source shorter than its version is another version: say so when it is.
      await checkVersion()
      throw new FileCopyError({ side: "source", code: undefined, reason: `the file ended at byte ${position}`, endedAt: position })
    }
    // A write may take fewer bytes than given: write the rest before reading on.
    let written = 0
    while (written < bytesRead) {
      const { bytesWritten } = await target.write(buffer, written, bytesRead - written, position - range.start + written).catch((
        error
      ) => Promise.reject(failure("target")(error)))
      written += bytesWritten
    }
    position += bytesRead
    unreported += bytesRead
    if (progress !== undefined && (unreported >= PROGRESS_STEP || position >= range.end)) {
      progress(unreported)
      unreported = 0
    }
  }
  if (!stopped()) await checkVersion()
}

/** Fails with `changedTo` unless the open `source` is the `version` asked for (none: no check). */
const versionCheck = (source: FileHandle, version: CopyOptions["version"]) => async (): Promise<void> => {
  if (version === undefined) return
  const stats = await source.stat().catch((error) => Promise.reject(failure("source")(error)))
  const etag = version.etagOf(stats)
  if (etag !== version.etag) {
    throw new FileCopyError({ side: "source", code: undefined, reason: `it changed (ETag ${etag}, expected ${version.etag})`, changedTo: etag })
  }
}

/** Runs `copy` as one Effect: interruption stops it after the call in flight and waits until it has cleaned up. */
const asEffect = (copy: (stopped: () => boolean) => Promise<void>): Effect.Effect<void, FileCopyError> =>
  Effect.async<void, FileCopyError>((resume) => {
    let stopped = false
    const settled = copy(() => stopped).then(
      () => {
        if (!stopped) resume(Effect.void)
      },
      (error: unknown) => {
        if (!stopped) resume(Effect.fail(error instanceof FileCopyError ? error : failure("target")(error)))
      }
    )
    return Effect.promise(() => {
      stopped = true
      return settled
    })
  })

/** A name beside `path` for writing it before it is renamed into place. */
export const temporaryFor = (path: string) => `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`

/**
 * Writes the bytes `[range.start, range.end)` of the file at `from` to the file at `to`: the
 * directory of `to` made (with its parents), the bytes written to a fresh temporary file beside
 * `to` and renamed over it once the source's version has been checked after the last byte, so
 * `to` is either its old self or the whole new range, never written in place.
 * `options.progress` gets the counts of bytes written, at least once per 1 MiB and once at the
 * end (so on success they add up to the range's length); `options.version` is checked on the
 * open source before anything is written (a changed source writes nothing, not even the
 * directory) and after the last byte. Fails with `FileCopyError`: a source shorter than the
 * range with `endedAt` set, another version with `changedTo`, a failed `mkdir` or `rename` on
 * the target side. On failure or interruption the temporary file is removed and both files
 * are closed before the Effect ends, and `to` is untouched.
 */
export const copyIntoPlace = (
  from: string,
  to: string,
  range: ByteRange,
  options: CopyOptions = {}
): Effect.Effect<void, FileCopyError> =>
  asEffect((stopped) =>
    withFile(from, "r", "source", async (source) => {
      const checkVersion = versionCheck(source, options.version)
      await checkVersion()
      await mkdir(NodePath.dirname(to), { recursive: true }).catch((error) => Promise.reject(failure("target")(error)))
      const temporary = temporaryFor(to)
      try {
        await withFile(temporary, "wx", "target", (target) => copyLoop(source, target, range, options.progress, stopped, checkVersion))
        if (stopped()) throw new FileCopyError({ side: "target", code: undefined, reason: "interrupted" })
        await rename(temporary, to).catch((error) => Promise.reject(failure("target")(error)))
      } catch (error) {
        await rm(temporary, { force: true }).catch(() => undefined)
        throw error
      }
    })
  )
