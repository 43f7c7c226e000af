/**
 * The coordinator of `split`: one HEAD (or, for many objects, their listing), the plan
 * (arithmetic only), then either the resolved boundaries (windowed reads, no chunk bodies) or
 * every chunk streamed to a destination by the executor, with the manifest committed last and
 * the parts removed again on any failure.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Boundary } from "./Boundary.js"
import type { ByteRange } from "./ByteRange.js"
import { ChunkTask, CopyAction } from "./ChunkTask.js"
import type { ChunkResult } from "./ChunkTask.js"
import { IntegrityError } from "./Errors.js"
import { Executor } from "./Executor.js"
import { fanOut } from "./FanOut.js"
import { ChunkRow, isPartName, Manifest, MANIFEST_NAME, partName } from "./Manifest.js"
import { multiBoundaries, multiTasks, needsList } from "./MultiJob.js"
import { planObjects } from "./MultiPlan.js"
import type { WorkerTask } from "./MultiTask.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectVersion } from "./ObjectStore.js"
import * as ObjectUri from "./ObjectUri.js"
import { plan } from "./Planner.js"
import type { PlanSpec } from "./Planner.js"
import { retrying } from "./Retry.js"
import type { Decompress, SourceObject } from "./SourceSet.js"

export interface SplitOptions {
  readonly source: ObjectUri.ObjectUri
  readonly spec: PlanSpec
  /** A destination directory or prefix for the parts; none to resolve boundaries only. */
  readonly out: ObjectUri.ObjectUri | undefined
  readonly concurrency: number | undefined
  readonly lookahead: number
}

export interface SplitReport {
  readonly version: ObjectVersion
  readonly rows: ReadonlyArray<ChunkRow>
}

/** The default concurrency: one worker per chunk, at most 16. */
export const defaultConcurrency = (chunks: number) => Math.max(1, Math.min(chunks, 16))

const toRows = (approx: ReadonlyArray<ByteRange>, starts: ReadonlyArray<number>, size: number) =>
  approx.map((range, index) => {
    const start = starts[index]!
    const end = index + 1 < starts.length ? starts[index + 1]! : size
    return new ChunkRow({ index, approxStart: range.start, approxEnd: range.end, start, end, bytes: end - start })
  })

/** The HEAD of the source, with retries. */
export const headSource = (source: ObjectUri.ObjectUri) =>
  Effect.flatMap(ObjectStore, (store) => retrying(ObjectUri.format(source), store.head(source)))

/**
 * Resolves every boundary: `alignUp` of each interior cut point (chunk 0 starts at 0, and the
 * end of each chunk is the start of the next, so neighbours agree by construction).
 */
const resolveBoundaries = (options: SplitOptions, version: ObjectVersion, approx: ReadonlyArray<ByteRange>) =>
  Effect.flatMap(Boundary, (boundary) =>
    fanOut(
      approx,
      (range) => boundary.alignUp(options.source, version, range.start, { lookahead: options.lookahead }),
      options.concurrency ?? defaultConcurrency(approx.length)
    ))

/**
 * The parts of earlier splits in `out`: its direct children named like parts that are not
 * among `keep` (the formatted URIs of this run's parts).
 */
const staleParts = (out: ObjectUri.ObjectUri, keep: ReadonlySet<string>) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const listed = yield* retrying(ObjectUri.format(out), store.list(out))
    return listed.filter((object) => {
      const name = ObjectUri.nameIn(out, object.uri)
      return name !== undefined && isPartName(name) && !keep.has(ObjectUri.format(object.uri))
    }).map((object) => object.uri)
  })

/** Where each chunk starts among the parts: the parts tile the output, so each starts where the ones before end. */
const partStarts = (results: ReadonlyArray<ChunkResult>) => {
  let offset = 0
  return results.map((result) => {
    const start = offset
    offset += result.bytesIn
    return start
  })
}

/**
 * Streams every chunk (`tasks`, one per part) to its output in `out`, then commits
 * `out/_manifest.json` as `describe` makes it from the chunks' results (and fails as it does,
 * e.g. `IntegrityError`). DEST ends holding exactly this run's set: on success its parts and
 * manifest (parts of an earlier split that this one did not replace are removed before the
 * manifest is written); on failure no manifest and none of its parts.
 */
const commitParts = <E>(
  out: ObjectUri.ObjectUri,
  tasks: ReadonlyArray<WorkerTask>,
  concurrency: number | undefined,
  describe: (results: ReadonlyArray<ChunkResult>) => Effect.Effect<Manifest, E>
) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const executor = yield* Executor
    const manifestUri = ObjectUri.child(out, MANIFEST_NAME)
    const remove = (uri: ObjectUri.ObjectUri) => retrying(ObjectUri.format(uri), store.remove(uri))
    const discardParts = Effect.forEach(tasks, (task) => Effect.ignore(remove(task.output)), { concurrency: 8, discard: true })
    // A manifest from an earlier run would vouch for parts this run is about to replace.
    yield* remove(manifestUri)
    return yield* Effect.gen(function*() {
      const results = yield* fanOut(tasks, executor.execute, concurrency ?? defaultConcurrency(tasks.length))
      const manifest = yield* describe(results)
      const stale = yield* staleParts(out, new Set(tasks.map((task) => ObjectUri.format(task.output))))
      yield* Effect.forEach(stale, remove, { concurrency: 8, discard: true })
      const json = JSON.stringify(Schema.encodeSync(Manifest)(manifest), null, 2) + "\n"
      yield* retrying(
        ObjectUri.format(manifestUri),
        store.put(manifestUri, Stream.make(new TextEncoder().encode(json)), { contentType: "application/json" })
      )
    }).pipe(Effect.onError(() => discardParts))
  })

/** Streams every chunk of one object to `out/part-NNNNN` (`commitParts`); the rows of its manifest. */
const writeParts = (options: SplitOptions, out: ObjectUri.ObjectUri, version: ObjectVersion, approx: ReadonlyArray<ByteRange>) => {
  const tasks = approx.map((range, index) =>
    new ChunkTask({
      index,
      source: options.source,
      version,
      approx: range,
      lookahead: options.lookahead,
      action: new CopyAction(),
      output: ObjectUri.child(out, partName(index, approx.length))
    })
  )
  let rows: ReadonlyArray<ChunkRow> = []
  return commitParts(out, tasks, options.concurrency, (results) => {
    const total = results.reduce((sum, result) => sum + result.bytesIn, 0)
    if (total !== version.size) {
      return Effect.fail(
        new IntegrityError({
          uri: ObjectUri.format(options.source),
          reason: `the chunks hold ${total} bytes, the object ${version.size}`
        })
      )
    }
    rows = toRows(approx, partStarts(results), version.size)
    return Effect.succeed(
      new Manifest({
        source: ObjectUri.format(options.source),
        size: version.size,
        etag: version.etag,
        ...(version.versionId === undefined ? {} : { versionId: version.versionId }),
        chunks: rows.length,
        parts: rows.map((row) => ({ ...row, name: partName(row.index, rows.length) }))
      })
    )
  }).pipe(Effect.map(() => rows))
}

/** Runs a split of the source `version` (from `headSource`) and reports every chunk's ranges. */
export const split = (options: SplitOptions, version: ObjectVersion) =>
  Effect.gen(function*() {
    const approx = plan(version.size, options.spec)
    const rows = options.out === undefined
      ? toRows(approx, yield* resolveBoundaries(options, version, approx), version.size)
      : yield* writeParts(options, options.out, version, approx)
    return { version, rows } satisfies SplitReport
  })

export interface MultiSplitOptions {
  /** The SOURCE arguments as given (the manifest's `source`). */
  readonly sources: ReadonlyArray<string>
  readonly spec: PlanSpec
  readonly out: ObjectUri.ObjectUri | undefined
  readonly concurrency: number | undefined
  readonly lookahead: number
  /** `auto`: whole objects whose GET answers `Content-Encoding: gzip` are gunzipped too; default `none`. */
  readonly decompress?: Decompress
}

/** The name of the object list a split of many objects writes beside its parts while it runs. */
export const OBJECT_LIST_NAME = "_objects.ndjson"

/**
 * Runs a split of many objects (`SourceSet.resolve`, in order): the plan over their stored
 * bytes taken in order (`MultiPlan`). Without `out`, every chunk's resolved range over those
 * stored bytes (`MultiJob.multiBoundaries`; `size` is their total). With `out`, the parts are
 * written as `split` of one object writes them, each the lines of its pieces (gzip objects
 * gunzipped); the rows' `start`/`end` are over the parts' bytes, `size` their total, and the
 * manifest lists the objects and each part's pieces (an object gunzipped because its GET said
 * `Content-Encoding: gzip` keeps `compressed: false` there: the plan did not know). The chunks
 * of a source with no gzip object (none known, none found by a GET) must hold exactly its
 * bytes, or the split fails with `IntegrityError`. An object list
 * written for the workers (`out/_objects.ndjson`) is removed whatever the ending.
 */
export const splitMulti = (options: MultiSplitOptions, objects: ReadonlyArray<SourceObject>) =>
  Effect.gen(function*() {
    const multi = planObjects(objects, options.spec)
    const concurrency = options.concurrency ?? defaultConcurrency(multi.approx.length)
    const out = options.out
    if (out === undefined) {
      const starts = yield* multiBoundaries(objects, multi, { lookahead: options.lookahead, concurrency })
      return { size: multi.size, rows: toRows(multi.approx, starts, multi.size) }
    }
    const store = yield* ObjectStore
    const listAt = ObjectUri.child(out, OBJECT_LIST_NAME)
    let rows: ReadonlyArray<ChunkRow> = []
    let size = 0
    yield* Effect.gen(function*() {
      const { tasks } = yield* multiTasks(objects, multi, {
        lookahead: options.lookahead,
        action: new CopyAction(),
        outputOf: (index, chunks) => ObjectUri.child(out, partName(index, chunks)),
        listAt,
        ...(options.decompress === undefined ? {} : { decompress: options.decompress })
      })
      yield* commitParts(out, tasks, options.concurrency, (results) => {
        size = results.reduce((sum, result) => sum + result.bytesIn, 0)
        const gunzipped = objects.some((object) => object.compressed) || results.some((result) => (result.gunzipped ?? 0) > 0)
        if (!gunzipped && size !== multi.size) {
          return Effect.fail(
            new IntegrityError({ uri: options.sources.join(" "), reason: `the chunks hold ${size} bytes, the objects ${multi.size}` })
          )
        }
        rows = toRows(multi.approx, partStarts(results), size)
        return Effect.succeed(
          new Manifest({
            source: options.sources.join(" "),
            size,
            chunks: rows.length,
            objects: objects.map((object) => ({
              uri: ObjectUri.format(object.uri),
              size: object.size,
              etag: object.etag,
              ...(object.versionId === undefined ? {} : { versionId: object.versionId }),
              compressed: object.compressed
            })),
            parts: rows.map((row) => ({
              ...row,
              name: partName(row.index, rows.length),
              pieces: multi.pieces[row.index]!.map((piece) => ({
                object: piece.object,
                start: piece.range.start,
                end: piece.range.end,
                alignStart: piece.alignStart,
                alignEnd: piece.alignEnd,
                compressed: piece.compressed
              }))
            }))
          })
        )
      })
    }).pipe(needsList(multi) ? Effect.ensuring(Effect.ignore(retrying(ObjectUri.format(listAt), store.remove(listAt)))) : (effect) => effect)
    return { size, rows }
  })
