/**
 * The plan of a many-object source: the one rule laid over the objects' bytes taken in order.
 * The cut points `a_i` are `Planner.plan` of the total size S; chunk i owns the lines whose
 * first byte lies in `[a_i, a_{i+1})`, and no line crosses an object (an object's last line
 * ends at its end, newline or not). A compressed object cannot be cut: it is one unit, weighted
 * by its stored size, owned whole by the chunk in which its first byte lies. Pure arithmetic.
 */
import type { ByteRange } from "./ByteRange.js"
import { plan } from "./Planner.js"
import type { PlanSpec } from "./Planner.js"

/** What the plan needs to know of an object. */
export interface PlanObject {
  readonly size: number
  readonly compressed: boolean
}

/**
 * The part of one object a chunk reads. `range` is half-open within the object. `alignStart`
 * (`alignEnd`) is true when that end is an approximate cut inside the object, to be moved to
 * the next line start (`alignUp`); false when it is the object's start (end), which is exact.
 * A compressed piece is always the whole object, both ends exact.
 */
export interface Piece {
  /** The object's index in the source's ordered list. */
  readonly object: number
  readonly range: ByteRange
  readonly alignStart: boolean
  readonly alignEnd: boolean
  readonly compressed: boolean
}

export interface MultiPlan {
  /** The total size S of the objects (compressed ones at their stored size). */
  readonly size: number
  /** `offsets[j]` is where object j starts in the concatenation; `offsets[n] = S`. */
  readonly offsets: ReadonlyArray<number>
  /** The approximate ranges `[a_i, a_{i+1})` over the concatenation: `Planner.plan(S, spec)`. */
  readonly approx: ReadonlyArray<ByteRange>
  /** The pieces of each chunk, in object order. */
  readonly pieces: ReadonlyArray<ReadonlyArray<Piece>>
}

/** Where each object starts in the concatenation, and S last. */
export const offsetsOf = (objects: ReadonlyArray<PlanObject>): Array<number> => {
  const offsets = new Array<number>(objects.length + 1)
  offsets[0] = 0
  for (let j = 0; j < objects.length; j++) offsets[j + 1] = offsets[j]! + objects[j]!.size
  return offsets
}

/** The first object j whose end `offsets[j + 1]` lies after `x` (`objects.length` when none). */
export const firstEndingAfter = (offsets: ReadonlyArray<number>, x: number): number => {
  let lo = 0
  let hi = offsets.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (offsets[mid + 1]! > x) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * The pieces of the chunk whose approximate range over the concatenation is `approx`: for
 * each non-empty object it meets, in order, the intersection (in the object's own
 * coordinates) if the object can be cut, or the whole object if it is compressed and its
 * first byte lies in `approx`. Empty objects have no piece: they hold no line. O(log n + k)
 * for k pieces, so a worker given only its approximate range computes the same pieces.
 */
export const piecesIn = (
  objects: ReadonlyArray<PlanObject>,
  offsets: ReadonlyArray<number>,
  approx: ByteRange
): Array<Piece> => {
  const pieces: Array<Piece> = []
  if (approx.start >= approx.end) return pieces
  for (let j = firstEndingAfter(offsets, approx.start); j < objects.length && offsets[j]! < approx.end; j++) {
    const object = objects[j]!
    const start = offsets[j]!
    if (object.size === 0) continue
    if (object.compressed) {
      if (start >= approx.start) {
        pieces.push({ object: j, range: { start: 0, end: object.size }, alignStart: false, alignEnd: false, compressed: true })
      }
      continue
    }
    const from = Math.max(approx.start, start) - start
    const to = Math.min(approx.end, start + object.size) - start
    pieces.push({ object: j, range: { start: from, end: to }, alignStart: from > 0, alignEnd: to < object.size, compressed: false })
  }
  return pieces
}

/**
 * The plan of the objects, in the order given, cut as `spec` says. With one object that can
 * be cut, chunk i has one piece whose range is today's approximate range i (or none when that
 * range is empty). Each chunk's approximate bytes are at most its range's width
 * (`Planner.plan`: S/N, the last chunk also taking the remainder of fewer than N bytes) plus
 * the largest compressed object. Integer math only.
 */
export const planObjects = (objects: ReadonlyArray<PlanObject>, spec: PlanSpec): MultiPlan => {
  const offsets = offsetsOf(objects)
  const size = offsets[objects.length]!
  const approx = plan(size, spec)
  return { size, offsets, approx, pieces: approx.map((range) => piecesIn(objects, offsets, range)) }
}

/**
 * The objects that a cut point of `Planner.plan(S, spec)` falls strictly inside, in order:
 * those that can be cut (not compressed, not empty) and would be read in two or more pieces.
 * At most N - 1 of them. Marking some of them compressed changes neither S nor the cut
 * points, so the others stay exactly these. Integer math only.
 */
export const straddling = (objects: ReadonlyArray<PlanObject>, spec: PlanSpec): Array<number> => {
  const offsets = offsetsOf(objects)
  const found: Array<number> = []
  for (const [i, range] of plan(offsets[objects.length]!, spec).entries()) {
    if (i === 0) continue
    const j = firstEndingAfter(offsets, range.start)
    if (j >= objects.length || offsets[j]! >= range.start || objects[j]!.compressed) continue
    if (found[found.length - 1] !== j) found.push(j)
  }
  return found
}

/** The approximate bytes of a chunk's pieces (before line alignment). */
export const piecesBytes = (pieces: ReadonlyArray<Piece>): number =>
  pieces.reduce((sum, piece) => sum + piece.range.end - piece.range.start, 0)
