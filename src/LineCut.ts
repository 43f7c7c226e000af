/**
 * Where lines start and end, as pure functions over bytes. `alignUp` is the one rule of the
 * project (the first line start at or after x); `ChunkCutter` applies that rule to a chunk's
 * bytes as they stream past, so a reader needs no buffer. Bytes are never decoded as text.
 */
import type { ByteRange } from "./ByteRange.js"

/** The record delimiter. Everything else, `\r` included, is data. */
export const NEWLINE = 0x0a

/**
 * `alignUp(x)` over a complete object in memory: 0 for x <= 0, S for x >= S, otherwise one
 * past the first newline at or after x - 1, or S when there is none.
 */
export const alignUpIn = (bytes: Uint8Array, x: number): number => {
  if (x <= 0) return 0
  if (x >= bytes.length) return bytes.length
  const newline = bytes.indexOf(NEWLINE, x - 1)
  return newline === -1 ? bytes.length : newline + 1
}

/**
 * Cutter state: `offset` is the absolute position of the next byte to arrive; `start` is the
 * resolved start `alignUp(a)` once the bytes seen decide it. It stays undefined while skipping,
 * and when the chunk turns out empty before its first line start was seen (a line that runs
 * past b - 1, or an empty approximate range): then `alignUp(a) = alignUp(offset + 1)`, since no
 * newline lies in `[a - 1, offset)`.
 */
export interface CutterState {
  readonly phase: "skip" | "pass" | "done"
  readonly offset: number
  readonly start: number | undefined
}

/** What a step yields: the bytes of the chunk found in this piece, and whether the chunk is complete. */
export interface CutterOutput {
  readonly bytes: Uint8Array
  readonly done: boolean
}

const EMPTY = new Uint8Array(0)

/**
 * Cuts the resolved chunk `[alignUp(a), alignUp(b))` out of bytes that arrive in order from
 * `firstOffset(approx)` on, in pieces of any size.
 * - skip: drop bytes through the first newline at or after a - 1 (chunk 0 skips nothing);
 * - pass: emit bytes through the first newline at or after b - 1 (the last chunk, b = S,
 *   emits everything to the end of the object);
 * - done: the chunk is complete; further bytes are not needed.
 */
export class ChunkCutter {
  /** The first newline that may end the chunk lies at or after this offset. */
  private readonly endSearchFrom: number

  constructor(readonly approx: ByteRange, readonly objectSize: number) {
    this.endSearchFrom = approx.end >= objectSize ? Number.POSITIVE_INFINITY : approx.end - 1
  }

  /** The offset of the first byte the cutter must see. */
  get firstOffset(): number {
    return this.approx.start === 0 ? 0 : this.approx.start - 1
  }

  get initial(): CutterState {
    const { start, end } = this.approx
    if (start >= end) {
      return { phase: "done", offset: this.firstOffset, start: start === 0 ? 0 : start >= this.objectSize ? this.objectSize : undefined }
    }
    return start === 0 ? { phase: "pass", offset: 0, start: 0 } : { phase: "skip", offset: this.firstOffset, start: undefined }
  }

  step(state: CutterState, piece: Uint8Array): readonly [CutterState, CutterOutput] {
    if (state.phase === "done") return [state, { bytes: EMPTY, done: true }]
    let from = 0
    if (state.phase === "skip") {
      const newline = piece.indexOf(NEWLINE)
      if (newline === -1) {
        const offset = state.offset + piece.length
        // No newline in [a-1, offset): if that covers b-1, the line starting after it also
        // starts after b, so no line starts in [a, b) and the chunk is empty.
        return offset > this.endSearchFrom
          ? [{ phase: "done", offset, start: undefined }, { bytes: EMPTY, done: true }]
          : [{ phase: "skip", offset, start: undefined }, { bytes: EMPTY, done: false }]
      }
      if (state.offset + newline >= this.endSearchFrom) {
        const offset = state.offset + newline + 1
        return [{ phase: "done", offset, start: offset }, { bytes: EMPTY, done: true }]
      }
      from = newline + 1
    }
    const start = state.start ?? state.offset + from
    const searchFrom = Math.max(from, this.endSearchFrom - state.offset)
    const newline = searchFrom < piece.length ? piece.indexOf(NEWLINE, searchFrom) : -1
    if (newline !== -1) {
      return [{ phase: "done", offset: state.offset + newline + 1, start }, { bytes: piece.subarray(from, newline + 1), done: true }]
    }
    return [
      { phase: "pass", offset: state.offset + piece.length, start },
      { bytes: from === 0 ? piece : piece.subarray(from), done: false }
    ]
  }
}
