/**
 * The manifest of a split written to a destination: what was split, how, and where each part
 * is. It is written last, so its presence means every part is complete.
 */
import * as Schema from "effect/Schema"

export const MANIFEST_NAME = "_manifest.json"

/** The name of part `index`: `part-00000`, `part-00001`, ... */
export const partName = (index: number): string => `part-${String(index).padStart(5, "0")}`

/** One chunk: its approximate and resolved half-open ranges, and its size. */
export class ChunkRow extends Schema.Class<ChunkRow>("ChunkRow")({
  index: Schema.Number,
  approxStart: Schema.Number,
  approxEnd: Schema.Number,
  start: Schema.Number,
  end: Schema.Number,
  bytes: Schema.Number
}) {}

export class Manifest extends Schema.Class<Manifest>("Manifest")({
  source: Schema.String,
  size: Schema.Number,
  etag: Schema.String,
  versionId: Schema.optional(Schema.String),
  chunks: Schema.Number,
  parts: Schema.Array(Schema.Struct({ ...ChunkRow.fields, name: Schema.String }))
}) {}
