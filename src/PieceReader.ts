/**
 * The worker side of a many-object chunk: the chunk's pieces read one after another into one
 * byte stream. A piece that is a whole object streams as is (or gunzipped, under
 * `decompress: "auto"`, when its GET answers `Content-Encoding: gzip`); a piece with an
 * approximate end is line-aligned by `Boundary.readChunk`, exactly as a single-object chunk
 * is; a compressed piece is streamed and gunzipped (multi-member gzip included). Every read is
 * pinned to the listed ETag, so an object that changed since the listing fails with
 * `ObjectChangedError`.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Zlib from "node:zlib"
import { Boundary } from "./Boundary.js"
import type { ReadOptions } from "./Boundary.js"
import { DecompressError } from "./Errors.js"
import type { ReadError } from "./Errors.js"
import type { Piece } from "./MultiPlan.js"
import type { ObjectStore } from "./ObjectStore.js"
import { format } from "./ObjectUri.js"
import { readRange, readSmall } from "./Retry.js"
import type { Decompress, SourceObject } from "./SourceSet.js"
import { isGzipEncoding, versionOf } from "./SourceSet.js"
import { increment, Stats } from "./Stats.js"

export interface PieceReadOptions extends ReadOptions {
  /**
   * Whole objects of at most this many bytes are fetched ahead, `prefetch` at a time, so that
   * a chunk of many small objects is not one round trip per object in series (default 1 MiB).
   */
  readonly prefetchBytes?: number
  /** How many small whole objects may be in flight or buffered at once (default 8; 1 turns it off). */
  readonly prefetch?: number
  /**
   * `auto`: a whole object that is not known compressed is gunzipped when its GET answers
   * `Content-Encoding: gzip` (and counted in `Stats.gunzipped`); `none` (default): its stored
   * bytes as they are. Objects marked `compressed` are gunzipped either way.
   */
  readonly decompress?: Decompress
}

/**
 * Gunzips `bytes`: every gzip member in turn; a corrupt or truncated stream is
 * `DecompressError`. A failure of `bytes` itself is returned as is: ending the gunzip input
 * early makes zlib report a truncated stream too, and the upstream cause must win.
 */
const gunzip = <E, R>(object: SourceObject, bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | DecompressError, R> =>
  Stream.unwrap(Effect.map(Ref.make(Option.none<E>()), (upstream) =>
    NodeStream.pipeThroughDuplex(
      Stream.tapError(bytes, (error) => Ref.set(upstream, Option.some(error))),
      () => Zlib.createGunzip(),
      (error) => new DecompressError({ uri: format(object.uri), reason: error instanceof Error ? error.message : String(error) })
    ).pipe(
      Stream.catchAll((error) =>
        Stream.unwrap(Effect.map(Ref.get(upstream), (cause) => Stream.fail(Option.getOrElse(cause, () => error)))))
    )))

/**
 * `bytes` of a whole object whose GET answered `encoding`: gunzipped (and counted in
 * `Stats.gunzipped`) when that says gzip, as they are otherwise.
 */
const decoded = <E, R>(object: SourceObject, encoding: string | undefined, bytes: Stream.Stream<Uint8Array, E, R>) =>
  isGzipEncoding(encoding)
    ? Effect.as(Effect.flatMap(Stats, (stats) => increment(stats.gunzipped)), gunzip(object, bytes))
    : Effect.succeed(bytes as Stream.Stream<Uint8Array, E | DecompressError, R>)

/**
 * A whole object whose encoding only its GET tells: its bytes, gunzipped when the first
 * answer says `Content-Encoding: gzip` (every resumed request is a range of the same stored
 * bytes, so the first answer decides), and counted in `Stats.gunzipped` then.
 */
const wholeByEncoding = (object: SourceObject) =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const encoding = yield* Ref.make<string | undefined>(undefined)
    const pull = yield* Stream.toPull(readRange(object.uri, versionOf(object), { start: 0, end: object.size }, {
      onAnswer: (answer) => Ref.set(encoding, answer.contentEncoding)
    }))
    // The first pull has had an answer (or failed, or found the body empty): the encoding is known.
    const first = yield* Effect.catchAll(pull, Option.match({ onNone: () => Effect.succeed(Chunk.empty<Uint8Array>()), onSome: Effect.fail }))
    return yield* decoded(object, yield* Ref.get(encoding), Stream.concat(Stream.fromChunk(first), Stream.repeatEffectChunkOption(pull)))
  }))

/**
 * The bytes of one piece of `object`: a whole object as stored (`Retry.readRange`, one GET;
 * gunzipped under `decompress: "auto"` when that GET answers `Content-Encoding: gzip`); a
 * range with an approximate start or end as `Boundary.readChunk` cuts it (the lines whose
 * first byte lies in the range; a line longer than the range may leave it empty); a
 * compressed object gunzipped. Retries and resumes as `Retry.readRange`; fails with
 * `ObjectChangedError` when the object is no longer the listed version, `DecompressError`
 * when a gunzipped object is not gzip.
 */
export const readPiece = (
  object: SourceObject,
  piece: Piece,
  options: PieceReadOptions
): Stream.Stream<Uint8Array, ReadError | DecompressError, Boundary | ObjectStore | Stats> => {
  const version = versionOf(object)
  if (piece.range.start >= piece.range.end) return Stream.empty
  if (piece.compressed) return gunzip(object, readRange(object.uri, version, { start: 0, end: object.size }))
  if (!piece.alignStart && !piece.alignEnd) {
    return options.decompress === "auto" ? wholeByEncoding(object) : readRange(object.uri, version, piece.range)
  }
  return Stream.unwrap(Effect.map(Boundary, (boundary) => boundary.readChunk(object.uri, version, piece.range, options)))
}

/** A whole object small enough to be fetched ahead into memory. */
const isSmallWhole = (piece: Piece, limit: number) =>
  !piece.compressed && !piece.alignStart && !piece.alignEnd && piece.range.end - piece.range.start <= limit

/**
 * The bytes of a chunk: its pieces (as `MultiPlan.piecesIn` gives them, indexing `objects`)
 * read by `readPiece`, in order, concatenated. Small whole objects are fetched ahead with
 * bounded concurrency (memory at most `prefetch * prefetchBytes`); the output order never
 * changes. Fails with the first piece's error.
 */
export const readPieces = (
  objects: ReadonlyArray<SourceObject>,
  pieces: ReadonlyArray<Piece>,
  options: PieceReadOptions
): Stream.Stream<Uint8Array, ReadError | DecompressError, Boundary | ObjectStore | Stats> => {
  const limit = options.prefetchBytes ?? 1024 * 1024
  const prefetch = Math.max(1, options.prefetch ?? 8)
  const read = (piece: Piece) => readPiece(objects[piece.object]!, piece, options)
  if (prefetch === 1) return Stream.flatMap(Stream.fromIterable(pieces), read)
  // A small whole object is one buffer fetched by one effect (`readSmall`), not a stream;
  // under `decompress: "auto"` its GET's Content-Encoding decides, as in `wholeByEncoding`.
  const readAhead = (piece: Piece) => {
    const object = objects[piece.object]!
    let encoding: string | undefined
    const onAnswer = (answer: { readonly contentEncoding: string | undefined }) => Effect.sync(() => {
      encoding = answer.contentEncoding
    })
    return readSmall(object.uri, versionOf(object), piece.range, options.decompress === "auto" ? { onAnswer } : {}).pipe(
      Effect.flatMap((bytes) => decoded(object, encoding, Stream.succeed(bytes)))
    )
  }
  return Stream.fromIterable(pieces).pipe(
    Stream.mapEffect(
      (piece) => isSmallWhole(piece, limit) ? readAhead(piece) : Effect.succeed(read(piece)),
      { concurrency: prefetch }
    ),
    Stream.flatten()
  )
}

