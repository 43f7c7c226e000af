/**
 * What the bench reports: its measurements folded into one row per (size, N, strategy)
 * (medians over the repetitions), rendered as a Markdown table and as an SVG chart of
 * throughput against N with one line per strategy. Pure functions from numbers to text.
 */
import { formatBytes } from "../Size.js"
import { LABELS, STRATEGIES } from "./Strategies.js"
import type { StrategyName } from "./Strategies.js"

/** One measurement, with what the model proxy counted while it ran. */
export interface Run {
  readonly size: number
  readonly chunks: number
  readonly repetition: number
  readonly strategy: StrategyName
  readonly wallMs: number
  /** GET requests the server received (SlowDown answers included). */
  readonly gets: number
  readonly slowdowns: number
  /** Bytes of GET bodies the server sent. */
  readonly bodyBytes: number
  /** Bytes the client read (less than `bodyBytes` when it abandoned a body). */
  readonly bytesFetched: number
  readonly requests: number
  readonly retries: number
  readonly peakRssBytes: number
  readonly chunkSizes: ReadonlyArray<number>
}

export interface Row {
  readonly size: number
  readonly chunks: number
  readonly strategy: StrategyName
  readonly repetitions: number
  /** Medians over the repetitions. */
  readonly wallMs: number
  readonly gets: number
  readonly beyondBytes: number
  /** The object's size over the median wall time, in MB/s (10^6 bytes per second). */
  readonly throughputMBps: number
  readonly getsPerChunk: number
  /** Bytes sent beyond the object's size, as a fraction of it. */
  readonly beyondFraction: number
  /** The highest over the repetitions. */
  readonly peakRssBytes: number
  /** Median of the GETs answered 503 SlowDown (counted in `gets` too). */
  readonly slowdowns: number
  /** Baseline's median time over this one's, at the same size and N. */
  readonly speedup: number | undefined
  /** Ideal's median time over this one's: the fraction of the physical limit reached. */
  readonly ofIdeal: number | undefined
}

/** The median; the mean of the middle two for an even count. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** One row per (size, N, strategy) present in `runs`, ordered by size, N, then strategy. */
export const aggregate = (runs: ReadonlyArray<Run>): ReadonlyArray<Row> => {
  const sizes = [...new Set(runs.map((run) => run.size))].sort((a, b) => a - b)
  const chunkCounts = [...new Set(runs.map((run) => run.chunks))].sort((a, b) => a - b)
  const rows: Array<Row> = []
  for (const size of sizes) {
    for (const chunks of chunkCounts) {
      const of = (strategy: StrategyName) => runs.filter((run) => run.size === size && run.chunks === chunks && run.strategy === strategy)
      const medianTime = (strategy: StrategyName) => {
        const these = of(strategy)
        return these.length === 0 ? undefined : median(these.map((run) => run.wallMs))
      }
      const baseline = medianTime("baseline")
      const ideal = medianTime("ideal")
      for (const strategy of STRATEGIES) {
        const these = of(strategy)
        if (these.length === 0) continue
        const wallMs = median(these.map((run) => run.wallMs))
        const gets = median(these.map((run) => run.gets))
        const beyondBytes = median(these.map((run) => run.bodyBytes - size))
        rows.push({
          size,
          chunks,
          strategy,
          repetitions: these.length,
          wallMs,
          gets,
          beyondBytes,
          throughputMBps: size / 1e6 / (wallMs / 1000),
          getsPerChunk: gets / chunks,
          beyondFraction: size === 0 ? 0 : beyondBytes / size,
          peakRssBytes: Math.max(...these.map((run) => run.peakRssBytes)),
          slowdowns: median(these.map((run) => run.slowdowns)),
          speedup: baseline === undefined ? undefined : baseline / wallMs,
          ofIdeal: ideal === undefined ? undefined : ideal / wallMs
        })
      }
    }
  }
  return rows
}

/** A size as a compact label: `64MiB`, `1GiB`, `1500B`. */
export const sizeLabel = (bytes: number): string => {
  const units: ReadonlyArray<readonly [string, number]> = [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]]
  const unit = units.find(([, factor]) => bytes >= factor && bytes % factor === 0)
  return unit === undefined ? `${bytes}B` : `${bytes / unit[1]}${unit[0]}`
}

const fixed = (value: number, digits: number) => value.toFixed(digits)
const seconds = (ms: number) => (ms >= 10_000 ? `${fixed(ms / 1000, 1)} s` : `${fixed(ms / 1000, 3)} s`)
const ratio = (value: number | undefined, suffix = "") => (value === undefined ? "-" : `${fixed(value, 2)}${suffix}`)
const percent = (fraction: number) => `${fixed(fraction * 100, fraction !== 0 && Math.abs(fraction) < 0.0001 ? 4 : 2)}%`
const bytes = (value: number) => (value === 0 ? "0 B" : formatBytes(Math.round(value)))

/** The rows as a Markdown table. */
export const markdownTable = (rows: ReadonlyArray<Row>): string => {
  const header = [
    "size",
    "N",
    "strategy",
    "median time",
    "throughput",
    "GETs",
    "GETs/chunk",
    "bytes beyond object",
    "peak RSS",
    "vs baseline",
    "of ideal"
  ]
  const right = [true, true, false, true, true, true, true, true, true, true, true]
  const body = rows.map((row) => [
    sizeLabel(row.size),
    String(row.chunks),
    row.strategy === "s3split" ? `**${LABELS[row.strategy]}**` : LABELS[row.strategy],
    seconds(row.wallMs),
    `${fixed(row.throughputMBps, row.throughputMBps >= 100 ? 0 : 1)} MB/s`,
    String(row.gets) + (row.slowdowns > 0 ? ` (${row.slowdowns} SlowDown)` : ""),
    fixed(row.getsPerChunk, 2),
    `${bytes(row.beyondBytes)} (${percent(row.beyondFraction)})`,
    formatBytes(row.peakRssBytes),
    ratio(row.speedup, "x"),
    ratio(row.ofIdeal)
  ])
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  return [line(header), line(right.map((r) => (r ? "---:" : "---"))), ...body.map(line)].join("\n") + "\n"
}

const COLORS: Record<StrategyName, string> = {
  baseline: "#7f7f7f",
  smart: "#1f77b4",
  approximate: "#ff7f0e",
  s3split: "#2ca02c",
  ideal: "#222222"
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** Round step for about `count` ticks up to `max`. */
const niceStep = (max: number, count: number) => {
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)
  return step ?? 10 * power
}

/**
 * A line chart, as plain SVG text, of throughput (MB/s) against N (log scale) for the rows of
 * one object size, one line per strategy. `subtitle` says under which model.
 */
export const svgChart = (rows: ReadonlyArray<Row>, title: string, subtitle: string): string => {
  const width = 840
  const height = 440
  const margin = { left: 70, right: 250, top: 56, bottom: 52 }
  const plotWidth = width - margin.left - margin.right
  const plotHeight = height - margin.top - margin.bottom
  const ns = [...new Set(rows.map((row) => row.chunks))].sort((a, b) => a - b)
  const logs = ns.map(Math.log2)
  const [low, high] = [Math.min(...logs), Math.max(...logs)]
  const x = (n: number) =>
    margin.left + (high === low ? plotWidth / 2 : ((Math.log2(n) - low) / (high - low)) * plotWidth)
  const top = Math.max(1, ...rows.map((row) => row.throughputMBps)) * 1.08
  const step = niceStep(top, 5)
  const yMax = Math.ceil(top / step) * step
  const y = (value: number) => margin.top + plotHeight - (value / yMax) * plotHeight
  const parts: Array<string> = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${margin.left}" y="40" fill="#555555">${escape(subtitle)}</text>`
  )
  for (let value = 0; value <= yMax + step / 2; value += step) {
    const at = y(value).toFixed(1)
    parts.push(
      `<line x1="${margin.left}" y1="${at}" x2="${margin.left + plotWidth}" y2="${at}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${at}" text-anchor="end" dominant-baseline="middle">${Number(value.toFixed(2))}</text>`
    )
  }
  for (const n of ns) {
    const at = x(n).toFixed(1)
    parts.push(
      `<line x1="${at}" y1="${margin.top}" x2="${at}" y2="${margin.top + plotHeight}" stroke="#f0f0f0"/>`,
      `<text x="${at}" y="${margin.top + plotHeight + 18}" text-anchor="middle">${n}</text>`
    )
  }
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${margin.left + plotWidth}" y2="${margin.top + plotHeight}" stroke="#333333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotHeight}" stroke="#333333"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 12}" text-anchor="middle">N (chunks, log scale)</text>`,
    `<text transform="translate(18 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">throughput (MB/s)</text>`
  )
  STRATEGIES.forEach((strategy, index) => {
    const points = rows.filter((row) => row.strategy === strategy).sort((a, b) => a.chunks - b.chunks)
    if (points.length === 0) return
    const color = COLORS[strategy]
    const dash = strategy === "ideal" ? ` stroke-dasharray="6 4"` : ""
    const widthAttr = strategy === "s3split" ? 3 : 2
    const coords = points.map((row) => `${x(row.chunks).toFixed(1)},${y(row.throughputMBps).toFixed(1)}`)
    parts.push(`<polyline points="${coords.join(" ")}" fill="none" stroke="${color}" stroke-width="${widthAttr}"${dash}/>`)
    for (const coord of coords) {
      const [cx, cy] = coord.split(",")
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"/>`)
    }
    const legendY = margin.top + 10 + index * 22
    const legendX = margin.left + plotWidth + 18
    parts.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 26}" y2="${legendY}" stroke="${color}" stroke-width="${widthAttr}"${dash}/>`,
      `<text x="${legendX + 32}" y="${legendY}" dominant-baseline="middle">${escape(LABELS[strategy])}</text>`
    )
  })
  parts.push("</svg>")
  return parts.join("\n") + "\n"
}
