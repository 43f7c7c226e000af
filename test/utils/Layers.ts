/**
 * Test wiring: the reader over a fresh in-memory store, with counters and a retry policy whose
 * delays are small and deterministic under TestClock.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Executor from "../../src/Executor.js"
import * as Layers from "../../src/Layers.js"
import * as MemoryObjectStore from "../../src/MemoryObjectStore.js"
import { ObjectStore } from "../../src/ObjectStore.js"
import { FileUri, S3Uri } from "../../src/ObjectUri.js"
import { RetryPolicy } from "../../src/Retry.js"

export const SOURCE = new S3Uri({ bucket: "bucket", key: "data/object.txt" })
export const OUT = new FileUri({ path: "/out" })

export const testRetryPolicy = (maxAttempts = 5) =>
  Layer.succeed(RetryPolicy, { maxAttempts, baseDelay: Duration.millis(100), maxDelay: Duration.seconds(1) })

/** The job's layers (the production wiring, `Layers.jobLayer`) over the given memory store. */
export const jobLayer = (memory: MemoryObjectStore.MemoryObjectStore, maxAttempts = 5) =>
  Layers.jobLayer(Layers.workerLayer(Layer.succeed(ObjectStore, memory.store), testRetryPolicy(maxAttempts)), Executor.localLayer)

/** A memory store holding `bytes` at `SOURCE`. */
export const seeded = (bytes: Uint8Array, options?: MemoryObjectStore.MemoryOptions) =>
  Effect.tap(MemoryObjectStore.make(options), (memory) => memory.seed(SOURCE, bytes))
