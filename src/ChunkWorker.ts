/**
 * The program every worker runs for one task, in a fiber or in a Lambda: read the resolved
 * chunk straight from the source, pass it through the task's action (as is, or through a
 * shell command told its context: `CommandContext`), and stream the result to the task's
 * output. Only the layers differ. A command whose output is a local file writes that file
 * itself (`LocalOutput`), and reads a local source through a reader process (`FileFeed`); a
 * copy between local files bypasses the streams (`copyRange`). A chunk of many objects
 * (`MultiChunkTask`) reads its pieces with `PieceReader`; the rest is the same program.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { Boundary } from "./Boundary.js"
import { ChunkResult } from "./ChunkTask.js"
import type { ChunkTask } from "./ChunkTask.js"
import { commandInput, commandOutput, environment } from "./CommandContext.js"
import { ObjectChangedError } from "./Errors.js"
import type { WorkerError } from "./Errors.js"
import * as FileFeed from "./FileFeed.js"
import * as LocalOutput from "./LocalOutput.js"
import { loadObjects, MultiChunkTask, taskPieces } from "./MultiTask.js"
import type { WorkerTask } from "./MultiTask.js"
import { readPieces } from "./PieceReader.js"
import { ObjectStore } from "./ObjectStore.js"
import * as ObjectUri from "./ObjectUri.js"
import { retrying } from "./Retry.js"
import { increment, read, Stats } from "./Stats.js"

const sizeOf = (pieces: Chunk.Chunk<Uint8Array>) => {
  let bytes = 0
  for (const piece of pieces) bytes += piece.length
  return bytes
}

/** Counts the bytes of `stream` with one `count` per chunk of pieces, not one per piece. */
const counting = (count: (bytes: number) => Effect.Effect<void>) => <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Stream.mapChunksEffect(stream, (pieces) => {
    const bytes = sizeOf(pieces)
    return bytes === 0 ? Effect.succeed(pieces) : Effect.as(count(bytes), pieces)
  })

/**
 * The end of a chunk: its requests, retries and fetched bytes added to the run's counters
 * (its bytes were added as they flowed), and its `ChunkResult`.
 */
const finishChunk = (
  index: number,
  counters: { readonly run: Stats["Type"]; readonly chunk: Stats["Type"] },
  started: number,
  bytesOut: number
) =>
  Effect.gen(function*() {
    const counts = yield* read(counters.chunk)
    yield* Effect.all([
      increment(counters.run.requests, counts.requests),
      increment(counters.run.retries, counts.retries),
      increment(counters.run.bytesFetched, counts.bytesFetched),
      increment(counters.run.chunksDone)
    ])
    return new ChunkResult({
      index,
      bytesIn: counts.bytesDone,
      bytesOut,
      requests: counts.requests,
      retries: counts.retries,
      durationMs: (yield* Clock.currentTimeMillis) - started,
      ...(counts.gunzipped === 0 ? {} : { gunzipped: counts.gunzipped })
    })
  })

/**
 * The chunk's resolved range `[alignUp(a), alignUp(b))` for its approximate range `[a, b)`,
 * found with two boundary searches (run together): the very bytes `readChunk` streams. An empty
 * approximate range resolves to the empty range at `alignUp(a)`, the start `readChunk`
 * announces for it (`S3SPLIT_OFFSET`).
 */
const resolvedRange = (task: ChunkTask) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const options = { lookahead: task.lookahead }
    if (task.approx.start >= task.approx.end) {
      const at = yield* boundary.alignUp(task.source, task.version, task.approx.start, options)
      return { start: at, end: at }
    }
    const [start, end] = yield* Effect.all([
      boundary.alignUp(task.source, task.version, task.approx.start, options),
      boundary.alignUp(task.source, task.version, task.approx.end, options)
    ], { concurrency: 2 })
    return { start, end }
  })

/**
 * A Copy task whose store copies ranges itself (file to file): the chunk's resolved range
 * (`resolvedRange`: the very bytes `readChunk` would stream) is copied by the store under
 * `retrying`, its bytes counted as they are written. A store that refuses
 * after all falls back to `streamed`.
 */
const copyDirectly = <E, R>(
  task: ChunkTask,
  counters: { readonly run: Stats["Type"]; readonly chunk: Stats["Type"]; readonly bytesOut: Ref.Ref<number> },
  streamed: Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const { bytesOut, chunk, run } = counters
    const { end, start } = yield* resolvedRange(task)
    // Called from the copy loop, outside any fiber, about once per MiB: a few cheap updates.
    const progress = (bytes: number) =>
      Effect.runSync(Effect.all([
        increment(chunk.bytesDone, bytes),
        increment(run.bytesDone, bytes),
        increment(chunk.bytesFetched, bytes)
      ], { discard: true }))
    const contentType = task.version.contentType
    // As in the streamed path, a retried copy counts its bytes afresh.
    const attempt = Effect.gen(function*() {
      const counted = yield* Ref.getAndSet(chunk.bytesDone, 0)
      yield* increment(run.bytesDone, -counted)
      yield* Ref.set(bytesOut, 0)
      yield* store.copyRange(task.output, task.source, task.version, { start, end }, { contentType, progress })
      yield* Ref.set(bytesOut, end - start)
    })
    yield* retrying(ObjectUri.format(task.output), attempt).pipe(
      Effect.catchTag("CopyRangeUnsupportedError", () => streamed)
    )
  })

/**
 * A task's bytes: given `onStart` (set to the chunk's resolved start before its first byte,
 * for a command's S3SPLIT_OFFSET), the stream of its lines. A many-object chunk has no one
 * offset and ignores it.
 */
type TaskReader = (
  onStart: ((at: number) => Effect.Effect<void>) | undefined
) => Stream.Stream<Uint8Array, WorkerError, Boundary | ObjectStore | Stats>

/** A single-object chunk: `Boundary.readChunk` of its approximate range. */
const singleReader = (task: ChunkTask): TaskReader => (onStart) =>
  Stream.unwrap(Effect.map(Boundary, (boundary) =>
    boundary.readChunk(task.source, task.version, task.approx, {
      lookahead: task.lookahead,
      ...(onStart === undefined ? {} : { onStart })
    })))

/**
 * A many-object chunk: its objects (inline, or one pinned GET of the run's object list),
 * then its pieces as `MultiPlan.piecesIn` computes them, read by `PieceReader.readPieces`.
 */
const multiReader = (task: MultiChunkTask): TaskReader => () =>
  Stream.unwrap(Effect.map(loadObjects(task.objects), (objects) =>
    readPieces(objects, taskPieces(objects, task.approx), { lookahead: task.lookahead, decompress: task.decompress ?? "none" })))

/**
 * `runTask` for a command whose output goes to a local file (`task.output` is a `FileUri`):
 * the command's stdout is the file itself (`LocalOutput.write`), so a follower can stream it
 * while it grows. Not retried: a follower may already have read the bytes written so far.
 */
const runChunkToFile = (task: WorkerTask, command: string, path: string, reader: TaskReader) =>
  Effect.gen(function*() {
    const run = yield* Stats
    const chunk = yield* Stats.make
    const started = yield* Clock.currentTimeMillis
    // The chunk's resolved start, set by the reader before its first byte (S3SPLIT_OFFSET).
    const start = yield* Ref.make(task.approx.start)
    const chunkBytes = reader((at: number) => Ref.set(start, at)).pipe(
      counting((bytes) => Effect.zipRight(increment(chunk.bytesDone, bytes), increment(run.bytesDone, bytes))),
      Stream.provideService(Stats, chunk),
      Stream.provideService(Boundary, yield* Boundary),
      Stream.provideService(ObjectStore, yield* ObjectStore)
    )
    const bytesOut = yield* Effect.scoped(Effect.flatMap(
      commandInput(task, chunkBytes, Ref.get(start)),
      ({ env, input }) => LocalOutput.write(path, command, task.index, input, { env })
    ))
    return yield* finishChunk(task.index, { run, chunk }, started, bytesOut)
  })

/**
 * `runChunkToFile` from a source the store reads as a local file (`canCopyRange`): the command's
 * stdin is a reader process over the chunk's resolved range (`FileFeed`), so neither the input
 * nor the output passes through this process. The source must be `task.version` before the
 * ranges are resolved and once the reader has stopped (`ObjectChangedError` otherwise, and the
 * output is removed). The chunk's bytes are counted when it ends. Not retried.
 */
const runChunkFed = (task: ChunkTask, source: string, command: string, path: string) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const run = yield* Stats
    const chunk = yield* Stats.make
    const started = yield* Clock.currentTimeMillis
    const verify = Effect.flatMap(store.head(task.source), (current) =>
      current.etag === task.version.etag
        ? Effect.void
        : Effect.fail(
          new ObjectChangedError({ uri: ObjectUri.format(task.source), expectedEtag: task.version.etag, actualEtag: current.etag })
        ))
    yield* verify
    const range = yield* Effect.provideService(resolvedRange(task), Stats, chunk)
    const bytesOut = yield* LocalOutput.writeWith(
      path,
      FileFeed.feed({
        path: source,
        range,
        header: task.header,
        command,
        index: task.index,
        env: environment(task, range.start),
        verify
      })
    )
    const bytesIn = range.end - range.start
    const counts = yield* read(chunk)
    yield* Effect.all([
      increment(run.requests, counts.requests),
      increment(run.retries, counts.retries),
      increment(run.bytesFetched, counts.bytesFetched + bytesIn),
      increment(run.bytesDone, bytesIn),
      increment(run.chunksDone)
    ])
    return new ChunkResult({
      index: task.index,
      bytesIn,
      bytesOut,
      requests: counts.requests,
      retries: counts.retries,
      durationMs: (yield* Clock.currentTimeMillis) - started
    })
  })

/**
 * Runs `task` (a chunk of one object or of many) and writes its output to `task.output`,
 * replacing what is there. Succeeds with the chunk's counts; fails with the reader's, the
 * store's or the command's typed error. A write that fails transiently is retried
 * (re-reading the chunk), except for a command's output to a local file (`runChunkToFile`).
 * The chunk's requests and retries are added to the caller's `Stats` when it ends; bytes as
 * they flow.
 */
export const runTask = (task: WorkerTask) => task instanceof MultiChunkTask ? runMultiChunk(task) : runChunk(task)

/** `runTask` of a many-object chunk. A Copy task is always streamed (its pieces are not one range). */
export const runMultiChunk = (task: MultiChunkTask) => runWith(task, multiReader(task), undefined)

/** `runTask` of a single-object chunk, exactly as before many-object sources existed. */
export const runChunk = (task: ChunkTask) => runWith(task, singleReader(task), task)

const runWith = (task: WorkerTask, reader: TaskReader, single: ChunkTask | undefined) =>
  Effect.gen(function*() {
    if (task.action._tag === "Exec" && task.output._tag === "FileUri") {
      const { command } = task.action
      if (
        single !== undefined && single.source._tag === "FileUri" &&
        (yield* ObjectStore).canCopyRange(task.output, single.source) && (yield* FileFeed.available)
      ) {
        return yield* runChunkFed(single, single.source.path, command, task.output.path)
      }
      return yield* runChunkToFile(task, command, task.output.path, reader)
    }
    const store = yield* ObjectStore
    const run = yield* Stats
    const chunk = yield* Stats.make
    const started = yield* Clock.currentTimeMillis
    const bytesOut = yield* Ref.make(0)
    // The chunk's resolved start, set by the reader before its first byte (a command's S3SPLIT_OFFSET).
    const start = yield* Ref.make(task.approx.start)
    const input = reader(task.action._tag === "Exec" ? (at: number) => Ref.set(start, at) : undefined).pipe(
      counting((bytes) => Effect.zipRight(increment(chunk.bytesDone, bytes), increment(run.bytesDone, bytes))),
      Stream.provideService(Stats, chunk),
      Stream.provideService(Boundary, yield* Boundary),
      Stream.provideService(ObjectStore, store)
    )
    const output = task.action._tag === "Copy" ? input : commandOutput(task, task.action.command, input, Ref.get(start))
    // A part is a slice of the source: same media type, about the approximate range in size.
    const contentType = single?.version.contentType
    const putOptions = task.action._tag === "Copy"
      ? {
        sizeHint: task.approx.end - task.approx.start,
        ...(contentType === undefined ? {} : { contentType })
      }
      : {}
    // A failed write is retried from the start of the chunk: each attempt's bytes count afresh.
    const attempt = Effect.gen(function*() {
      const counted = yield* Ref.getAndSet(chunk.bytesDone, 0)
      yield* increment(run.bytesDone, -counted)
      yield* Ref.set(bytesOut, 0)
      yield* store.put(task.output, counting((bytes) => increment(bytesOut, bytes))(output), putOptions)
    })
    const streamed = retrying(ObjectUri.format(task.output), attempt)
    yield* (single !== undefined && task.action._tag === "Copy" && store.canCopyRange(task.output, single.source)
      ? copyDirectly(single, { run, chunk, bytesOut }, streamed)
      : streamed).pipe(Effect.provideService(Stats, chunk))
    return yield* finishChunk(task.index, { run, chunk }, started, yield* Ref.get(bytesOut))
  })
