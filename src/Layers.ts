/**
 * The one wiring of a job's services, shared by the command line, the Lambda handler, the
 * tests and the bench: a store, the run's counters and retry policy, the reader over the
 * store, and (for a coordinator) the executor of the chosen backend. Only the layers passed
 * in differ between them.
 */
import * as Layer from "effect/Layer"
import type * as Boundary from "./Boundary.js"
import * as BoundaryMemo from "./BoundaryMemo.js"
import type { Executor } from "./Executor.js"
import type { ObjectStore } from "./ObjectStore.js"
import type { RetryPolicy } from "./Retry.js"
import { Stats } from "./Stats.js"

/**
 * What one chunk worker needs: the store, the reader over it (its boundary searches remembered
 * for the layer's life: `BoundaryMemo`), counters, the retry policy.
 */
export type WorkerServices = ObjectStore | Boundary.Boundary | Stats | RetryPolicy

/** The worker's services over `store`, retrying as `retry` says (`RetryPolicy.layerConfig` in production). */
export const workerLayer = <E, R, E2, R2>(
  store: Layer.Layer<ObjectStore, E, R>,
  retry: Layer.Layer<RetryPolicy, E2, R2>
): Layer.Layer<WorkerServices, E | E2, R | R2> =>
  Layer.provideMerge(BoundaryMemo.layer, Layer.mergeAll(store, Stats.layer, retry))

/** A coordinator's services: the worker's, and an executor built over them. */
export const jobLayer = <E, R, E2, R2>(
  worker: Layer.Layer<WorkerServices, E, R>,
  executor: Layer.Layer<Executor, E2, R2>
): Layer.Layer<WorkerServices | Executor, E | E2, R | Exclude<R2, WorkerServices>> =>
  Layer.provideMerge(executor, worker)
