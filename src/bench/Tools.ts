/**
 * The tools suite: s3split as an installed user runs it (`node dist/cli.mjs`, start-up
 * included) beside the Unix tool a user would pick for the same job, on the same file, in one
 * run: GNU `split -n l/N` for `split --out DIR`, GNU `parallel --pipepart` (when installed)
 * for `run`, and the AWS CLI (when installed) fetching from the local S3 server, then GNU
 * `split`, for `split s3://... --out DIR`. Runs alternate (each s3split variant, then the tool,
 * `repeat` times); the report gives medians of wall time, CPU seconds of the process tree, CPU
 * seconds per GiB and peak RSS, and the ratio of each variant to the tool. Every `split --out`
 * is checked byte for byte against GNU split's parts. A tool that is not installed is reported
 * as such, with the apt package that brings it.
 */
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { formatBytes } from "../Size.js"
import { barChart } from "./BarChart.js"
import { BenchError } from "./BenchError.js"
import * as CliBundle from "./CliBundle.js"
import { medianSample, toolVersion } from "./Timed.js"
import type { Sample } from "./Timed.js"
import * as Workbench from "./Workbench.js"
import { quote } from "./Workbench.js"

export const JOB_KEYS = ["split", "gzip", "cat", "s3"] as const
export type JobKey = typeof JOB_KEYS[number]

/** An s3split bundle to measure, its name in the report, and its backends (default: `backends`). */
export interface Cli {
  readonly label: string
  readonly path: string
  readonly backends?: ReadonlyArray<string> | undefined
}

export interface ToolsOptions {
  /** The source file; a synthetic one of `size` bytes when undefined. */
  readonly file: string | undefined
  readonly size: number
  readonly seed: number
  readonly chunks: number
  /** Concurrency of `run --exec 'gzip -1 | wc -c'` and `parallel -j`. */
  readonly jobs: number
  readonly repeat: number
  readonly out: string
  /** The bundles; each runs with every backend. */
  readonly clis: ReadonlyArray<Cli>
  /** s3split's `--backend` values (`local` passes no flag, so an older bundle runs too). */
  readonly backends: ReadonlyArray<string>
  readonly only: ReadonlyArray<JobKey>
  /** Run every command, the tools' included, under `taskset -c CPUS`. */
  readonly cpus: string | undefined
  readonly mode: string
}

/** The other tools, by what `--version` must say; absent ones are reported with their apt package. */
const TOOLS = {
  split: { program: "split", expected: /GNU coreutils/, apt: "coreutils" },
  parallel: { program: "parallel", expected: /GNU parallel/, apt: "parallel" },
  aws: { program: "aws", expected: /aws-cli/, apt: "awscli" }
} as const
type ToolName = keyof typeof TOOLS

/** One program measured on one job. */
export interface Row {
  readonly program: string
  readonly ours: boolean
  readonly command: string
  readonly samples: ReadonlyArray<Sample>
  /** Medians over the samples. */
  readonly median: Sample
  readonly cpuPerGiB: number
  /** This row's median wall time and CPU over the tool's (undefined without the tool). */
  readonly wallRatio: number | undefined
  readonly cpuRatio: number | undefined
}

export interface JobResult {
  readonly key: JobKey
  readonly title: string
  readonly tool: { readonly name: string; readonly installed: boolean; readonly apt: string }
  readonly rows: ReadonlyArray<Row>
}

export interface ToolsResult {
  readonly suite: "tools"
  readonly mode: string
  readonly file: string
  readonly bytes: number
  readonly chunks: number
  readonly jobs: number
  readonly repeat: number
  readonly cores: number
  readonly meter: string
  /** Each tool's version line, or null when it is not installed. */
  readonly tools: Record<ToolName, string | null>
  readonly results: ReadonlyArray<JobResult>
}

interface Job {
  readonly key: JobKey
  readonly title: string
  readonly ours: string
  readonly tool: ToolName
  readonly toolName: string
  readonly theirs: string
  /** Clears the outputs before each run. */
  readonly prepare: () => void
  /** Checks s3split's output of the run just measured. */
  readonly check: () => Effect.Effect<void, BenchError>
}

/** s3split's parts in `dir` must be GNU split's parts of the same file, byte for byte. */
const sameParts = (dir: string, gnuDir: string) =>
  Effect.gen(function*() {
    const mine = fs.readdirSync(dir).filter((name) => name.startsWith("part-")).sort()
    const its = fs.readdirSync(gnuDir).sort()
    if (mine.length !== its.length) return yield* new BenchError({ reason: `split --out wrote ${mine.length} parts, GNU split ${its.length}` })
    for (const [i, name] of mine.entries()) {
      if (!fs.readFileSync(path.join(dir, name)).equals(fs.readFileSync(path.join(gnuDir, its[i]!)))) {
        return yield* new BenchError({ reason: `split --out's ${name} differs from GNU split's part ${i}` })
      }
    }
  })

const jobsFor = (bench: Workbench.Workbench, options: ToolsOptions): ReadonlyArray<Job> => {
  const { chunks, jobs } = options
  const file = quote(bench.file)
  const parts = path.join(bench.tmp, "parts")
  const gnu = path.join(bench.tmp, "gnu")
  const reference = path.join(bench.tmp, "reference")
  const fetched = path.join(bench.tmp, "fetched.log")
  const clear = () => {
    for (const dir of [parts, gnu]) fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(fetched, { force: true })
    fs.mkdirSync(gnu)
  }
  // GNU split's parts of the file, made once: the reference every split --out is checked against.
  const check = () =>
    Effect.zipRight(
      Effect.try({
        try: () => {
          if (fs.existsSync(reference)) return
          fs.mkdirSync(reference)
          execFileSync("split", ["-n", `l/${chunks}`, bench.file, path.join(reference, "x")], { stdio: "ignore" })
        },
        catch: (error) => new BenchError({ reason: `GNU split of ${bench.file} failed: ${String(error)}` })
      }),
      sameParts(parts, reference)
    )
  const pipepart = (command: string) => `parallel --pipepart -a ${file} --block -8 -j${jobs} -k ${quote(command)}`
  return [
    {
      key: "split",
      title: `split FILE --chunks ${chunks} --out DIR`,
      ours: `split ${file} --chunks ${chunks} --out ${quote(parts)}`,
      tool: "split",
      toolName: `split -n l/${chunks}`,
      theirs: `split -n l/${chunks} ${file} ${quote(gnu + "/x")}`,
      prepare: clear,
      check
    },
    {
      key: "gzip",
      title: `run FILE --chunks ${chunks} --concurrency ${jobs} --exec 'gzip -1 | wc -c'`,
      ours: `run ${file} --chunks ${chunks} --concurrency ${jobs} --exec 'gzip -1 | wc -c'`,
      tool: "parallel",
      toolName: `parallel --pipepart -j${jobs}`,
      theirs: pipepart("gzip -1 | wc -c"),
      prepare: clear,
      check: () => Effect.void
    },
    {
      key: "cat",
      title: `run FILE --chunks ${chunks} --exec cat`,
      ours: `run ${file} --chunks ${chunks} --exec cat`,
      tool: "parallel",
      toolName: `parallel --pipepart -j${jobs}`,
      theirs: pipepart("cat"),
      prepare: clear,
      check: () => Effect.void
    },
    {
      key: "s3",
      title: `split s3://... --chunks ${chunks} --out DIR (local S3 server)`,
      ours: `split ${bench.s3Uri} --chunks ${chunks} --out ${quote(parts)} --endpoint ${bench.endpoint}`,
      tool: "aws",
      toolName: `aws s3 cp, then split -n l/${chunks}`,
      theirs: `aws s3 cp ${bench.s3Uri} ${quote(fetched)} --endpoint-url ${bench.endpoint} --only-show-errors && split -n l/${chunks} ${quote(fetched)} ${quote(gnu + "/x")}`,
      prepare: clear,
      check
    }
  ]
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const ratio = (value: number | undefined) => (value === undefined ? "n/a" : `${value.toFixed(2)}x`)
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`

/** The Markdown report of `result`. */
export const markdown = (result: ToolsResult): string => {
  const gib = result.bytes / 2 ** 30
  const lines = [
    `# s3split beside the Unix tools (${result.mode} mode)`,
    "",
    `${new Date().toISOString()} on ${Workbench.machine()}.`,
    "",
    `Source: ${path.basename(result.file)}, ${formatBytes(result.bytes)} (${gib.toFixed(3)} GiB); N = ${result.chunks}; ` +
    `jobs ${result.jobs}; medians of ${result.repeat} alternating run(s); ${result.cores} cores. Every command ran under ` +
    `\`${result.meter === "gnu-time" ? "/usr/bin/time -f '%e %U %S %M'" : "python3 getrusage(RUSAGE_CHILDREN)"}\`, stdout to /dev/null: ` +
    `CPU-s is user + system of the whole process tree (the commands' included), peak RSS that of its largest process ` +
    `(MB = 10^6 bytes); "vs tool" is the ratio of the medians.`,
    "",
    `Tools: ${Object.entries(result.tools).map(([name, version]) => `${name}: ${version ?? "not installed"}`).join("; ")}.`,
    "",
    "| job | program | wall | CPU-s | CPU-s/GiB | peak RSS | wall vs tool | CPU vs tool |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  ]
  const cell = (text: string) => text.replace(/\|/g, "\\|")
  for (const job of result.results) {
    for (const row of job.rows) {
      lines.push(
        `| \`${cell(job.title)}\` | ${row.ours ? `**${row.program}**` : row.program} | ${seconds(row.median.wallMs)} | ` +
          `${row.median.cpuSeconds.toFixed(2)} | ${row.cpuPerGiB.toFixed(2)} | ${megabytes(row.median.peakRssBytes)} | ` +
          `${row.ours ? ratio(row.wallRatio) : "1.00x"} | ${row.ours ? ratio(row.cpuRatio) : "1.00x"} |`
      )
    }
    if (!job.tool.installed) {
      lines.push(`| \`${cell(job.title)}\` | ${job.tool.name} | not installed (\`apt-get install -y ${job.tool.apt}\`) | | | | | |`)
    }
  }
  lines.push("", "Commands (FILE, DIR and the endpoint as run):", "")
  for (const job of result.results) {
    for (const row of job.rows) lines.push(`- ${row.program}: \`${row.command}\``)
  }
  lines.push("", "![wall time](tools-wall.svg)", "", "![CPU seconds](tools-cpu.svg)", "")
  return lines.join("\n")
}

/** The SVG charts of `result`: wall time and CPU seconds per job, one bar per program. */
const charts = (result: ToolsResult) => {
  const subtitle = `${formatBytes(result.bytes)} file, N = ${result.chunks}, medians of ${result.repeat} run(s), ${result.cores} cores`
  const groups = (value: (row: Row) => number) =>
    result.results.map((job) => ({
      label: job.title,
      bars: [
        ...job.rows.map((row) => ({ label: row.program, value: value(row), ours: row.ours })),
        ...(job.tool.installed ? [] : [{ label: job.tool.name, value: undefined }])
      ]
    }))
  return [
    { name: "tools-wall.svg", text: barChart({ title: "Wall time, s3split beside the Unix tools", subtitle, unit: "s", groups: groups((row) => row.median.wallMs / 1000) }) },
    { name: "tools-cpu.svg", text: barChart({ title: "CPU seconds (process tree), s3split beside the Unix tools", subtitle, unit: "CPU-s", groups: groups((row) => row.median.cpuSeconds) }) }
  ]
}

/**
 * Runs the tools suite and writes `results.md`, `results.json`, `tools-wall.svg` and
 * `tools-cpu.svg` to `options.out`. Fails with `BenchError` when a command fails or a
 * `split --out` differs from GNU split's parts.
 */
export const run = (options: ToolsOptions, log: (line: string) => Effect.Effect<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const clis = yield* Effect.forEach(options.clis, (cli) => Effect.map(CliBundle.ensure(cli.path, log), (path) => ({ ...cli, path })))
    const versions = Object.fromEntries(
      Object.entries(TOOLS).map(([name, tool]) => [name, toolVersion(tool.program, tool.expected) ?? null])
    ) as Record<ToolName, string | null>
    if (versions.split === null) return yield* new BenchError({ reason: "GNU split is needed (apt-get install -y coreutils)" })
    const bench = yield* Workbench.scoped(options)
    yield* log(`bench tools: ${formatBytes(bench.bytes)} source, local S3 at ${bench.endpoint}, measured with ${bench.meter}`)
    const pin = options.cpus === undefined ? "" : `taskset -c ${options.cpus} `
    const variants = clis.flatMap((cli) =>
      (cli.backends ?? options.backends).map((backend) => ({
        label: `${cli.label} (${backend})`,
        command: (args: string) => `${pin}${quote(process.execPath)} ${quote(cli.path)} ${args}${backend === "local" ? "" : ` --backend ${backend}`}`
      }))
    )
    const gib = bench.bytes / 2 ** 30
    const results: Array<JobResult> = []
    for (const job of jobsFor(bench, options).filter((job) => options.only.includes(job.key))) {
      const installed = versions[job.tool] !== null
      const ours = variants.map(() => [] as Array<Sample>)
      const theirs: Array<Sample> = []
      for (let i = 0; i < options.repeat; i++) {
        for (const [v, variant] of variants.entries()) {
          job.prepare()
          const sample = yield* bench.timed(variant.command(job.ours))
          ours[v]!.push(sample)
          if (i === 0) yield* job.check()
          yield* log(`${job.key} #${i + 1} ${variant.label}: ${seconds(sample.wallMs)}, ${sample.cpuSeconds.toFixed(2)} CPU-s, ${megabytes(sample.peakRssBytes)}`)
        }
        if (installed) {
          job.prepare()
          const sample = yield* bench.timed(`${pin}${job.theirs}`)
          theirs.push(sample)
          yield* log(`${job.key} #${i + 1} ${job.toolName}: ${seconds(sample.wallMs)}, ${sample.cpuSeconds.toFixed(2)} CPU-s, ${megabytes(sample.peakRssBytes)}`)
        }
      }
      const tool = theirs.length === 0 ? undefined : medianSample(theirs)
      const row = (program: string, isOurs: boolean, command: string, samples: ReadonlyArray<Sample>): Row => {
        const m = medianSample(samples)
        return {
          program,
          ours: isOurs,
          command,
          samples,
          median: m,
          cpuPerGiB: gib === 0 ? 0 : m.cpuSeconds / gib,
          wallRatio: tool === undefined ? undefined : m.wallMs / tool.wallMs,
          cpuRatio: tool === undefined || tool.cpuSeconds === 0 ? undefined : m.cpuSeconds / tool.cpuSeconds
        }
      }
      results.push({
        key: job.key,
        title: job.title,
        tool: { name: job.toolName, installed, apt: TOOLS[job.tool].apt },
        rows: [
          ...variants.map((variant, v) => row(variant.label, true, variant.command(job.ours), ours[v]!)),
          ...(installed ? [row(job.toolName, false, `${pin}${job.theirs}`, theirs)] : [])
        ]
      })
    }
    const result: ToolsResult = {
      suite: "tools",
      mode: options.mode,
      file: bench.file,
      bytes: bench.bytes,
      chunks: options.chunks,
      jobs: options.jobs,
      repeat: options.repeat,
      cores: os.availableParallelism(),
      meter: bench.meter,
      tools: versions,
      results
    }
    const report = markdown(result)
    const files = yield* Workbench.writeReport(options.out, [
      { name: "results.md", text: report },
      { name: "results.json", text: JSON.stringify(result, null, 2) + "\n" },
      ...charts(result)
    ])
    return { result, markdown: report, files }
  }))

