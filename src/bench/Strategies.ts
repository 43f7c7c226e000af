/**
 * The five ways of giving N workers their chunks of one object that the bench compares. Each
 * reads through the project's `ObjectStore` (with `Retry`'s retries), runs its chunks at once
 * as N workers would, counts and discards the bytes, and reports every chunk's size and last
 * byte so the caller can check the cut:
 * - baseline: one GET of the whole object, cut locally into N line-aligned parts as it streams;
 * - smart: the coordinator resolves every boundary with window reads, then N exact GETs;
 * - approximate: the method as first published, per chunk one after the other: a 1-byte GET
 *   of the previous byte, a window GET for the start, a window GET for the end, the body;
 * - s3split: `Boundary.readChunk`, the streaming one-GET reader;
 * - ideal: N raw ranged GETs of the approximate ranges, no alignment (the physical limit).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Boundary } from "../Boundary.js"
import type { ByteRange } from "../ByteRange.js"
import { IntegrityError } from "../Errors.js"
import type { ReadError } from "../Errors.js"
import { ChunkCutter, NEWLINE } from "../LineCut.js"
import type { CutterState } from "../LineCut.js"
import type { ObjectStore, ObjectVersion } from "../ObjectStore.js"
import type { ObjectUri } from "../ObjectUri.js"
import { format } from "../ObjectUri.js"
import { plan } from "../Planner.js"
import { readRange } from "../Retry.js"
import type { Stats } from "../Stats.js"

export const STRATEGIES = ["baseline", "smart", "approximate", "s3split", "ideal"] as const
export type StrategyName = typeof STRATEGIES[number]

/** How each strategy is shown to people. */
export const LABELS: Record<StrategyName, string> = {
  baseline: "baseline (1 GET + local split)",
  smart: "smart boundaries",
  approximate: "approximate (original)",
  s3split: "s3split",
  ideal: "ideal (raw ranges)"
}

/** Whether a strategy's chunks are line-aligned (all but `ideal`). */
export const isAligned = (name: StrategyName) => name !== "ideal"

export interface StrategyInput {
  readonly uri: ObjectUri
  readonly version: ObjectVersion
  readonly chunks: number
  /** Bytes read past a boundary in one request: s3split's lookahead, the others' window. */
  readonly lookahead: number
}

/** What a worker saw of its chunk: its length, and its last byte (-1 when empty). */
export interface ChunkSeen {
  readonly bytes: number
  readonly lastByte: number
}

const EMPTY: ChunkSeen = { bytes: 0, lastByte: -1 }

/** Reads a stream to its end, keeping only its length and last byte. */
const drain = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Stream.runFold(stream, EMPTY, (seen, piece) =>
    piece.length === 0 ? seen : { bytes: seen.bytes + piece.length, lastByte: piece[piece.length - 1]! })

/**
 * A local `split -n l/N` over one sequential pass of the whole object: the project's
 * `ChunkCutter` for every chunk, each fed from its first offset on. Only the cutters whose
 * range the current piece reaches are active, so a pass costs O(bytes), not O(bytes * N).
 */
export class LocalSplit {
  private readonly cutters: ReadonlyArray<ChunkCutter>
  private readonly states: Array<CutterState>
  private readonly seen: Array<ChunkSeen>
  private active: Array<number> = []
  private next = 0
  private offset = 0

  constructor(approx: ReadonlyArray<ByteRange>, size: number) {
    this.cutters = approx.map((range) => new ChunkCutter(range, size))
    this.states = this.cutters.map((cutter) => cutter.initial)
    this.seen = approx.map(() => EMPTY)
  }

  push(piece: Uint8Array): void {
    const end = this.offset + piece.length
    while (this.next < this.cutters.length && this.cutters[this.next]!.firstOffset < end) {
      if (this.states[this.next]!.phase !== "done") this.active.push(this.next)
      this.next++
    }
    this.active = this.active.filter((i) => {
      const from = Math.max(0, this.cutters[i]!.firstOffset - this.offset)
      const [state, output] = this.cutters[i]!.step(this.states[i]!, from === 0 ? piece : piece.subarray(from))
      this.states[i] = state
      if (output.bytes.length > 0) {
        const seen = this.seen[i]!
        this.seen[i] = { bytes: seen.bytes + output.bytes.length, lastByte: output.bytes[output.bytes.length - 1]! }
      }
      return !output.done
    })
    this.offset = end
  }

  /** Every chunk as cut so far (all of them once the whole object went through `push`). */
  result(): ReadonlyArray<ChunkSeen> {
    return [...this.seen]
  }
}

type Run = (input: StrategyInput, approx: ReadonlyArray<ByteRange>) => Effect.Effect<ReadonlyArray<ChunkSeen>, ReadError, ObjectStore | Boundary | Stats>

const baseline: Run = (input, approx) =>
  Effect.suspend(() => {
    const splitter = new LocalSplit(approx, input.version.size)
    const whole = { start: 0, end: input.version.size }
    return Stream.runForEach(readRange(input.uri, input.version, whole), (piece) => Effect.sync(() => splitter.push(piece))).pipe(
      Effect.map(() => splitter.result())
    )
  })

const smart: Run = (input, approx) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const size = input.version.size
    const starts = yield* Effect.forEach(
      approx,
      (range) => boundary.alignUp(input.uri, input.version, range.start, { lookahead: input.lookahead }),
      { concurrency: "unbounded" }
    )
    return yield* Effect.forEach(
      starts,
      (start, i) => drain(readRange(input.uri, input.version, { start, end: starts[i + 1] ?? size })),
      { concurrency: "unbounded" }
    )
  })

const approximate: Run = (input, approx) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const { uri, version } = input
    const size = version.size
    const options = { lookahead: input.lookahead }
    // alignUp(x) reads one window from x - 1: alignUp(a + 1) is the search for the first
    // newline at or after a, alignUp(b) the search from b - 1 for the end of the last line.
    const chunk = (range: ByteRange) =>
      Effect.gen(function*() {
        if (range.start >= range.end) return EMPTY
        let start = 0
        if (range.start > 0) {
          const previous = yield* drainBytes(readRange(uri, version, { start: range.start - 1, end: range.start }))
          start = previous[0] === NEWLINE ? range.start : yield* boundary.alignUp(uri, version, range.start + 1, options)
        }
        const end = range.end >= size ? size : yield* boundary.alignUp(uri, version, range.end, options)
        return start >= end ? EMPTY : yield* drain(readRange(uri, version, { start, end }))
      })
    return yield* Effect.forEach(approx, chunk, { concurrency: "unbounded" })
  })

/** The few bytes of a tiny read, kept. */
const drainBytes = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Stream.runFold(stream, new Uint8Array(0), (kept, piece) => {
    const joined = new Uint8Array(kept.length + piece.length)
    joined.set(kept)
    joined.set(piece, kept.length)
    return joined
  })

const s3split: Run = (input, approx) =>
  Effect.flatMap(Boundary, (boundary) =>
    Effect.forEach(
      approx,
      (range) => drain(boundary.readChunk(input.uri, input.version, range, { lookahead: input.lookahead })),
      { concurrency: "unbounded" }
    ))

const ideal: Run = (input, approx) =>
  Effect.forEach(approx, (range) => drain(readRange(input.uri, input.version, range)), { concurrency: "unbounded" })

const RUNS: Record<StrategyName, Run> = { baseline, smart, approximate, s3split, ideal }

/**
 * Checks what the workers saw: together exactly the object's bytes, and for a line-aligned
 * strategy every chunk before the last non-empty one ends with a newline.
 */
export const verify = (name: StrategyName, input: StrategyInput, chunks: ReadonlyArray<ChunkSeen>) => {
  const where = format(input.uri)
  const total = chunks.reduce((sum, chunk) => sum + chunk.bytes, 0)
  if (total !== input.version.size) {
    return Effect.fail(new IntegrityError({ uri: where, reason: `${name}: the chunks hold ${total} bytes, the object ${input.version.size}` }))
  }
  if (isAligned(name)) {
    const nonEmpty = chunks.map((chunk, index) => ({ ...chunk, index })).filter((chunk) => chunk.bytes > 0)
    const cut = nonEmpty.slice(0, -1).find((chunk) => chunk.lastByte !== NEWLINE)
    if (cut !== undefined) {
      return Effect.fail(new IntegrityError({ uri: where, reason: `${name}: chunk ${cut.index} ends inside a line` }))
    }
  }
  return Effect.void
}

/**
 * Runs strategy `name` for an object of `input.version` cut into `input.chunks` chunks, and
 * returns what each chunk's worker received, in chunk order. Fails with the reader's typed
 * errors, or `IntegrityError` when the chunks do not add up to the object or cut a line.
 */
export const run = (name: StrategyName, input: StrategyInput) =>
  Effect.gen(function*() {
    const approx = plan(input.version.size, { _tag: "Chunks", chunks: input.chunks })
    const chunks = yield* RUNS[name](input, approx)
    yield* verify(name, input, chunks)
    return chunks
  })
