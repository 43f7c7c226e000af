/**
 * The program every worker runs for one task, in a fiber or in a Lambda: read the resolved
 * chunk straight from the source, pass it through the task's action (as is, or through a
 * shell command), and stream the result to the task's output. Only the layers differ. A
 * command whose output is a local file writes that file itself (`LocalOutput`).
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { Boundary } from "./Boundary.js"
import { ChunkResult } from "./ChunkTask.js"
import type { ChunkTask } from "./ChunkTask.js"
import { pipeThrough } from "./Exec.js"
import * as LocalOutput from "./LocalOutput.js"
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
 * `runChunk` for a command whose output goes to a local file (`task.output` is a `FileUri`):
 * the command's stdout is the file itself (`LocalOutput.write`), so a follower can stream it
 * while it grows. Not retried: a follower may already have read the bytes written so far.
 */
const runChunkToFile = (task: ChunkTask, command: string, path: string) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const run = yield* Stats
    const chunk = yield* Stats.make
    const started = yield* Clock.currentTimeMillis
    const input = boundary.readChunk(task.source, task.version, task.approx, { lookahead: task.lookahead }).pipe(
      counting((bytes) => Effect.zipRight(increment(chunk.bytesDone, bytes), increment(run.bytesDone, bytes))),
      Stream.provideService(Stats, chunk)
    )
    const bytesOut = yield* LocalOutput.write(path, command, task.index, input)
    const counts = yield* read(chunk)
    yield* Effect.all([
      increment(run.requests, counts.requests),
      increment(run.retries, counts.retries),
      increment(run.bytesFetched, counts.bytesFetched),
      increment(run.chunksDone)
    ])
    return new ChunkResult({
      index: task.index,
      bytesIn: counts.bytesDone,
      bytesOut,
      requests: counts.requests,
      retries: counts.retries,
      durationMs: (yield* Clock.currentTimeMillis) - started
    })
  })

/**
 * Runs `task` and writes its output to `task.output`, replacing what is there. Succeeds with
 * the chunk's counts; fails with the reader's, the store's or the command's typed error. A
 * write that fails transiently is retried (re-reading the chunk), except for a command's
 * output to a local file (`runChunkToFile`). The chunk's requests and retries are added to the
 * caller's `Stats` when it ends; bytes as they flow.
 */
export const runChunk = (task: ChunkTask) =>
  Effect.gen(function*() {
    if (task.action._tag === "Exec" && task.output._tag === "FileUri") return yield* runChunkToFile(task, task.action.command, task.output.path)
    const boundary = yield* Boundary
    const store = yield* ObjectStore
    const run = yield* Stats
    const chunk = yield* Stats.make
    const started = yield* Clock.currentTimeMillis
    const bytesOut = yield* Ref.make(0)
    const input = boundary.readChunk(task.source, task.version, task.approx, { lookahead: task.lookahead }).pipe(
      counting((bytes) => Effect.zipRight(increment(chunk.bytesDone, bytes), increment(run.bytesDone, bytes))),
      Stream.provideService(Stats, chunk)
    )
    const output = task.action._tag === "Copy" ? input : pipeThrough(task.action.command, task.index, input)
    // A part is a slice of the source: same media type, about the approximate range in size.
    const putOptions = task.action._tag === "Copy"
      ? {
        sizeHint: task.approx.end - task.approx.start,
        ...(task.version.contentType === undefined ? {} : { contentType: task.version.contentType })
      }
      : {}
    // A failed write is retried from the start of the chunk: each attempt's bytes count afresh.
    const attempt = Effect.gen(function*() {
      const counted = yield* Ref.getAndSet(chunk.bytesDone, 0)
      yield* increment(run.bytesDone, -counted)
      yield* Ref.set(bytesOut, 0)
      yield* store.put(task.output, counting((bytes) => increment(bytesOut, bytes))(output), putOptions)
    })
    yield* retrying(ObjectUri.format(task.output), attempt).pipe(Effect.provideService(Stats, chunk))
    const counts = yield* read(chunk)
    yield* Effect.all([
      increment(run.requests, counts.requests),
      increment(run.retries, counts.retries),
      increment(run.bytesFetched, counts.bytesFetched),
      increment(run.chunksDone)
    ])
    return new ChunkResult({
      index: task.index,
      bytesIn: counts.bytesDone,
      bytesOut: yield* Ref.get(bytesOut),
      requests: counts.requests,
      retries: counts.retries,
      durationMs: (yield* Clock.currentTimeMillis) - started
    })
  })
