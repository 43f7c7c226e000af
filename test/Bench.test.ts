/**
 * The bench end to end, through its command, one suite at a time. Strategies (quick mode):
 * s3rver and the S3 model start on loopback, every strategy runs in its own process, and the
 * report is written; what is checked is what each strategy must do whatever the machine: its
 * GET count, the bytes it fetched beyond the object. Tools and memory, on a tiny synthetic
 * file with a CLI bundle built for the test: every job and mode is measured and reported, and a
 * tool that is not installed here (GNU parallel, the AWS CLI) is reported as not installed,
 * which the test asserts by asking the machine itself. Nothing about time is asserted.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BenchError } from "../src/bench/BenchError.js"
import { benchCommand, QUICK } from "../src/bench/BenchCommand.js"
import * as CliBundle from "../src/bench/CliBundle.js"
import type { MemoryResult } from "../src/bench/Memory.js"
import * as Timed from "../src/bench/Timed.js"
import type { ToolsResult } from "../src/bench/Tools.js"
import type { Row, Run } from "../src/bench/Report.js"
import { STRATEGIES } from "../src/bench/Strategies.js"
import type { StrategyName } from "../src/bench/Strategies.js"
import * as SyntheticObject from "../src/bench/SyntheticObject.js"
import { UsageError } from "../src/Errors.js"
import { NEWLINE } from "../src/LineCut.js"
import { plan } from "../src/Planner.js"

const LOOKAHEAD = 64 * 1024
const SIZES = [1024 * 1024, 4 * 1024 * 1024]
const CHUNKS = [1, 4]

const out = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-bench-test-"))
afterAll(() => fs.rmSync(out, { recursive: true, force: true }))

const bench = (args: ReadonlyArray<string>) =>
  Command.run(benchCommand, { name: "s3split", version: "test" })(["node", "s3split", ...args]).pipe(
    Effect.provide(NodeContext.layer)
  )

/** The GETs each strategy's method needs on the synthetic object of `size` cut into `chunks`. */
const expectedGets = (size: number, chunks: number): Record<StrategyName, number> => {
  const bytes = SyntheticObject.bytes(size)
  // The original method skips its start window when the byte before a cut is a newline.
  const newlineBefore = plan(size, { _tag: "Chunks", chunks }).slice(1).filter((range) => bytes[range.start - 1] === NEWLINE).length
  return {
    baseline: 1,
    smart: 2 * chunks - 1,
    approximate: 4 * chunks - 3 - newlineBefore,
    s3split: chunks,
    ideal: chunks
  }
}

/** Most bytes each strategy may fetch beyond the object: its windows and lookaheads, at most. */
const mostBeyond = (chunks: number): Record<StrategyName, number> => ({
  baseline: 0,
  smart: (chunks - 1) * LOOKAHEAD,
  approximate: (chunks - 1) * (2 * LOOKAHEAD + 1),
  s3split: (chunks - 1) * (LOOKAHEAD + 1),
  ideal: 0
})

describe("bench --quick", () => {
  it.live("runs every strategy against s3rver behind the model and writes the table and charts", () =>
    Effect.gen(function*() {
      expect(QUICK).toMatchObject({ sizes: "1MiB,4MiB", chunks: "1,4", repeat: 1 })
      yield* bench(["--quick", "--out", out])

      const written = fs.readdirSync(out).sort()
      expect(written).toEqual(["results.json", "results.md", "throughput-1MiB.svg", "throughput-4MiB.svg"])
      for (const chart of written.filter((name) => name.endsWith(".svg"))) {
        const svg = fs.readFileSync(path.join(out, chart), "utf8")
        expect(svg.startsWith("<svg")).toBe(true)
        expect(svg.match(/<polyline/g)).toHaveLength(STRATEGIES.length)
      }

      const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")) as {
        readonly mode: string
        readonly calibration: { readonly scale: number; readonly capacityMBps: number }
        readonly rows: ReadonlyArray<Row>
        readonly runs: ReadonlyArray<Run>
      }
      expect(results.mode).toBe("quick")
      expect(results.calibration.scale).toBeGreaterThanOrEqual(1)
      expect(results.calibration.capacityMBps).toBeGreaterThan(0)
      expect(results.rows).toHaveLength(SIZES.length * CHUNKS.length * STRATEGIES.length)
      for (const size of SIZES) {
        for (const chunks of CHUNKS) {
          const gets = expectedGets(size, chunks)
          const beyond = mostBeyond(chunks)
          for (const strategy of STRATEGIES) {
            const row = results.rows.find((row) => row.size === size && row.chunks === chunks && row.strategy === strategy)
            expect(row, `${strategy} ${size} ${chunks}`).toBeDefined()
            expect({ strategy, size, chunks, gets: row!.gets }).toEqual({ strategy, size, chunks, gets: gets[strategy] })
            expect(row!.repetitions).toBe(1)
            expect(row!.slowdowns).toBe(0)
            expect(row!.beyondBytes).toBeGreaterThanOrEqual(0)
            expect(row!.beyondBytes).toBeLessThanOrEqual(beyond[strategy])
            expect(row!.peakRssBytes).toBeGreaterThan(0)
            expect(row!.speedup).toBeGreaterThan(0)
            expect(row!.ofIdeal).toBeGreaterThan(0)
          }
        }
      }
      // What the proxy saw is what the clients sent: one GET per request, no retries.
      for (const run of results.runs) {
        expect({ strategy: run.strategy, gets: run.gets, retries: run.retries }).toEqual({
          strategy: run.strategy,
          gets: run.requests,
          retries: 0
        })
        expect(run.chunkSizes.reduce((sum, size) => sum + size, 0)).toBe(run.size)
      }

      const markdown = fs.readFileSync(path.join(out, "results.md"), "utf8")
      expect(markdown).toContain("quick mode")
      expect(markdown).toContain("| 4MiB | 4 | **s3split** |")
      expect(markdown).toMatch(/The machine moved \d+ MB\/s/)
      expect(markdown).toContain("![throughput against N, 4MiB](throughput-4MiB.svg)")
    }), { timeout: 600_000 })

  it.live("rejects a malformed size before starting anything", () =>
    Effect.gen(function*() {
      const size = yield* Effect.flip(bench(["--quick", "--sizes", "12 parsecs", "--out", out]))
      expect(size).toBeInstanceOf(UsageError)
      expect((size as UsageError).message).toContain("--sizes must be a whole number of bytes")
      const scale = yield* Effect.flip(bench(["--quick", "--scale", "0.5", "--out", out]))
      expect((scale as UsageError).message).toContain("--scale must be auto or a number of at least 1")
    }))
})

/** Whether `program --version` runs and names the tool: asked here, not through the bench. */
const hasTool = (program: string, name: RegExp) => {
  const probe = spawnSync(program, ["--version"], { encoding: "utf8" })
  return probe.status === 0 && name.test(`${probe.stdout}${probe.stderr}`)
}

describe("bench --suite tools and --suite memory", () => {
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-bench-dist-"))
  const cli = path.join(dist, "cli.mjs")
  beforeAll(() => CliBundle.build(CliBundle.packageRoot(), dist), 300_000)
  afterAll(() => fs.rmSync(dist, { recursive: true, force: true }))

  it.live("tools: every job runs s3split and the installed tools on one file, and names the absent ones", () =>
    Effect.gen(function*() {
      const dir = path.join(out, "tools")
      yield* bench(["--suite", "tools", "--size", "256KiB", "--chunks", "4", "--repeat", "1", "--cli", `s3split=${cli}`, "--out", dir])
      expect(fs.readdirSync(dir).sort()).toEqual(["results.json", "results.md", "tools-cpu.svg", "tools-wall.svg"])
      const result = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8")) as ToolsResult
      expect(result.bytes).toBe(256 * 1024)
      expect(result.tools.split).toMatch(/GNU coreutils/)
      const parallel = hasTool("parallel", /GNU parallel/)
      const aws = hasTool("aws", /aws-cli/)
      expect(result.tools.parallel !== null).toBe(parallel)
      expect(result.tools.aws !== null).toBe(aws)
      expect(result.results.map((job) => job.key)).toEqual(["split", "gzip", "cat", "s3"])
      const installed: Record<string, boolean> = { split: true, gzip: parallel, cat: parallel, s3: aws }
      const markdown = fs.readFileSync(path.join(dir, "results.md"), "utf8")
      for (const job of result.results) {
        expect({ job: job.key, installed: job.tool.installed }).toEqual({ job: job.key, installed: installed[job.key] })
        const ours = job.rows.filter((row) => row.ours)
        expect(ours.map((row) => row.program)).toEqual(["s3split (local)"])
        expect(job.rows).toHaveLength(installed[job.key] ? 2 : 1)
        for (const row of job.rows) {
          expect(row.samples).toHaveLength(1)
          expect(row.median.wallMs).toBeGreaterThan(0)
          expect(row.median.cpuSeconds).toBeGreaterThanOrEqual(0)
          expect(row.median.peakRssBytes).toBeGreaterThan(0)
        }
        expect(ours[0]!.wallRatio !== undefined).toBe(installed[job.key])
        if (!job.tool.installed) expect(markdown).toContain(`| ${job.tool.name} | not installed (\`apt-get install -y ${job.tool.apt}\`)`)
      }
      expect(fs.readFileSync(path.join(dir, "tools-wall.svg"), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/)
    }), { timeout: 600_000 })

  it.live("memory: every mode is measured against the 300 MB target", () =>
    Effect.gen(function*() {
      const dir = path.join(out, "memory")
      yield* bench(["--suite", "memory", "--size", "256KiB", "--chunks", "4", "--repeat", "1", "--cli", cli, "--out", dir])
      expect(fs.readdirSync(dir).sort()).toEqual(["memory.svg", "results.json", "results.md"])
      const result = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8")) as MemoryResult
      expect(result.targetBytes).toBe(300e6)
      expect(result.results.map((mode) => mode.key)).toEqual(["split-dir", "split-s3", "run-local", "run-threads", "run-s3", "run-out-s3"])
      for (const mode of result.results) {
        expect(mode.peakRssBytes).toBeGreaterThan(0)
        expect({ mode: mode.key, underTarget: mode.underTarget }).toEqual({ mode: mode.key, underTarget: true })
      }
      expect(fs.readFileSync(path.join(dir, "results.md"), "utf8")).toContain("| `run FILE --exec cat --backend threads` |")
    }), { timeout: 600_000 })

  it.live("rejects a list of N, an unknown job and an older bundle that is missing", () =>
    Effect.gen(function*() {
      const many = yield* Effect.flip(bench(["--suite", "tools", "--chunks", "1,4", "--out", out]))
      expect((many as UsageError).message).toContain("--chunks (one N for this suite) must be a whole number")
      const job = yield* Effect.flip(bench(["--suite", "tools", "--only", "split,sort", "--out", out]))
      expect((job as UsageError).message).toContain(`--only: unknown "sort"`)
      const missing = yield* Effect.flip(bench(["--suite", "memory", "--size", "1KiB", "--cli", path.join(dist, "nope.mjs"), "--out", out]))
      expect(missing).toBeInstanceOf(BenchError)
      expect((missing as BenchError).message).toContain("nope.mjs does not exist")
    }))
})

describe("a timed command", () => {
  const report = path.join(out, "usage")

  it.live("python3's getrusage measures the whole tree when GNU time is absent, and a failure names the exit status", () =>
    Effect.gen(function*() {
      expect(Timed.defaultMeter()).toBe(fs.existsSync("/usr/bin/time") ? "gnu-time" : "python3")
      const options = { cwd: out, report, meter: "python3" as const }
      // A child of the shell holds 64 MiB: the tree's peak is at least that.
      const sample = yield* Timed.timed(`node -e 'const b = Buffer.alloc(64 * 1024 * 1024, 1); console.log(b[0])'`, options)
      expect(sample.peakRssBytes).toBeGreaterThan(64 * 1024 * 1024)
      expect(sample.cpuSeconds).toBeGreaterThan(0)
      const failed = yield* Effect.flip(Timed.timed("echo broken >&2; exit 3", options))
      expect(failed.message).toContain("exited with 3: broken")
    }).pipe(Effect.provide(NodeContext.layer)), { timeout: 60_000 })
})
