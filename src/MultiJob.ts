/**
 * The coordinator's side of a many-object source: the plan over the listed objects (`MultiPlan`)
 * turned into one `MultiChunkTask` per chunk, with the object list written once beside the
 * outputs when a chunk's objects would not travel inline, and the resolved boundaries that
 * `split` reports without `--out` (over the objects' stored bytes taken in order).
 */
import * as Effect from "effect/Effect"
import { Boundary } from "./Boundary.js"
import type { ChunkAction } from "./ChunkTask.js"
import { firstEndingAfter } from "./MultiPlan.js"
import type { MultiPlan } from "./MultiPlan.js"
import { MultiChunkTask, sliceOf, taskObjects, writeList } from "./MultiTask.js"
import type { WrittenList } from "./MultiTask.js"
import type { ObjectUri } from "./ObjectUri.js"
import type { Decompress, SourceObject } from "./SourceSet.js"
import { versionOf } from "./SourceSet.js"
import { fanOut } from "./FanOut.js"

/** A task's objects travel inline up to this many encoded bytes (Lambda takes 256 KiB). */
export const INLINE_BYTES = 64 * 1024

/** Below this many objects a chunk's slice always fits inline (an S3 key is at most 1 KiB). */
const SURELY_INLINE = 16

export interface MultiTaskOptions {
  readonly lookahead: number
  readonly action: ChunkAction
  /** Where chunk `index` of `chunks` writes its output. */
  readonly outputOf: (index: number, chunks: number) => ObjectUri
  /** Where the object list is written if some chunk's objects do not fit inline. */
  readonly listAt: ObjectUri
  readonly inlineBytes?: number
  /** The tasks' `decompress` (`auto`: whole objects are gunzipped when their GET says gzip); default `none`. */
  readonly decompress?: Decompress
}

/** True when `multiTasks` writes the object list: some chunk may hold too many objects to carry inline. */
export const needsList = (multi: MultiPlan): boolean =>
  multi.approx.some((_, index) => sliceOf(multi, index).count > SURELY_INLINE)

/**
 * One task per chunk of `multi` (the plan of `objects`), in chunk order. When some chunk's
 * objects encode to more than `inlineBytes`, the object list is first written to `listAt`
 * (one put and one HEAD, retried) and those chunks name their lines of it; `list` is then
 * that list, for the caller to remove when the job ends. Fails with the store's errors.
 */
export const multiTasks = (objects: ReadonlyArray<SourceObject>, multi: MultiPlan, options: MultiTaskOptions) =>
  Effect.gen(function*() {
    const slices = multi.approx.map((_, index) => sliceOf(multi, index))
    const inlineBytes = options.inlineBytes ?? INLINE_BYTES
    const list: WrittenList | undefined = needsList(multi) ? yield* writeList(options.listAt, objects) : undefined
    const chunks = slices.length
    const tasks = slices.map((slice, index) =>
      new MultiChunkTask({
        index,
        objects: taskObjects(objects, slice.first, slice.count, list, inlineBytes),
        approx: slice.approx,
        lookahead: options.lookahead,
        action: options.action,
        output: options.outputOf(index, chunks),
        chunks,
        ...(options.decompress === "auto" ? { decompress: "auto" as const } : {})
      })
    )
    return { tasks, list }
  })

/**
 * Each chunk's resolved start over the objects' stored bytes taken in order (`[0, S)`), for
 * `split` without `--out`: the first position at or after its cut point `a_i` where a line of
 * a plain object starts, or an object starts (a compressed object is owned whole by the chunk
 * that holds its first byte), or S. One `alignUp` (windowed reads, pinned to the listed ETag)
 * per cut point inside a plain object; none otherwise. Chunk 0 starts at 0.
 */
export const multiBoundaries = (
  objects: ReadonlyArray<SourceObject>,
  multi: MultiPlan,
  options: { readonly lookahead: number; readonly concurrency: number }
) =>
  Effect.flatMap(Boundary, (boundary) =>
    fanOut(multi.approx, (range) => {
      const x = range.start
      if (x === 0 || x >= multi.size) return Effect.succeed(Math.min(x, multi.size))
      const j = firstEndingAfter(multi.offsets, x)
      const origin = multi.offsets[j]!
      const object = objects[j]!
      if (x === origin) return Effect.succeed(x)
      if (object.compressed) return Effect.succeed(origin + object.size)
      return Effect.map(
        boundary.alignUp(object.uri, versionOf(object), x - origin, { lookahead: options.lookahead }),
        (at) => origin + at
      )
    }, options.concurrency))
