/**
 * The bench report: medians per (size, N, strategy), the ratios against baseline and ideal,
 * and the Markdown table and SVG chart rendered from them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Report from "../../src/bench/Report.js"
import type { StrategyName } from "../../src/bench/Strategies.js"

const MB = 1_000_000

const run = (strategy: StrategyName, chunks: number, wallMs: number, extra: Partial<Report.Run> = {}): Report.Run => ({
  size: 100 * MB,
  chunks,
  repetition: 0,
  strategy,
  wallMs,
  gets: chunks,
  slowdowns: 0,
  bodyBytes: 100 * MB,
  bytesFetched: 100 * MB,
  requests: chunks,
  retries: 0,
  peakRssBytes: 80 * 1024 * 1024,
  chunkSizes: [],
  ...extra
})

describe("bench report", () => {
  it("takes the median, the mean of the middle two for an even count", () => {
    expect(Report.median([3, 1, 2])).toBe(2)
    expect(Report.median([4, 1, 3, 2])).toBe(2.5)
  })

  it("folds repetitions into medians and compares each strategy with baseline and ideal", () => {
    const rows = Report.aggregate([
      run("baseline", 4, 1000, { gets: 1 }),
      run("baseline", 4, 1200, { gets: 1 }),
      run("baseline", 4, 1100, { gets: 1 }),
      run("ideal", 4, 250),
      run("s3split", 4, 260, { bodyBytes: 100 * MB + 50_000, peakRssBytes: 90 * 1024 * 1024 }),
      run("s3split", 4, 240, { bodyBytes: 100 * MB + 70_000 })
    ])
    expect(rows.map((row) => row.strategy)).toEqual(["baseline", "s3split", "ideal"])
    const s3split = rows.find((row) => row.strategy === "s3split")!
    expect(s3split).toMatchObject({
      repetitions: 2,
      wallMs: 250,
      throughputMBps: 400,
      getsPerChunk: 1,
      beyondBytes: 60_000,
      beyondFraction: 0.0006,
      peakRssBytes: 90 * 1024 * 1024,
      speedup: 1100 / 250,
      ofIdeal: 1
    })
    expect(rows.find((row) => row.strategy === "baseline")).toMatchObject({ wallMs: 1100, gets: 1, getsPerChunk: 0.25, speedup: 1 })
  })

  it("renders one table row per (size, N, strategy) and a chart line per strategy", () => {
    const rows = Report.aggregate([
      run("baseline", 1, 1000),
      run("s3split", 1, 1000),
      run("baseline", 4, 1000),
      run("s3split", 4, 300)
    ])
    const table = Report.markdownTable(rows).trimEnd().split("\n")
    expect(table).toHaveLength(2 + 4)
    expect(table[0]).toContain("| size | N | strategy |")
    expect(table[5]).toContain("**s3split**")
    expect(table[5]).toContain("3.33x")
    const svg = Report.svgChart(rows, "title <1>", "model")
    expect(svg.startsWith("<svg")).toBe(true)
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true)
    expect(svg.match(/<polyline/g)).toHaveLength(2)
    expect(svg).toContain("title &lt;1&gt;")
  })

  it("labels sizes compactly", () => {
    expect([Report.sizeLabel(64 * 1024 * 1024), Report.sizeLabel(1024 ** 3), Report.sizeLabel(1500)]).toEqual(["64MiB", "1GiB", "1500B"])
  })
})
