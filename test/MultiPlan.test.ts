/**
 * The many-object plan against the definition read literally: every line of every object is
 * owned by the chunk whose approximate range holds its first byte in the concatenation, every
 * compressed object by the chunk that holds its first byte; pieces resolved with `alignUpIn`
 * give exactly those lines.
 */
import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { alignUpIn } from "../src/LineCut.js"
import { offsetsOf, piecesBytes, planObjects } from "../src/MultiPlan.js"
import type { Piece } from "../src/MultiPlan.js"
import { plan } from "../src/Planner.js"
import type { PlanSpec } from "../src/Planner.js"
import { adversarialBytes } from "./utils/Reference.js"

interface TestObject {
  readonly bytes: Uint8Array
  readonly compressed: boolean
}

const objectSets: FastCheck.Arbitrary<Array<TestObject>> = FastCheck.array(
  FastCheck.record({
    bytes: FastCheck.oneof(adversarialBytes, FastCheck.constant(new Uint8Array(0))),
    compressed: FastCheck.boolean()
  }),
  { maxLength: 12 }
)

const specs: FastCheck.Arbitrary<PlanSpec> = FastCheck.oneof(
  FastCheck.integer({ min: 1, max: 40 }).map((chunks): PlanSpec => ({ _tag: "Chunks", chunks })),
  FastCheck.integer({ min: 1, max: 400 }).map((chunkSize): PlanSpec => ({ _tag: "ChunkSize", chunkSize }))
)

const planOf = (objects: ReadonlyArray<TestObject>, spec: PlanSpec) =>
  planObjects(objects.map((object) => ({ size: object.bytes.length, compressed: object.compressed })), spec)

/** A piece's bytes once its approximate ends are moved to line starts, as a worker reads it. */
const resolvePiece = (objects: ReadonlyArray<TestObject>, piece: Piece): Uint8Array => {
  const bytes = objects[piece.object]!.bytes
  if (piece.compressed) return bytes
  return bytes.subarray(alignUpIn(bytes, piece.range.start), alignUpIn(bytes, piece.range.end))
}

/** For each chunk, the bytes it owns by definition: whole lines of one object after another. */
const referenceChunks = (objects: ReadonlyArray<TestObject>, approx: ReadonlyArray<{ start: number; end: number }>) => {
  const owned: Array<Array<Uint8Array>> = approx.map(() => [])
  const ownerOf = (x: number) => approx.findIndex((range) => range.start <= x && x < range.end)
  const offsets = offsetsOf(objects.map((object) => ({ size: object.bytes.length, compressed: object.compressed })))
  objects.forEach((object, j) => {
    if (object.bytes.length === 0) return
    if (object.compressed) return owned[ownerOf(offsets[j]!)]!.push(object.bytes)
    let lineStart = 0
    while (lineStart < object.bytes.length) {
      const newline = object.bytes.indexOf(0x0a, lineStart)
      const lineEnd = newline === -1 ? object.bytes.length : newline + 1
      owned[ownerOf(offsets[j]! + lineStart)]!.push(object.bytes.subarray(lineStart, lineEnd))
      lineStart = lineEnd
    }
  })
  return owned.map((lines) => Buffer.concat(lines))
}

describe("MultiPlan.planObjects", () => {
  it.prop(
    "each chunk's resolved pieces are exactly the lines it owns by definition",
    [objectSets, specs],
    ([objects, spec]) => {
      const { approx, pieces } = planOf(objects, spec)
      expect(pieces.map((chunk) => Buffer.concat(chunk.map((piece) => resolvePiece(objects, piece))))).toEqual(
        referenceChunks(objects, approx)
      )
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "the resolved pieces tile every object exactly once, in chunk order, and never cross an object",
    [objectSets, specs],
    ([objects, spec]) => {
      const { pieces } = planOf(objects, spec)
      const covered = objects.map(() => 0)
      let lastObject = -1
      for (const piece of pieces.flat()) {
        const bytes = objects[piece.object]!.bytes
        expect(piece.object).toBeGreaterThanOrEqual(lastObject)
        lastObject = piece.object
        expect(piece.range.start < piece.range.end).toBe(true)
        expect(piece.range.end).toBeLessThanOrEqual(bytes.length)
        expect(piece.alignStart).toBe(piece.range.start > 0)
        expect(piece.alignEnd).toBe(piece.range.end < bytes.length)
        if (piece.compressed) expect(piece.range).toEqual({ start: 0, end: bytes.length })
        const start = piece.compressed ? 0 : alignUpIn(bytes, piece.range.start)
        const end = piece.compressed ? bytes.length : alignUpIn(bytes, piece.range.end)
        expect(start).toBe(covered[piece.object])
        covered[piece.object] = end
      }
      expect(covered).toEqual(objects.map((object) => object.bytes.length))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "balance: a chunk's approximate bytes are at most its planned width plus the largest compressed object",
    [
      FastCheck.array(
        FastCheck.record({ size: FastCheck.integer({ min: 0, max: 1e9 }), compressed: FastCheck.boolean() }),
        { maxLength: 60 }
      ),
      FastCheck.integer({ min: 1, max: 500 })
    ],
    ([objects, chunks]) => {
      const { approx, pieces, size } = planObjects(objects, { _tag: "Chunks", chunks })
      const largest = Math.max(0, ...objects.filter((object) => object.compressed).map((object) => object.size))
      const total = pieces.reduce((sum, chunk) => sum + piecesBytes(chunk), 0)
      expect(total).toBe(size)
      pieces.forEach((chunk, i) => {
        const width = approx[i]!.end - approx[i]!.start
        // The width is floor(S/N), the last chunk also taking the remainder (< N bytes).
        expect(width).toBeLessThanOrEqual(size / chunks + (i === chunks - 1 ? chunks : 1))
        expect(piecesBytes(chunk)).toBeLessThanOrEqual(width + largest)
      })
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "one object that can be cut gives today's plan: one piece per non-empty approximate range",
    [FastCheck.integer({ min: 0, max: 1e12 }), FastCheck.integer({ min: 1, max: 500 }), FastCheck.boolean()],
    ([size, n, bySize]) => {
      // By size, n is the number of chunks wanted: B = ceil(S / n) keeps the plan small.
      const spec: PlanSpec = bySize ? { _tag: "ChunkSize", chunkSize: Math.max(1, Math.ceil(size / n)) } : { _tag: "Chunks", chunks: n }
      const { approx, pieces } = planObjects([{ size, compressed: false }], spec)
      expect(approx).toEqual(plan(size, spec))
      expect(pieces).toEqual(approx.map((range) =>
        range.start < range.end
          ? [{ object: 0, range, alignStart: range.start > 0, alignEnd: range.end < size, compressed: false }]
          : []
      ))
    }
  )

  it("packs small objects whole and cuts a large one, balanced by bytes", () => {
    const objects = [
      { size: 10, compressed: false },
      { size: 0, compressed: false },
      { size: 10, compressed: true },
      { size: 60, compressed: false },
      { size: 20, compressed: true }
    ]
    const { pieces } = planObjects(objects, { _tag: "Chunks", chunks: 4 })
    expect(pieces).toEqual([
      [
        { object: 0, range: { start: 0, end: 10 }, alignStart: false, alignEnd: false, compressed: false },
        { object: 2, range: { start: 0, end: 10 }, alignStart: false, alignEnd: false, compressed: true },
        { object: 3, range: { start: 0, end: 5 }, alignStart: false, alignEnd: true, compressed: false }
      ],
      [{ object: 3, range: { start: 5, end: 30 }, alignStart: true, alignEnd: true, compressed: false }],
      [{ object: 3, range: { start: 30, end: 55 }, alignStart: true, alignEnd: true, compressed: false }],
      [
        { object: 3, range: { start: 55, end: 60 }, alignStart: true, alignEnd: false, compressed: false },
        { object: 4, range: { start: 0, end: 20 }, alignStart: false, alignEnd: false, compressed: true }
      ]
    ])
  })

  it("a compressed object spanning several cuts belongs whole to the chunk of its first byte", () => {
    const { pieces } = planObjects([{ size: 5, compressed: false }, { size: 100, compressed: true }, { size: 5, compressed: false }], {
      _tag: "Chunks",
      chunks: 11
    })
    expect(pieces.map((chunk) => chunk.map((piece) => piece.object))).toEqual([[0, 1], [], [], [], [], [], [], [], [], [], [2]])
  })

  it("empty objects, and no objects at all, give chunks without pieces", () => {
    expect(planObjects([{ size: 0, compressed: false }, { size: 0, compressed: true }], { _tag: "Chunks", chunks: 3 }).pieces).toEqual([[], [], []])
    expect(planObjects([], { _tag: "ChunkSize", chunkSize: 10 }).pieces).toEqual([[]])
  })
})
