/**
 * Line boundaries read straight from the store. `alignUp` finds one boundary with windows that
 * double in size (the first read into one buffer, without stream stages); `readChunk` streams
 * one resolved chunk with a single GET in the common case, continuing with doubling windows
 * only when the chunk's last line runs past the lookahead.
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ByteRange } from "./ByteRange.js"
import type { ReadError } from "./Errors.js"
import { ChunkCutter, NEWLINE } from "./LineCut.js"
import type { CutterState } from "./LineCut.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectVersion } from "./ObjectStore.js"
import type { ObjectUri } from "./ObjectUri.js"
import { readRange, readSmall } from "./Retry.js"
import { Stats } from "./Stats.js"

/** The smallest window used once the lookahead has run out. */
const MIN_WINDOW = 64 * 1024

/** A first search window up to this size is read into one buffer; a larger one is streamed. */
const DIRECT_WINDOW = 1024 * 1024

export interface ReadOptions {
  /** Bytes read past the approximate end in the first request, to find the last line's end. */
  readonly lookahead: number
  /**
   * `readChunk` only: told the chunk's resolved start `alignUp(a)` once per read, before the
   * chunk's first byte is emitted (or before the stream ends, for an empty chunk). It comes
   * from the bytes read anyway; only an empty chunk whose line runs past its end reads on to
   * that line's end (windows from where the chunk's read stopped, as `alignUp`).
   */
  readonly onStart?: (start: number) => Effect.Effect<void>
}

export class Boundary extends Context.Tag("s3split/Boundary")<Boundary, {
  /**
   * The first line start at or after `x`: 0 for x <= 0, S for x >= S, otherwise one past the
   * first newline at or after x - 1 (or S when there is none). Reads windows from x - 1 of
   * `lookahead` bytes (at least 64 KiB), doubling each time, until a newline or the end of
   * the object; never gives up before that. A first window of up to 1 MiB is one GET into one
   * buffer (`Retry.readSmall`); the later ones, and a larger first one, are streamed and
   * abandoned at the newline. Retries and resumes as `Retry.readRange`.
   */
  readonly alignUp: (
    uri: ObjectUri,
    version: ObjectVersion,
    x: number,
    options: ReadOptions
  ) => Effect.Effect<number, ReadError, Stats>
  /**
   * The bytes of the resolved chunk `[alignUp(a), alignUp(b))` for the approximate range
   * `[a, b)`: exactly the lines whose first byte lies in `[a, b)`, possibly none. One GET of
   * `[a - 1, b + lookahead)` in the common case, then doubling windows until the end of the
   * last line; the body is abandoned as soon as the chunk is complete. An empty approximate
   * range makes no request (but for `onStart`, when it lies before the end of the object).
   * Retries and resumes as `Retry.readRange`.
   */
  readonly readChunk: (
    uri: ObjectUri,
    version: ObjectVersion,
    approx: ByteRange,
    options: ReadOptions
  ) => Stream.Stream<Uint8Array, ReadError, Stats>
}>() {}

type Cutting<E, R> = Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, E, E, unknown, unknown, R>

/**
 * The cutter as one stream stage: each incoming chunk of pieces is cut in a plain loop (a
 * chunk's middle pieces pass through untouched, only its first and last windows are searched),
 * and the stage ends, releasing the upstream read, as soon as the chunk is complete. With
 * `announce`, the first state that knows the start (or the last one, when none does) is
 * announced once, before any byte is written.
 */
const cutting = <E, R>(
  cutter: ChunkCutter,
  announce: ((state: CutterState) => Effect.Effect<void, E, R>) | undefined
): Cutting<E, R> => {
  const loop = (state: CutterState, announced: boolean): Cutting<E, R> =>
    Channel.readWithCause({
      onInput: (pieces: Chunk.Chunk<Uint8Array>) => {
        const out: Array<Uint8Array> = []
        let current = state
        for (const piece of pieces) {
          const [next, output] = cutter.step(current, piece)
          current = next
          if (output.bytes.length > 0) out.push(output.bytes)
          if (output.done) break
        }
        const done = current.phase === "done"
        const written = out.length > 0 ? Channel.write(Chunk.unsafeFromArray(out)) : Channel.void
        const rest: Cutting<E, R> = done ? written : Channel.zipRight(written, loop(current, announced))
        // Bytes are written only once the start is known, so announcing first keeps the order.
        if (announced || (current.start === undefined && !done)) return rest
        return Channel.zipRight(Channel.fromEffect(announce!(current)), done ? rest : Channel.zipRight(written, loop(current, true)))
      },
      onFailure: Channel.failCause,
      onDone: () => (announced ? Channel.void : Channel.fromEffect(announce!(state)))
    })
  return loop(cutter.initial, announce === undefined)
}

export const make = Effect.gen(function*() {
  const store = yield* ObjectStore

  /** The bytes from `from` to the end of the object: `[from, firstEnd)`, then windows doubling from `nextSize`. */
  const windows = (uri: ObjectUri, version: ObjectVersion, from: number, firstEnd: number, nextSize: number) => {
    const go = (start: number, end: number, size: number): Stream.Stream<Uint8Array, ReadError, ObjectStore | Stats> =>
      start >= version.size
        ? Stream.empty
        : Stream.concat(
          readRange(uri, version, { start, end: Math.min(end, version.size) }),
          Stream.suspend(() => go(end, end + size, size * 2))
        )
    return go(from, firstEnd, nextSize)
  }

  const alignUp = (uri: ObjectUri, version: ObjectVersion, x: number, options: ReadOptions) => {
    if (x <= 0) return Effect.succeed(0)
    if (x >= version.size) return Effect.succeed(version.size)
    const window = Math.max(options.lookahead, MIN_WINDOW)
    // The first window is one buffer (`readSmall`, no stream stages) when it is small enough to
    // hold; a line longer than it is found by the doubling windows streamed below.
    if (window > DIRECT_WINDOW) return searchWindows(uri, version, x - 1, x - 1 + window, window * 2)
    const end = Math.min(x - 1 + window, version.size)
    return readSmall(uri, version, { start: x - 1, end }).pipe(
      Effect.flatMap((bytes) => {
        const newline = bytes.indexOf(NEWLINE)
        return newline !== -1
          ? Effect.succeed(x - 1 + newline + 1)
          : searchWindows(uri, version, end, end + window * 2, window * 4)
      }),
      Effect.provideService(ObjectStore, store)
    )
  }

  /** The first line end in the doubling windows from `from` (the first ending at `firstEnd`), or S. */
  const searchWindows = (uri: ObjectUri, version: ObjectVersion, from: number, firstEnd: number, nextSize: number) =>
    windows(uri, version, from, firstEnd, nextSize).pipe(
      Stream.mapAccum(from, (offset, bytes) => {
        const newline = bytes.indexOf(NEWLINE)
        return [offset + bytes.length, newline === -1 ? Option.none() : Option.some(offset + newline + 1)]
      }),
      Stream.filterMap((found) => found),
      Stream.runHead,
      Effect.map(Option.getOrElse(() => version.size)),
      Effect.provideService(ObjectStore, store)
    )

  const readChunk = (uri: ObjectUri, version: ObjectVersion, approx: ByteRange, options: ReadOptions) => {
    const cutter = new ChunkCutter(approx, version.size)
    const onStart = options.onStart
    // A state with no start has seen no newline in [a - 1, offset): the start is alignUp(offset + 1).
    const announce = onStart === undefined ? undefined : (state: CutterState) =>
      Effect.flatMap(
        state.start === undefined ? alignUp(uri, version, state.offset + 1, options) : Effect.succeed(state.start),
        onStart
      )
    if (approx.start >= approx.end) return announce === undefined ? Stream.empty : Stream.execute(announce(cutter.initial))
    const firstEnd = approx.end >= version.size ? version.size : approx.end + options.lookahead
    return windows(uri, version, cutter.firstOffset, firstEnd, Math.max(options.lookahead, MIN_WINDOW) * 2).pipe(
      Stream.pipeThroughChannel(cutting(cutter, announce)),
      Stream.provideService(ObjectStore, store)
    )
  }

  return Boundary.of({ alignUp, readChunk })
})

/** The boundary logic over the provided `ObjectStore`; each call counts into the caller's `Stats`. */
export const layer = Layer.effect(Boundary, make)
