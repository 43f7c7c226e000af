import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { ObjectChangedError, RetriesExhaustedError } from "../src/Errors.js"
import type { FaultPlan } from "../src/MemoryObjectStore.js"
import { ObjectStore } from "../src/ObjectStore.js"
import * as ObjectUri from "../src/ObjectUri.js"
import { plan } from "../src/Planner.js"
import { split } from "../src/Split.js"
import type { SplitOptions } from "../src/Split.js"
import { jobLayer, OUT, seeded, SOURCE } from "./utils/Layers.js"
import { referenceChunks } from "./utils/Reference.js"

const OBJECT = Buffer.from(Array.from({ length: 3000 }, (_, i) => `${i}\t${"k".repeat(i % 41)}\n`).join(""))
const options = (out: SplitOptions["out"], chunks = 8): SplitOptions => ({
  source: SOURCE,
  spec: { _tag: "Chunks", chunks },
  out,
  concurrency: 4,
  lookahead: 512
})
const partUri = (i: number) => ObjectUri.child(OUT, `part-${String(i).padStart(5, "0")}`)
const manifestUri = ObjectUri.child(OUT, "_manifest.json")

/** Runs a split over `memory` with the test clock running far ahead. */
const runSplit = (memory: Effect.Effect.Success<ReturnType<typeof seeded>>, splitOptions: SplitOptions) =>
  Effect.gen(function*() {
    const version = yield* (yield* ObjectStore).head(SOURCE)
    const fiber = yield* Effect.fork(split(splitOptions, version))
    yield* TestClock.adjust("10 minutes")
    return yield* Fiber.join(fiber)
  }).pipe(Effect.provide(jobLayer(memory)))

describe("split", () => {
  it.effect("without --out resolves boundaries with window reads only, never the chunk bodies", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(OBJECT)
      const report = yield* runSplit(memory, options(undefined))
      const expected = referenceChunks(OBJECT, plan(OBJECT.length, { _tag: "Chunks", chunks: 8 }))
      expect(report.rows.map((row) => Buffer.from(OBJECT.subarray(row.start, row.end)))).toEqual(expected)
      const gets = (yield* memory.requests).filter((request) => request.op === "get")
      // One window per interior cut point, each far smaller than a chunk.
      expect(gets).toHaveLength(7)
      expect(gets.every((get) => get.range!.end - get.range!.start <= 64 * 1024)).toBe(true)
    }))

  it.effect("with --out writes every part, then the manifest, whose ranges tile the object", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(OBJECT)
      const report = yield* runSplit(memory, options(OUT))
      const expected = referenceChunks(OBJECT, plan(OBJECT.length, { _tag: "Chunks", chunks: 8 }))
      for (const [i, bytes] of expected.entries()) {
        expect(yield* memory.read(partUri(i))).toEqual(Buffer.from(bytes))
      }
      const puts = (yield* memory.requests).filter((request) => request.op === "put")
      expect(puts.at(-1)!.uri).toBe(ObjectUri.format(manifestUri))
      const manifest = JSON.parse(Buffer.from((yield* memory.read(manifestUri))!).toString("utf8"))
      expect(manifest.parts.map((part: { start: number; end: number }) => [part.start, part.end])).toEqual(
        report.rows.map((row) => [row.start, row.end])
      )
      expect(report.rows.at(-1)!.end).toBe(OBJECT.length)
    }))

  it.effect("an object changed mid-run fails with ObjectChangedError and leaves no parts and no manifest", () =>
    Effect.gen(function*() {
      const faults: FaultPlan = (request, n) => request.op === "get" && n > 6 ? { _tag: "Overwrite", bytes: Buffer.from("v2\n") } : undefined
      const memory = yield* seeded(OBJECT, { faults })
      yield* memory.seed(manifestUri, Buffer.from("{\"stale\":true}"))
      const error = yield* Effect.flip(runSplit(memory, options(OUT)))
      expect(error).toBeInstanceOf(ObjectChangedError)
      expect(yield* memory.keys).toEqual([ObjectUri.format(SOURCE)])
    }))

  it.effect("retries exhausted on one chunk fail the run with the attempt count and clean up", () =>
    Effect.gen(function*() {
      const faults: FaultPlan = (request) =>
        request.op === "get" && request.range!.start > OBJECT.length / 2 ? { _tag: "Throttle" } : undefined
      const memory = yield* seeded(OBJECT, { faults })
      const error = yield* Effect.flip(runSplit(memory, options(OUT)))
      expect(error).toBeInstanceOf(RetriesExhaustedError)
      expect((error as RetriesExhaustedError).attempts).toBe(5)
      expect(yield* memory.keys).toEqual([ObjectUri.format(SOURCE)])
    }))

  it.effect("a 0-byte object splits into N empty parts without a single ranged GET", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(new Uint8Array(0))
      const report = yield* runSplit(memory, options(OUT, 3))
      expect(report.rows.map((row) => row.bytes)).toEqual([0, 0, 0])
      expect((yield* memory.requests).filter((request) => request.op === "get")).toEqual([])
      expect(yield* memory.read(partUri(2))).toEqual(Buffer.alloc(0))
    }))
})
