/**
 * The memory suite: the peak RSS of every mode of s3split at its default concurrency, as an
 * installed user runs it (`node dist/cli.mjs`), against the target of 300 MB (10^6 bytes):
 * `split` to a directory and to `s3://`, `run` with fibers and with worker threads, `run` from
 * `s3://`, and `run --out s3://`, the S3 ones against the local S3 server. Each mode runs
 * `repeat` times; the report gives the highest peak (and the median wall and CPU time).
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { formatBytes } from "../Size.js"
import { barChart } from "./BarChart.js"
import * as CliBundle from "./CliBundle.js"
import * as LocalS3 from "./LocalS3.js"
import { medianSample } from "./Timed.js"
import type { Sample } from "./Timed.js"
import * as Workbench from "./Workbench.js"
import { quote } from "./Workbench.js"

/** The peak RSS every mode must stay under, in bytes (300 MB). */
export const TARGET_BYTES = 300e6

export const MODE_KEYS = ["split-dir", "split-s3", "run-local", "run-threads", "run-s3", "run-out-s3"] as const
export type ModeKey = typeof MODE_KEYS[number]

export interface MemoryOptions {
  readonly file: string | undefined
  readonly size: number
  readonly seed: number
  readonly chunks: number
  readonly repeat: number
  readonly out: string
  /** The bundle measured. */
  readonly cli: string
  readonly only: ReadonlyArray<ModeKey>
  readonly mode: string
}

export interface ModeResult {
  readonly key: ModeKey
  readonly title: string
  readonly command: string
  readonly samples: ReadonlyArray<Sample>
  /** The highest peak over the runs, and the medians of the rest. */
  readonly peakRssBytes: number
  readonly wallMs: number
  readonly cpuSeconds: number
  readonly underTarget: boolean
}

export interface MemoryResult {
  readonly suite: "memory"
  readonly mode: string
  readonly file: string
  readonly bytes: number
  readonly chunks: number
  readonly repeat: number
  readonly cores: number
  readonly meter: string
  readonly targetBytes: number
  readonly results: ReadonlyArray<ModeResult>
}

const modes = (bench: Workbench.Workbench, chunks: number) => {
  const file = quote(bench.file)
  const out = quote(path.join(bench.tmp, "out"))
  const s3 = `--endpoint ${bench.endpoint}`
  const prefix = `s3://${LocalS3.BUCKET}/memory`
  return [
    { key: "split-dir", title: "split FILE --out DIR", args: `split ${file} --chunks ${chunks} --out ${out}` },
    { key: "split-s3", title: "split s3:// --out s3://", args: `split ${bench.s3Uri} --chunks ${chunks} --out ${prefix}/split/ ${s3}` },
    { key: "run-local", title: "run FILE --exec cat (fibers)", args: `run ${file} --chunks ${chunks} --exec cat` },
    { key: "run-threads", title: "run FILE --exec cat --backend threads", args: `run ${file} --chunks ${chunks} --exec cat --backend threads` },
    { key: "run-s3", title: "run s3:// --exec cat", args: `run ${bench.s3Uri} --chunks ${chunks} --exec cat ${s3}` },
    { key: "run-out-s3", title: "run s3:// --exec cat --out s3://", args: `run ${bench.s3Uri} --chunks ${chunks} --exec cat --out ${prefix}/run.out ${s3}` }
  ] satisfies ReadonlyArray<{ key: ModeKey; title: string; args: string }>
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`

/** The Markdown report of `result`. */
export const markdown = (result: MemoryResult): string =>
  [
    `# s3split's peak RSS in every mode (${result.mode} mode)`,
    "",
    `${new Date().toISOString()} on ${Workbench.machine()}.`,
    "",
    `Source: ${formatBytes(result.bytes)}; N = ${result.chunks}; default concurrency (min(N, 16)) and default part budget; ` +
    `${result.repeat} run(s) per mode, the highest peak shown (MB = 10^6 bytes), medians of wall and CPU time; measured with ` +
    `${result.meter === "gnu-time" ? "/usr/bin/time" : "python3 getrusage"} (peak RSS of the largest process: s3split's node). ` +
    `Target: under ${megabytes(result.targetBytes)}.`,
    "",
    "| mode | peak RSS | under target | wall | CPU-s |",
    "| --- | ---: | --- | ---: | ---: |",
    ...result.results.map((mode) =>
      `| \`${mode.title}\` | ${megabytes(mode.peakRssBytes)} | ${mode.underTarget ? "yes" : "**no**"} | ${(mode.wallMs / 1000).toFixed(2)} s | ${mode.cpuSeconds.toFixed(2)} |`
    ),
    "",
    "Commands:",
    "",
    ...result.results.map((mode) => `- \`${mode.command}\``),
    "",
    "![peak RSS](memory.svg)",
    ""
  ].join("\n")

/** Runs the memory suite and writes `results.md`, `results.json` and `memory.svg` to `options.out`. */
export const run = (options: MemoryOptions, log: (line: string) => Effect.Effect<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const cli = yield* CliBundle.ensure(options.cli, log)
    const bench = yield* Workbench.scoped(options)
    yield* log(`bench memory: ${formatBytes(bench.bytes)} source, local S3 at ${bench.endpoint}, measured with ${bench.meter}`)
    const results: Array<ModeResult> = []
    for (const mode of modes(bench, options.chunks).filter((mode) => options.only.includes(mode.key))) {
      const command = `${quote(process.execPath)} ${quote(cli)} ${mode.args}`
      const samples: Array<Sample> = []
      for (let i = 0; i < options.repeat; i++) {
        fs.rmSync(path.join(bench.tmp, "out"), { recursive: true, force: true })
        const sample = yield* bench.timed(command)
        samples.push(sample)
        yield* log(`${mode.key} #${i + 1}: peak RSS ${megabytes(sample.peakRssBytes)}, ${(sample.wallMs / 1000).toFixed(2)} s`)
      }
      const m = medianSample(samples)
      const peak = Math.max(...samples.map((sample) => sample.peakRssBytes))
      results.push({
        key: mode.key,
        title: mode.title,
        command,
        samples,
        peakRssBytes: peak,
        wallMs: m.wallMs,
        cpuSeconds: m.cpuSeconds,
        underTarget: peak < TARGET_BYTES
      })
    }
    const result: MemoryResult = {
      suite: "memory",
      mode: options.mode,
      file: bench.file,
      bytes: bench.bytes,
      chunks: options.chunks,
      repeat: options.repeat,
      cores: os.availableParallelism(),
      meter: bench.meter,
      targetBytes: TARGET_BYTES,
      results
    }
    const report = markdown(result)
    const chart = barChart({
      title: "s3split's peak RSS by mode (default concurrency)",
      subtitle: `${formatBytes(bench.bytes)} source, N = ${options.chunks}, highest of ${options.repeat} run(s)`,
      unit: "MB",
      digits: 0,
      groups: [{ label: "mode", bars: results.map((mode) => ({ label: mode.title, value: mode.peakRssBytes / 1e6, ours: true })) }],
      target: { value: TARGET_BYTES / 1e6, label: "target 300 MB" }
    })
    const files = yield* Workbench.writeReport(options.out, [
      { name: "results.md", text: report },
      { name: "results.json", text: JSON.stringify(result, null, 2) + "\n" },
      { name: "memory.svg", text: chart }
    ])
    return { result, markdown: report, files }
  }))
