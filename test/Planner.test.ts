import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { plan } from "../src/Planner.js"

describe("Planner", () => {
  it("cuts 10 bytes into 3 chunks at 0, 3, 6 and gives the remainder to the last", () => {
    expect(plan(10, { _tag: "Chunks", chunks: 3 })).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 10 }
    ])
  })

  it("with more chunks than bytes, uses a step of 1 and leaves the tail chunks empty at S", () => {
    expect(plan(2, { _tag: "Chunks", chunks: 4 })).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 2 },
      { start: 2, end: 2 }
    ])
  })

  it("plans a 0-byte object as N empty ranges", () => {
    expect(plan(0, { _tag: "Chunks", chunks: 3 })).toEqual([{ start: 0, end: 0 }, { start: 0, end: 0 }, { start: 0, end: 0 }])
  })

  it("by chunk size, takes ceil(S/B) chunks of B bytes and one chunk for an empty object", () => {
    expect(plan(10, { _tag: "ChunkSize", chunkSize: 4 })).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 }
    ])
    expect(plan(0, { _tag: "ChunkSize", chunkSize: 4 })).toEqual([{ start: 0, end: 0 }])
  })

  it.prop(
    "ranges are contiguous, start at 0, end at S, and follow q = max(1, floor(S/N))",
    [FastCheck.integer({ min: 0, max: 1e12 }), FastCheck.integer({ min: 1, max: 5000 })],
    ([size, chunks]) => {
      const ranges = plan(size, { _tag: "Chunks", chunks })
      const q = Math.max(1, Math.floor(size / chunks))
      expect(ranges).toHaveLength(chunks)
      ranges.forEach((range, i) => {
        expect(range.start).toBe(Math.min(size, i * q))
        expect(range.end).toBe(i === chunks - 1 ? size : ranges[i + 1]!.start)
      })
    }
  )
})
