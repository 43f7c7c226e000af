/**
 * The manifest of a split written to a destination: what was split, how, and where each part
 * is. It is written last, so its presence means every part is complete.
 */
import * as Schema from "effect/Schema"

export const MANIFEST_NAME = "_manifest.json"

/**
 * The digits in the names of a job of `chunks` chunks: five, or more when the last index needs
 * them, so that the names of one job sort in chunk order (`cat DEST/part-*`).
 */
export const indexWidth = (chunks: number): number => Math.max(5, String(Math.max(0, chunks - 1)).length)

/** The name of part `index` of `chunks`: `part-00000`, `part-00001`, ... (`part-000000` past 100,000 chunks). */
export const partName = (index: number, chunks: number): string => `part-${String(index).padStart(indexWidth(chunks), "0")}`

/** True for a name `partName` may give (any width): what a destination holds of earlier splits. */
export const isPartName = (name: string): boolean => /^part-\d{5,}$/.test(name)

/** One chunk: its approximate and resolved half-open ranges, and its size. */
export class ChunkRow extends Schema.Class<ChunkRow>("ChunkRow")({
  index: Schema.Number,
  approxStart: Schema.Number,
  approxEnd: Schema.Number,
  start: Schema.Number,
  end: Schema.Number,
  bytes: Schema.Number
}) {}

/** One object of a many-object source, as listed (every read was pinned to its ETag). */
export const ManifestObject = Schema.Struct({
  uri: Schema.String,
  size: Schema.Number,
  etag: Schema.String,
  versionId: Schema.optional(Schema.String),
  compressed: Schema.Boolean
})

/**
 * A piece of a part: the lines of `objects[object]` whose first byte lies in the half-open
 * range `[start, end)` of its stored bytes, where an end with `align*` false is the object's
 * edge (exact) and one with `align*` true a cut point (moved to the next line start). A
 * compressed piece is the whole object, gunzipped.
 */
export const ManifestPiece = Schema.Struct({
  object: Schema.Number,
  start: Schema.Number,
  end: Schema.Number,
  alignStart: Schema.Boolean,
  alignEnd: Schema.Boolean,
  compressed: Schema.Boolean
})

/**
 * A split of one object: `source`, its `size`, `etag` (and `versionId`), each part's ranges.
 * A split of many objects: `source` the SOURCE arguments as given, `size` the bytes of the
 * parts together (the objects concatenated, decompressed), no `etag`, the listed `objects`,
 * and each part's `pieces`; its rows' `approx*` are over the objects' stored bytes taken in
 * order, `start`/`end` over the parts' bytes.
 */
export class Manifest extends Schema.Class<Manifest>("Manifest")({
  source: Schema.String,
  size: Schema.Number,
  etag: Schema.optional(Schema.String),
  versionId: Schema.optional(Schema.String),
  chunks: Schema.Number,
  objects: Schema.optional(Schema.Array(ManifestObject)),
  parts: Schema.Array(Schema.Struct({ ...ChunkRow.fields, name: Schema.String, pieces: Schema.optional(Schema.Array(ManifestPiece)) }))
}) {}
