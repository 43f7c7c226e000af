/**
 * The messages between the coordinator and its worker threads, as schema requests: one
 * `InitialMessage` per thread (the store settings it builds its layers from), then one
 * `RunChunk` per task, answered with the chunk's result or its typed error. Tasks travel,
 * bytes do not: each thread reads its chunks from the store and writes the outputs itself.
 */
import * as Schema from "effect/Schema"
import { ChunkResult } from "./ChunkTask.js"
import { WorkerError } from "./Errors.js"
import { WorkerTask } from "./MultiTask.js"

/** Sent once to every thread before any task: how to reach the stores. */
export class InitialMessage extends Schema.TaggedRequest<InitialMessage>()("InitialMessage", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: {
    /** A custom S3 endpoint, as the coordinator resolved it. */
    endpoint: Schema.optional(Schema.String),
    region: Schema.String,
    /** This thread's share of the process's upload part budget, in bytes. */
    partBudget: Schema.optional(Schema.Number)
  }
}) {}

/** Runs one chunk task in the thread: its output is at `task.output` when this succeeds. */
export class RunChunk extends Schema.TaggedRequest<RunChunk>()("RunChunk", {
  failure: WorkerError,
  success: ChunkResult,
  payload: { task: WorkerTask }
}) {}

export const ThreadRequest = Schema.Union(InitialMessage, RunChunk)
export type ThreadRequest = typeof ThreadRequest.Type
