/**
 * One many-object chunk as it travels to a worker, small whatever the number of objects: the
 * task names its objects inline when they are few, or as a slice of the run's object list
 * (one JSON line per object, written once to the work prefix and pinned by its ETag) when they
 * are many; its approximate range is given in the coordinates of its own objects. The worker
 * recomputes its pieces with the same pure `MultiPlan.piecesIn`, so the coordinator and the
 * worker cannot disagree on a cut.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ByteRange } from "./ByteRange.js"
import { ChunkAction, ChunkTask } from "./ChunkTask.js"
import type { ReadError } from "./Errors.js"
import { IntegrityError } from "./Errors.js"
import type { MultiPlan, Piece } from "./MultiPlan.js"
import { offsetsOf, piecesIn } from "./MultiPlan.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import { format, ObjectUri } from "./ObjectUri.js"
import { readRange, retrying } from "./Retry.js"
import { SourceObject } from "./SourceSet.js"
import type { Stats } from "./Stats.js"

/** The task's objects, in order, carried in the task itself. */
export class InlineObjects extends Schema.TaggedClass<InlineObjects>()("InlineObjects", {
  objects: Schema.Array(SourceObject)
}) {}

/**
 * The task's objects as lines `[first, first + count)` of the object list at `list`, which
 * occupy the half-open byte range `range` of it; read with one GET pinned to `version`.
 */
export class ListedObjects extends Schema.TaggedClass<ListedObjects>()("ListedObjects", {
  list: ObjectUri,
  version: ObjectVersion,
  first: Schema.Number,
  count: Schema.Number,
  range: Schema.Struct({ start: Schema.Number, end: Schema.Number })
}) {}

export const TaskObjects = Schema.Union(InlineObjects, ListedObjects)
export type TaskObjects = typeof TaskObjects.Type

export class MultiChunkTask extends Schema.Class<MultiChunkTask>("MultiChunkTask")({
  index: Schema.Number,
  objects: TaskObjects,
  /**
   * The approximate range `[a_i, a_{i+1})` shifted so that the task's first object starts at
   * 0 (clamped at 0): `piecesIn` of the task's objects and this range are the chunk's pieces.
   */
  approx: Schema.Struct({ start: Schema.Number, end: Schema.Number }),
  lookahead: Schema.Number,
  action: ChunkAction,
  output: ObjectUri,
  /** N, the number of chunks of the job (`S3SPLIT_CHUNKS` for an `Exec` command). */
  chunks: Schema.optional(Schema.Number),
  /**
   * `auto`: a whole object not known compressed is gunzipped when its GET answers
   * `Content-Encoding: gzip` (`PieceReader`); `none` or absent: read as stored.
   */
  decompress: Schema.optional(Schema.Literal("auto", "none"))
}) {}

/**
 * What an executor runs: a chunk of one object (`ChunkTask`) or of many (`MultiChunkTask`).
 * Neither is tagged (a `ChunkTask` encodes as it always has); they differ by their fields
 * (`source` and `version`, or `objects`).
 */
export const WorkerTask = Schema.Union(ChunkTask, MultiChunkTask)
export type WorkerTask = typeof WorkerTask.Type

/** The lines of the object list: one encoded `SourceObject` per line, and where each line starts. */
export const encodeList = (objects: ReadonlyArray<SourceObject>): { readonly bytes: Uint8Array; readonly lineStarts: ReadonlyArray<number> } => {
  const encode = Schema.encodeSync(Schema.parseJson(SourceObject))
  const lines = objects.map((object) => Buffer.from(`${encode(object)}\n`))
  const lineStarts = offsetsOf(lines.map((line) => ({ size: line.length, compressed: false })))
  return { bytes: Buffer.concat(lines), lineStarts }
}

/**
 * The objects chunk i's pieces refer to, as `[first, first + count)` of the source's list, and
 * its approximate range in the coordinates of that slice. A chunk without pieces has none.
 */
export const sliceOf = (multi: MultiPlan, i: number): { readonly first: number; readonly count: number; readonly approx: ByteRange } => {
  const pieces = multi.pieces[i]!
  if (pieces.length === 0) return { first: 0, count: 0, approx: { start: 0, end: 0 } }
  const first = pieces[0]!.object
  const count = pieces[pieces.length - 1]!.object - first + 1
  const origin = multi.offsets[first]!
  const range = multi.approx[i]!
  return { first, count, approx: { start: Math.max(0, range.start - origin), end: range.end - origin } }
}

/** Where the object list is, once written: its URI, version and line starts. */
export interface WrittenList {
  readonly uri: ObjectUri
  readonly version: ObjectVersion
  readonly lineStarts: ReadonlyArray<number>
}

/**
 * Writes the object list to `uri` (in the run's work prefix) and HEADs it for the version the
 * workers pin their reads to. Two requests, the put's parts retried by the store, the HEAD by
 * `Retry.retrying`.
 */
export const writeList = (uri: ObjectUri, objects: ReadonlyArray<SourceObject>) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const { bytes, lineStarts } = encodeList(objects)
    yield* store.put(uri, Stream.make(bytes), { contentType: "application/x-ndjson", sizeHint: bytes.length })
    const version = yield* retrying(format(uri), store.head(uri))
    return { uri, version, lineStarts } satisfies WrittenList
  })

/**
 * The objects of chunk i for its task: inline when the slice encodes to at most `inlineBytes`
 * (so that a task stays far below Lambda's 256 KiB payload), otherwise lines of `list` (which
 * must then be given: the coordinator writes it once when any chunk needs it).
 */
export const taskObjects = (
  objects: ReadonlyArray<SourceObject>,
  first: number,
  count: number,
  list: WrittenList | undefined,
  inlineBytes: number
): TaskObjects => {
  const slice = objects.slice(first, first + count)
  const inline = new InlineObjects({ objects: slice })
  if (list === undefined || count === 0) return inline
  const start = list.lineStarts[first]!
  const end = list.lineStarts[first + count]!
  if (end - start <= inlineBytes) return inline
  return new ListedObjects({ list: list.uri, version: list.version, first, count, range: { start, end } })
}

/**
 * The task's objects on the worker: inline ones as they are; listed ones read with one ranged
 * GET of the list pinned to its version (a rewritten list is `ObjectChangedError`) and
 * decoded. A list whose lines do not decode, or are not `count` in number, is `IntegrityError`.
 */
export const loadObjects = (
  objects: TaskObjects
): Effect.Effect<ReadonlyArray<SourceObject>, ReadError | IntegrityError, ObjectStore | Stats> => {
  if (objects._tag === "InlineObjects") return Effect.succeed(objects.objects)
  const where = format(objects.list)
  const broken = (reason: string) => new IntegrityError({ uri: where, reason })
  return readRange(objects.list, objects.version, objects.range).pipe(
    Stream.runCollect,
    Effect.flatMap((chunks) => {
      const text = Buffer.concat([...chunks]).toString("utf8")
      const lines = text.split("\n")
      if (lines.pop() !== "" || lines.length !== objects.count) {
        return Effect.fail(broken(`expected ${objects.count} objects in bytes ${objects.range.start}-${objects.range.end}`))
      }
      return Effect.forEach(lines, (line) =>
        Schema.decodeUnknown(Schema.parseJson(SourceObject))(line).pipe(
          Effect.mapError(() => broken(`a line of the object list does not decode: ${line.slice(0, 80)}`))
        ))
    })
  )
}

/** The pieces of a task, over the objects `loadObjects` gave: what the coordinator planned. */
export const taskPieces = (objects: ReadonlyArray<SourceObject>, approx: ByteRange): Array<Piece> =>
  piecesIn(objects, offsetsOf(objects), approx)
