/**
 * What a worker answers across a process boundary: the `Exit` of its chunk program, encoded
 * with schemas, so the coordinator decodes the same result or the same typed error.
 */
import * as Schema from "effect/Schema"
import { ChunkResult } from "./ChunkTask.js"
import { WorkerError } from "./Errors.js"

export const WorkerExit = Schema.Exit({ success: ChunkResult, failure: WorkerError, defect: Schema.Defect })
export type WorkerExit = typeof WorkerExit.Type
