/**
 * One measurement as it crosses the process boundary: the request a child gets (JSON in its
 * argv) and the result it prints (JSON on stdout). Each measurement runs in its own process so
 * that its peak RSS is the strategy's alone.
 */
import * as Schema from "effect/Schema"
import { STRATEGIES } from "./Strategies.js"

/** What one child measures. */
export class MeasureRequest extends Schema.Class<MeasureRequest>("MeasureRequest")({
  endpoint: Schema.String,
  bucket: Schema.String,
  key: Schema.String,
  strategy: Schema.Literal(...STRATEGIES),
  chunks: Schema.Int,
  lookahead: Schema.Int
}) {}

/** What one child reports. Times in milliseconds, sizes in bytes. */
export class Measurement extends Schema.Class<Measurement>("Measurement")({
  strategy: Schema.Literal(...STRATEGIES),
  chunks: Schema.Int,
  /** From the first request of the strategy to its last byte (the HEAD before it is not timed). */
  wallMs: Schema.Number,
  /** Requests the reader made (attempts, retries included), as counted by the client. */
  requests: Schema.Int,
  retries: Schema.Int,
  /** Bytes the reader received (not those the server sent into a body it abandoned). */
  bytesFetched: Schema.Number,
  /** The bytes of every chunk, in order. */
  chunkSizes: Schema.Array(Schema.Number),
  /** The process's peak resident set size, and what it was before the strategy started. */
  peakRssBytes: Schema.Number,
  rssBeforeBytes: Schema.Number
}) {}
