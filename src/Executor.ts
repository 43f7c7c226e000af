/**
 * The fan-out: runs chunk tasks with bounded concurrency and gathers their typed results in
 * task order. The local layer runs workers as fibers in this process.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ChunkResult, ChunkTask } from "./ChunkTask.js"
import { runChunk } from "./ChunkWorker.js"
import type { ReadError } from "./Errors.js"
import type { Boundary } from "./Boundary.js"
import type { ObjectStore } from "./ObjectStore.js"
import type { Stats } from "./Stats.js"

export class Executor extends Context.Tag("s3split/Executor")<Executor, {
  /**
   * Runs every task, at most `concurrency` at once, and returns the results in task order.
   * The first failure interrupts the tasks still running and is returned as it is.
   */
  readonly run: (
    tasks: ReadonlyArray<ChunkTask>,
    concurrency: number
  ) => Effect.Effect<ReadonlyArray<ChunkResult>, ReadError>
}>() {}

/** Workers as fibers of this process, sharing its store, reader and counters. */
export const localLayer = Layer.effect(
  Executor,
  Effect.map(Effect.context<Boundary | ObjectStore | Stats>(), (context) =>
    Executor.of({
      run: (tasks, concurrency) =>
        Effect.forEach(tasks, runChunk, { concurrency }).pipe(Effect.provide(context))
    }))
)
