/**
 * The program every worker runs for one task, in a fiber or in a Lambda: read the resolved
 * chunk straight from the source and stream it to the task's output. Only the layers differ.
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { Boundary } from "./Boundary.js"
import { ChunkResult } from "./ChunkTask.js"
import type { ChunkTask } from "./ChunkTask.js"
import { ObjectStore } from "./ObjectStore.js"
import { Stats } from "./Stats.js"

/**
 * Reads chunk `task.index` and writes it to `task.output` (replacing what is there). Succeeds
 * with the chunk's size; fails with the reader's or the store's typed error.
 */
export const runChunk = (task: ChunkTask) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const store = yield* ObjectStore
    const stats = yield* Stats
    const bytes = yield* Ref.make(0)
    const body = boundary.readChunk(task.source, task.version, task.approx, { lookahead: task.lookahead }).pipe(
      Stream.tap((piece) =>
        Effect.zipRight(
          Ref.update(bytes, (n) => n + piece.length),
          Ref.update(stats.bytesDone, (n) => n + piece.length)
        )
      )
    )
    yield* store.put(task.output, body)
    yield* Ref.update(stats.chunksDone, (n) => n + 1)
    return new ChunkResult({ index: task.index, bytes: yield* Ref.get(bytes) })
  })
