/**
 * One unit of work, as it travels from the coordinator to a worker (a fiber or a Lambda), and
 * its result. Both are schema classes, so they encode to JSON and decode to the same types.
 */
import * as Schema from "effect/Schema"
import { ObjectVersion } from "./ObjectStore.js"
import { ObjectUri } from "./ObjectUri.js"

export const Range = Schema.Struct({ start: Schema.Number, end: Schema.Number })

export class ChunkTask extends Schema.Class<ChunkTask>("ChunkTask")({
  index: Schema.Number,
  source: ObjectUri,
  /** The version recorded by the coordinator's HEAD: workers never HEAD themselves. */
  version: ObjectVersion,
  /** The approximate, half-open range `[a_i, a_{i+1})` from the plan. */
  approx: Range,
  lookahead: Schema.Number,
  /** Where the chunk's bytes are written. */
  output: ObjectUri
}) {}

export class ChunkResult extends Schema.Class<ChunkResult>("ChunkResult")({
  index: Schema.Number,
  /** The size of the resolved chunk; its start is the sum of the sizes before it. */
  bytes: Schema.Number
}) {}
