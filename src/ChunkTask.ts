/**
 * One unit of work, as it travels from the coordinator to a worker (a fiber or a Lambda), and
 * its result. Both are schema classes, so they encode to JSON and decode to the same types.
 */
import * as Schema from "effect/Schema"
import { ObjectVersion } from "./ObjectStore.js"
import { ObjectUri } from "./ObjectUri.js"

/** Write the chunk's bytes as they are (`split --out`). */
export class CopyAction extends Schema.TaggedClass<CopyAction>()("Copy", {}) {}

/** Pipe the chunk through `/bin/sh -c command`; its stdout is the chunk's output (`run`). */
export class ExecAction extends Schema.TaggedClass<ExecAction>()("Exec", { command: Schema.String }) {}

export const ChunkAction = Schema.Union(CopyAction, ExecAction)
export type ChunkAction = typeof ChunkAction.Type

export class ChunkTask extends Schema.Class<ChunkTask>("ChunkTask")({
  index: Schema.Number,
  source: ObjectUri,
  /** The version recorded by the coordinator's HEAD: workers never HEAD the source. */
  version: ObjectVersion,
  /** The approximate, half-open range `[a_i, a_{i+1})` from the plan. */
  approx: Schema.Struct({ start: Schema.Number, end: Schema.Number }),
  lookahead: Schema.Number,
  action: ChunkAction,
  /** Where the chunk's output is written (replacing what is there). */
  output: ObjectUri,
  /** N, the number of chunks of the job (`S3SPLIT_CHUNKS` for an `Exec` command). */
  chunks: Schema.optional(Schema.Number),
  /**
   * The object's header lines (`run --header`), which the plan leaves out: an `Exec` command
   * reads them before the chunk's own lines. Base64 in JSON, at most `Header.MAX_BYTES`.
   */
  header: Schema.optional(Schema.Uint8ArrayFromBase64)
}) {}

export class ChunkResult extends Schema.Class<ChunkResult>("ChunkResult")({
  index: Schema.Number,
  /** The size of the resolved chunk; its start is the sum of the sizes before it. */
  bytesIn: Schema.Number,
  /** The size of the output written. */
  bytesOut: Schema.Number,
  /** Store requests made for the chunk, retries included. */
  requests: Schema.Number,
  retries: Schema.Number,
  durationMs: Schema.Number,
  /**
   * Whole objects of a many-object chunk that were gunzipped because their GET answered
   * `Content-Encoding: gzip` (`--decompress auto`; unknown when the chunk was planned).
   * Absent when none.
   */
  gunzipped: Schema.optional(Schema.Number)
}) {}
