/**
 * Where chunk tasks run. The coordinator bounds the concurrency and orders the results; an
 * executor runs one task at a time per call. The local layer runs the worker program as a
 * fiber of this process; the Lambda layer (`LambdaExecutor`) invokes a function per task.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Boundary } from "./Boundary.js"
import type { ChunkResult } from "./ChunkTask.js"
import { runTask } from "./ChunkWorker.js"
import type { WorkerError } from "./Errors.js"
import type { WorkerTask } from "./MultiTask.js"
import type { ObjectStore } from "./ObjectStore.js"
import type { Stats } from "./Stats.js"

export class Executor extends Context.Tag("s3split/Executor")<Executor, {
  /**
   * Runs one task to completion: its output is at `task.output` when this succeeds. Fails
   * with the worker's own typed error (decoded unchanged when it crossed a process boundary).
   * Interrupting it cancels the work.
   */
  readonly execute: (task: WorkerTask) => Effect.Effect<ChunkResult, WorkerError>
}>() {}

/** Workers as fibers of this process, sharing its store, reader and run counters. */
export const localLayer = Layer.effect(
  Executor,
  Effect.map(Effect.context<Boundary | ObjectStore | Stats>(), (context) =>
    Executor.of({ execute: (task) => Effect.provide(runTask(task), context) }))
)
