/**
 * How a split or a run is shown: an aligned table with totals for people, or one JSON object
 * per chunk per line for programs.
 */
import * as Option from "effect/Option"
import type { ChunkResult } from "./ChunkTask.js"
import type { ChunkRow } from "./Manifest.js"

/** One JSON object per chunk, in index order: the lines, without newlines. */
export const jsonLines = (rows: ReadonlyArray<ChunkRow>): ReadonlyArray<string> =>
  rows.map((row) => JSON.stringify({
    index: row.index,
    approxStart: row.approxStart,
    approxEnd: row.approxEnd,
    start: row.start,
    end: row.end,
    bytes: row.bytes
  }))

/** A table of half-open resolved ranges `[start, end)`, with a totals line: the lines, without newlines. */
export const table = (rows: ReadonlyArray<ChunkRow>, size: number): ReadonlyArray<string> => {
  const header = ["index", "start", "end", "bytes"]
  const body = rows.map((row) => [row.index, row.start, row.end, row.bytes].map(String))
  const empty = rows.filter((row) => row.bytes === 0).length
  const footer = ["total", "0", String(size), String(rows.reduce((sum, row) => sum + row.bytes, 0))]
  const all = [header, ...body, footer]
  // A loop, not a spread into Math.max: the table has a row per chunk, up to a million.
  const widths = header.map((_, column) => all.reduce((widest, line) => Math.max(widest, line[column]!.length), 0))
  const render = (line: ReadonlyArray<string>) => line.map((cell, column) => cell.padStart(widths[column]!)).join("  ")
  const rule = widths.map((width) => "-".repeat(width)).join("  ")
  return [
    render(header),
    rule,
    ...body.map(render),
    rule,
    render(footer),
    `${rows.length} chunks (${empty} empty), ranges are half-open [start, end)`
  ]
}

/**
 * The run summary: one JSON object per chunk, in index order (bytes in and out, requests,
 * retries, duration), or `{"index":i,"skipped":true}` for a chunk the merge did not need
 * (stopped, or never started); first, when `merge` is given, `{"merge":...}` naming the merge chosen.
 */
export const resultLines = (results: ReadonlyArray<Option.Option<ChunkResult>>, merge?: string): string =>
  (merge === undefined ? "" : JSON.stringify({ merge }) + "\n") + results.map((option, index) =>
    JSON.stringify(Option.match(option, {
      onNone: () => ({ index, skipped: true }),
      onSome: (result) => ({
        index: result.index,
        bytesIn: result.bytesIn,
        bytesOut: result.bytesOut,
        requests: result.requests,
        retries: result.retries,
        durationMs: result.durationMs
      })
    })) + "\n"
  ).join("")
