/**
 * The strategies suite (`bench --suite strategies`, the default): every split strategy side by side against one S3-compatible server behind the
 * S3 model. It starts s3rver and the model proxy, measures what the machine can move (and
 * slows the whole model down by one factor when that is less than the model asks for), then
 * for each size uploads one synthetic object and, for each N, runs the strategies in turn,
 * rotating their order, as many times as asked, each in its own process. It checks that
 * every line-aligned strategy cut the object at the same places, and writes the report.
 */
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as Effect from "effect/Effect"
import { formatBytes } from "../Size.js"
import { BenchError } from "./BenchError.js"
import { autoScale, demand, estimateSeconds, scaleNote } from "./Calibration.js"
import type { Calibration } from "./Calibration.js"
import * as LocalS3 from "./LocalS3.js"
import { MeasureRequest } from "./Measurement.js"
import * as Report from "./Report.js"
import * as Runner from "./Runner.js"
import * as Workbench from "./Workbench.js"
import * as S3Model from "./S3Model.js"
import type { ModelSettings } from "./S3Model.js"
import { isAligned, STRATEGIES } from "./Strategies.js"
import type { StrategyName } from "./Strategies.js"

export interface BenchOptions {
  /** Object sizes in bytes, measured in this order. */
  readonly sizes: ReadonlyArray<number>
  /** The values of N. */
  readonly chunks: ReadonlyArray<number>
  /** Measurements of each strategy per (size, N); the report shows their median. */
  readonly repeat: number
  /** s3split's lookahead, and the window of the strategies that search for boundaries. */
  readonly lookahead: number
  /** The S3 model as asked for, before any slow-down. */
  readonly model: ModelSettings
  /** A slow-down factor of at least 1, or "auto" to derive it from the machine. */
  readonly scale: number | "auto"
  /** The directory the report is written to. */
  readonly out: string
  /** A label for the report ("quick" or "full"). */
  readonly mode: string
  /** Seed of the synthetic objects. */
  readonly seed: number
}

export interface BenchResult {
  readonly rows: ReadonlyArray<Report.Row>
  readonly runs: ReadonlyArray<Report.Run>
  readonly calibration: Calibration
  /** The model the measurements ran under (after the slow-down). */
  readonly effective: ModelSettings
  /** The Markdown report (also in `out/results.md`). */
  readonly markdown: string
  /** Every file written, absolute. */
  readonly files: ReadonlyArray<string>
}

/** The calibration object's size is the largest size, kept within these bounds. */
const CALIBRATION_MIN = 16 * 1024 * 1024
const CALIBRATION_MAX = 64 * 1024 * 1024

/** Rotates the strategies by `by` places, so that none always runs first. */
const rotated = (by: number): ReadonlyArray<StrategyName> => STRATEGIES.map((_, i) => STRATEGIES[(i + by) % STRATEGIES.length]!)

/** Measures one strategy in its own process, with what the proxy counted meanwhile. */
type Measure = (
  key: string,
  size: number,
  strategy: StrategyName,
  chunks: number,
  repetition: number
) => Effect.Effect<Report.Run, BenchError, CommandExecutor>

/** Raw ranged GETs at `chunks` with the model off, the best of two: what the machine can move. */
const calibrate = (s3: LocalS3.LocalS3, measure: Measure, options: BenchOptions, chunks: number) =>
  Effect.scoped(Effect.gen(function*() {
    const key = "bench/calibration.log"
    const size = Math.min(CALIBRATION_MAX, Math.max(CALIBRATION_MIN, ...options.sizes))
    yield* s3.upload(key, size, options.seed)
    const first = yield* measure(key, size, "ideal", chunks, 0)
    const second = yield* measure(key, size, "ideal", chunks, 1)
    return size / 1e6 / (Math.min(first.wallMs, second.wallMs) / 1000)
  }))

/**
 * Every measurement of one object size: the object is uploaded once, then for each N the
 * strategies run in turn, `repeat` times, starting one place further on each time. Every
 * line-aligned strategy must cut the object at the very same places.
 */
const measureSize = (
  s3: LocalS3.LocalS3,
  measure: Measure,
  options: BenchOptions,
  size: number,
  log: (line: string) => Effect.Effect<void>
) =>
  Effect.scoped(Effect.gen(function*() {
    const key = `bench/object-${Report.sizeLabel(size)}.log`
    yield* s3.upload(key, size, options.seed)
    const runs: Array<Report.Run> = []
    for (const [chunkIndex, chunks] of options.chunks.entries()) {
      for (let repetition = 0; repetition < options.repeat; repetition++) {
        for (const strategy of rotated(repetition + chunkIndex)) {
          const run = yield* measure(key, size, strategy, chunks, repetition)
          runs.push(run)
          yield* log(
            `${Report.sizeLabel(size)} N=${chunks} #${repetition + 1} ${strategy}: ${(run.wallMs / 1000).toFixed(3)} s, ` +
              `${run.gets} GETs, ${run.bodyBytes - size} bytes beyond, peak RSS ${formatBytes(run.peakRssBytes)}`
          )
        }
      }
      const cuts = runs.filter((run) => run.chunks === chunks && isAligned(run.strategy))
      const differs = cuts.find((run) => run.chunkSizes.join() !== cuts[0]!.chunkSizes.join())
      if (differs !== undefined) {
        return yield* new BenchError({
          reason: `${differs.strategy} and ${cuts[0]!.strategy} cut the ${Report.sizeLabel(size)} object differently for N = ${chunks}`
        })
      }
    }
    return runs
  }))

/** The Markdown report: the setting, the model, the slow-down, the table, the charts. */
const markdown = (
  options: BenchOptions,
  effective: ModelSettings,
  calibration: Calibration,
  rows: ReadonlyArray<Report.Row>,
  charts: ReadonlyArray<{ readonly size: number; readonly file: string }>
) =>
  [
    `# s3split bench (${options.mode} mode)`,
    "",
    `${new Date().toISOString()} on ${Workbench.machine()}.`,
    "",
    `Model as asked: ${S3Model.describe(options.model)}.`,
    "",
    `Model as run: ${S3Model.describe(effective)}.`,
    "",
    scaleNote(calibration) +
    (calibration.scale === 1 ? "" : ` To read a throughput at the model's speed, multiply it by ${calibration.scale}.`),
    "",
    `Each strategy ran ${options.repeat} time(s) per size and N, in rotating order, each in its own process; ` +
    `times are medians, from the first GET to the last byte (the HEAD before is not timed). ` +
    `Lookahead and search window: ${formatBytes(options.lookahead)}. "of ideal" is ideal's time over the strategy's.`,
    "",
    Report.markdownTable(rows).trimEnd(),
    "",
    ...charts.map(({ file, size }) => `![throughput against N, ${Report.sizeLabel(size)}](${file})`),
    ""
  ].join("\n")

/** Runs the bench and writes `results.md`, `results.json` and one SVG chart per size to `options.out`. */
export const run = (options: BenchOptions, log: (line: string) => Effect.Effect<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const s3 = yield* LocalS3.scoped
    const proxy = yield* S3Model.scoped(s3.endpoint, S3Model.unlimited)
    const runner = yield* Runner.scoped
    const measure: Measure = (key, size, strategy, chunks, repetition) =>
      Effect.gen(function*() {
        const before = proxy.counters()
        const measurement = yield* runner.measure(
          new MeasureRequest({ endpoint: proxy.endpoint, bucket: LocalS3.BUCKET, key, strategy, chunks, lookahead: options.lookahead })
        )
        const after = proxy.counters()
        return {
          size,
          chunks,
          repetition,
          strategy,
          wallMs: measurement.wallMs,
          gets: after.gets - before.gets,
          slowdowns: after.slowdowns - before.slowdowns,
          bodyBytes: after.getBodyBytes - before.getBodyBytes,
          bytesFetched: measurement.bytesFetched,
          requests: measurement.requests,
          retries: measurement.retries,
          peakRssBytes: measurement.peakRssBytes,
          chunkSizes: measurement.chunkSizes
        } satisfies Report.Run
      })

    const maxChunks = Math.max(...options.chunks)
    const capacityMBps = yield* calibrate(s3, measure, options, maxChunks)
    const demandMBps = demand(options.model, maxChunks)
    const scale = options.scale === "auto" ? autoScale(demandMBps, capacityMBps) : options.scale
    const calibration: Calibration = { capacityMBps, demandMBps, scale, automatic: options.scale === "auto" }
    const effective = S3Model.scaled(options.model, scale)
    proxy.configure(effective)
    yield* log(`bench (${options.mode}): children run as ${runner.mode}; ${scaleNote(calibration)}`)
    yield* log(`model: ${S3Model.describe(effective)}`)
    yield* log(`expect about ${Math.ceil(estimateSeconds(options, effective) / 60)} minute(s) of measurements`)

    const runs = (yield* Effect.forEach(options.sizes, (size) => measureSize(s3, measure, options, size, log))).flat()
    const rows = Report.aggregate(runs)
    const charts = options.sizes.map((size) => ({ size, file: `throughput-${Report.sizeLabel(size)}.svg` }))
    const report = markdown(options, effective, calibration, rows, charts)
    const subtitle = `model: ${S3Model.brief(effective)}${scale === 1 ? "" : ` (slowed down ${scale} times)`}`
    const outputs = [
      { name: "results.md", text: report },
      { name: "results.json", text: JSON.stringify({ mode: options.mode, model: options.model, effective, calibration, rows, runs }, null, 2) + "\n" },
      ...charts.map(({ file, size }) => ({
        name: file,
        text: Report.svgChart(
          rows.filter((row) => row.size === size),
          `Throughput against N, ${Report.sizeLabel(size)} object (${options.mode} mode)`,
          subtitle
        )
      }))
    ]
    const files = yield* Workbench.writeReport(options.out, outputs)
    return { rows, runs, calibration, effective, markdown: report, files } satisfies BenchResult
  }))
