/**
 * The coordinator of `split`: one HEAD, the plan (arithmetic only), then either the resolved
 * boundaries (windowed reads, no chunk bodies) or every chunk streamed to a destination by the
 * executor, with the manifest committed last and the parts removed again on any failure.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Boundary } from "./Boundary.js"
import type { ByteRange } from "./ByteRange.js"
import { ChunkTask, CopyAction } from "./ChunkTask.js"
import { IntegrityError } from "./Errors.js"
import { Executor } from "./Executor.js"
import { fanOut } from "./FanOut.js"
import { ChunkRow, isPartName, Manifest, MANIFEST_NAME, partName } from "./Manifest.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectVersion } from "./ObjectStore.js"
import * as ObjectUri from "./ObjectUri.js"
import { plan } from "./Planner.js"
import type { PlanSpec } from "./Planner.js"
import { retrying } from "./Retry.js"

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

/**
 * Streams every chunk to `out/part-NNNNN`, then commits `out/_manifest.json`. DEST ends
 * holding exactly this run's set: on success its parts and manifest (parts of an earlier
 * split that this one did not replace are removed before the manifest is written); on
 * failure no manifest and none of its parts.
 */
const writeParts = (options: SplitOptions, out: ObjectUri.ObjectUri, version: ObjectVersion, approx: ReadonlyArray<ByteRange>) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const executor = yield* Executor
    const manifestUri = ObjectUri.child(out, MANIFEST_NAME)
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
    const remove = (uri: ObjectUri.ObjectUri) => retrying(ObjectUri.format(uri), store.remove(uri))
    const discardParts = Effect.forEach(tasks, (task) => Effect.ignore(remove(task.output)), { concurrency: 8, discard: true })
    // A manifest from an earlier run would vouch for parts this run is about to replace.
    yield* remove(manifestUri)
    return yield* Effect.gen(function*() {
      const results = yield* fanOut(tasks, executor.execute, options.concurrency ?? defaultConcurrency(tasks.length))
      const total = results.reduce((sum, result) => sum + result.bytesIn, 0)
      if (total !== version.size) {
        return yield* new IntegrityError({
          uri: ObjectUri.format(options.source),
          reason: `the chunks hold ${total} bytes, the object ${version.size}`
        })
      }
      const stale = yield* staleParts(out, new Set(tasks.map((task) => ObjectUri.format(task.output))))
      yield* Effect.forEach(stale, remove, { concurrency: 8, discard: true })
      // The slices tile the object, so each chunk starts where the ones before it end.
      let offset = 0
      const starts = results.map((result) => {
        const start = offset
        offset += result.bytesIn
        return start
      })
      const rows = toRows(approx, starts, version.size)
      const manifest = new Manifest({
        source: ObjectUri.format(options.source),
        size: version.size,
        etag: version.etag,
        ...(version.versionId === undefined ? {} : { versionId: version.versionId }),
        chunks: rows.length,
        parts: rows.map((row) => ({ ...row, name: partName(row.index, rows.length) }))
      })
      const json = JSON.stringify(Schema.encodeSync(Manifest)(manifest), null, 2) + "\n"
      yield* retrying(
        ObjectUri.format(manifestUri),
        store.put(manifestUri, Stream.make(new TextEncoder().encode(json)), { contentType: "application/json" })
      )
      return rows
    }).pipe(Effect.onError(() => discardParts))
  })

/** Runs a split of the source `version` (from `headSource`) and reports every chunk's ranges. */
export const split = (options: SplitOptions, version: ObjectVersion) =>
  Effect.gen(function*() {
    const approx = plan(version.size, options.spec)
    const rows = options.out === undefined
      ? toRows(approx, yield* resolveBoundaries(options, version, approx), version.size)
      : yield* writeParts(options, options.out, version, approx)
    return { version, rows } satisfies SplitReport
  })
