/**
 * The bench end to end in quick mode, through its command: s3rver and the S3 model start on
 * loopback, every strategy runs in its own process, and the report is written. Nothing about
 * time is asserted; what is checked is what each strategy must do whatever the machine: its
 * GET count, the bytes it fetched beyond the object, and that every file was written.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { benchCommand, QUICK } from "../src/bench/BenchCommand.js"
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
    }), { timeout: 300_000 })

  it.live("rejects a malformed size before starting anything", () =>
    Effect.gen(function*() {
      const size = yield* Effect.flip(bench(["--quick", "--sizes", "12 parsecs", "--out", out]))
      expect(size).toBeInstanceOf(UsageError)
      expect((size as UsageError).message).toContain("--sizes must be a whole number of bytes")
      const scale = yield* Effect.flip(bench(["--quick", "--scale", "0.5", "--out", out]))
      expect((scale as UsageError).message).toContain("--scale must be auto or a number of at least 1")
    }))
})
