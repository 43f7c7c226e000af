/**
 * How a split is shown: an aligned table with totals for people, or one JSON object per chunk
 * per line for programs.
 */
import type { ChunkResult } from "./ChunkTask.js"
import type { ChunkRow } from "./Manifest.js"

/** One JSON object per chunk, in index order, each on its own line. */
export const jsonLines = (rows: ReadonlyArray<ChunkRow>): string =>
  rows.map((row) => JSON.stringify({
    index: row.index,
    approxStart: row.approxStart,
    approxEnd: row.approxEnd,
    start: row.start,
    end: row.end,
    bytes: row.bytes
  }) + "\n").join("")

/** A table of half-open resolved ranges `[start, end)`, with a totals line. */
export const table = (rows: ReadonlyArray<ChunkRow>, size: number): string => {
  const header = ["index", "start", "end", "bytes"]
  const body = rows.map((row) => [row.index, row.start, row.end, row.bytes].map(String))
  const empty = rows.filter((row) => row.bytes === 0).length
  const footer = ["total", "0", String(size), String(rows.reduce((sum, row) => sum + row.bytes, 0))]
  const all = [header, ...body, footer]
  const widths = header.map((_, column) => Math.max(...all.map((line) => line[column]!.length)))
  const render = (line: ReadonlyArray<string>) => line.map((cell, column) => cell.padStart(widths[column]!)).join("  ")
  const rule = widths.map((width) => "-".repeat(width)).join("  ")
  return [
    render(header),
    rule,
    ...body.map(render),
    rule,
    render(footer),
    `${rows.length} chunks (${empty} empty), ranges are half-open [start, end)`
  ].join("\n") + "\n"
}

/** The run summary: one JSON object per chunk (bytes in and out, requests, retries, duration). */
export const resultLines = (results: ReadonlyArray<ChunkResult>): string =>
  results.map((result) => JSON.stringify({
    index: result.index,
    bytesIn: result.bytesIn,
    bytesOut: result.bytesOut,
    requests: result.requests,
    retries: result.retries,
    durationMs: result.durationMs
  }) + "\n").join("")
