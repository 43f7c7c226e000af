/**
 * Merges of sorted outputs by `sort -m` with the chunk command's own ordering flags, streamed
 * from sort's stdout: `sort` outputs, and `sort | uniq [-c]` outputs, whose equal lines can
 * meet anywhere in the merged order. `sort -m` runs with the environment the chunk commands
 * ran in (plus the command's own `NAME=value` prefixes), so that it collates as they did, and
 * it is stable across files (a tie goes to the earlier output), as a sequential stable sort is.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { ChunkOutputs } from "./ChunkOutputs.js"
import { MergeError } from "./Errors.js"
import { reader, sameBytes, splitLines } from "./Lines.js"
import type { Reader } from "./Lines.js"
import { commandOutput, outputFiles } from "./MergeCommand.js"
import type { Counted } from "./MergeLines.js"
import { countedLines, formatCounted } from "./MergeLines.js"
import { writeAll } from "./WritableSink.js"

/** The environment with `NAME=value` assignments applied. */
const withAssignments = (env: NodeJS.ProcessEnv, assignments: ReadonlyArray<string>): NodeJS.ProcessEnv => ({
  ...env,
  ...Object.fromEntries(assignments.map((assignment) => {
    const eq = assignment.indexOf("=")
    return [assignment.slice(0, eq), assignment.slice(eq + 1)]
  }))
})

const sortLabel = (flags: ReadonlyArray<string>) => ["sort", "-m", ...flags].join(" ")

/** `sort -m FLAGS -- FILE...` over `files`, its stdout. */
const sortFiles = (files: ReadonlyArray<string>, flags: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  commandOutput("sort", ["-m", ...flags, "--", ...files], { env, label: sortLabel(flags) })

/**
 * Outputs of `sort FLAGS` merged by `sort -m FLAGS` into one sorted stream, once every chunk
 * has finished (each output as a local file). Fails with a chunk's error or, if sort fails,
 * with `MergeError`.
 */
export const sortMerge = <E>(
  outputs: ChunkOutputs<E>,
  flags: ReadonlyArray<string>,
  assignments: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv
): Stream.Stream<Uint8Array, E | MergeError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const files = yield* outputFiles(outputs)
    return yield* sortFiles(files, flags, withAssignments(env, assignments))
  }))

/** A private temporary directory, removed with everything in it when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.tryPromise({
    try: () => fsp.mkdtemp(path.join(os.tmpdir(), "s3split-merge-uniq-")),
    catch: (error) => new MergeError({ reason: `cannot create a temporary directory: ${String(error)}` })
  }),
  (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
)

/** The `uniq -c` lines of the output file `file` (chunk `index`), parsed. */
const countedIn = (file: string, index: number): Stream.Stream<Counted, MergeError> =>
  countedLines(index, splitLines(NodeStream.fromReadable(() => fs.createReadStream(file), (error) =>
    new MergeError({ index, reason: `reading its output: ${String(error)}` }))))

/** Writes the lines counted in `file` (without their counts) to `target`. */
const writeTexts = (file: string, index: number, target: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.createWriteStream(target)),
    (out) =>
      writeAll(Stream.map(countedIn(file, index), (counted) => counted.text), out, {
        end: true,
        closed: () => new MergeError({ index, reason: `cannot write a temporary file ${target}` })
      }),
    (out) => Effect.sync(() => out.destroy())
  )

/**
 * Outputs of `sort FLAGS | uniq` (or `| uniq -c` with `count`) merged: the lines in
 * `sort -m FLAGS` order, a line equal to the line before it printed once (with `count`, one
 * line with the sum of their counts, formatted as `uniq -c` does). With `count`, sort merges
 * the counted lines stripped of their counts (temporary files); each line sort prints is then
 * matched with the earliest output whose next counted line it is, which is the output sort
 * took it from, since sort prefers the earlier file on a tie.
 */
export const sortUniq = <E>(
  outputs: ChunkOutputs<E>,
  flags: ReadonlyArray<string>,
  assignments: ReadonlyArray<string>,
  count: boolean,
  env: NodeJS.ProcessEnv
): Stream.Stream<Uint8Array, E | MergeError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const files = yield* outputFiles(outputs)
    const sortEnv = withAssignments(env, assignments)
    if (!count) {
      let previous: Uint8Array | undefined
      return Stream.filter(splitLines(yield* sortFiles(files, flags, sortEnv)), (line) => {
        const fresh = previous === undefined || !sameBytes(previous, line)
        previous = line
        return fresh
      })
    }
    const dir = yield* tempDir
    const texts = files.map((_, index) => path.join(dir, `texts-${index}`))
    yield* Effect.forEach(files, (file, index) => writeTexts(file, index, texts[index]!), { discard: true })
    const readers: Array<Reader<Counted, MergeError>> = yield* Effect.forEach(files, (file, index) => reader(countedIn(file, index)))
    const heads: Array<Option.Option<Counted>> = yield* Effect.forEach(readers, (r) => r.next)
    const lost = new MergeError({ command: sortLabel(flags), reason: "printed a line that no output holds next" })
    let pending: Counted | undefined
    const joined = Stream.mapChunksEffect(splitLines(yield* sortFiles(texts, flags, sortEnv)), (lines) =>
      Effect.gen(function*() {
        const out: Array<Uint8Array> = []
        for (const line of lines) {
          const index = heads.findIndex((head) => Option.isSome(head) && sameBytes(head.value.text, line))
          if (index === -1) return yield* lost
          const counted = Option.getOrThrow(heads[index]!)
          // Pull (a suspension) only when the reader has nothing at hand.
          heads[index] = readers[index]!.poll() ?? (yield* readers[index]!.next)
          if (pending !== undefined && sameBytes(pending.text, counted.text)) {
            pending = { count: pending.count + counted.count, text: pending.text }
            continue
          }
          if (pending !== undefined) out.push(formatCounted(pending))
          pending = counted
        }
        return Chunk.unsafeFromArray(out)
      }))
    return Stream.concat(
      joined,
      Stream.suspend(() => pending === undefined ? Stream.empty : Stream.make(formatCounted(pending)))
    )
  }))
