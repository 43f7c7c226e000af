/**
 * How a split is shown: the table at any N, and part names that sort in chunk order.
 */
import { describe, expect, it } from "@effect/vitest"
import { ChunkRow, isPartName, partName } from "../src/Manifest.js"
import * as Report from "../src/Report.js"

describe("the table", () => {
  it("renders a million rows (no spread into Math.max)", () => {
    const rows = Array.from({ length: 1_000_000 }, (_, index) =>
      new ChunkRow({ index, approxStart: index, approxEnd: index + 1, start: index, end: index + 1, bytes: 1 }))
    const table = Report.table(rows, 1_000_000)
    expect(table).toHaveLength(1_000_000 + 5)
    expect(table.at(-2)).toMatch(/^ *total +0 +1000000 +1000000$/)
    expect(table.at(-1)).toBe("1000000 chunks (0 empty), ranges are half-open [start, end)")
    expect(new Set(table.slice(0, -1).map((line) => line.length)).size).toBe(1)
  })
})

describe("part names", () => {
  it("keep five digits up to 100,000 chunks", () => {
    expect(partName(0, 1)).toBe("part-00000")
    expect(partName(99_999, 100_000)).toBe("part-99999")
  })

  it("widen past 100,000 chunks so that name order is chunk order", () => {
    const names = Array.from({ length: 100_001 }, (_, i) => partName(i, 100_001))
    expect(names[0]).toBe("part-000000")
    expect(names[100_000]).toBe("part-100000")
    expect([...names].sort()).toEqual(names)
    expect(names.every(isPartName)).toBe(true)
    expect(isPartName("part-1")).toBe(false)
    expect(isPartName("_manifest.json")).toBe(false)
  })
})
