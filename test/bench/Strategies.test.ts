/**
 * The bench's strategies over the in-memory store: every line-aligned strategy equals the
 * sequential reference for any bytes and N, ideal tiles the object, and each makes the number
 * of GETs its method implies on the bench's synthetic object.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Strategies from "../../src/bench/Strategies.js"
import { LocalSplit } from "../../src/bench/Strategies.js"
import * as SyntheticObject from "../../src/bench/SyntheticObject.js"
import { NEWLINE } from "../../src/LineCut.js"
import { ObjectStore } from "../../src/ObjectStore.js"
import { plan } from "../../src/Planner.js"
import { jobLayer, seeded, SOURCE } from "../utils/Layers.js"
import { adversarialBytes, chunkCount, referenceChunks } from "../utils/Reference.js"

const LOOKAHEAD = 64 * 1024

/** Runs `strategy` on `bytes` cut into `chunks`; the chunk sizes and the GETs the store saw. */
const runOn = (strategy: Strategies.StrategyName, bytes: Uint8Array, chunks: number, pieceSize = 64 * 1024) =>
  Effect.gen(function*() {
    const memory = yield* seeded(bytes, { pieceSize })
    return yield* Effect.gen(function*() {
      const version = yield* (yield* ObjectStore).head(SOURCE)
      const seen = yield* Strategies.run(strategy, { uri: SOURCE, version, chunks, lookahead: LOOKAHEAD })
      const gets = (yield* memory.requests).filter((request) => request.op === "get")
      return { sizes: seen.map((chunk) => chunk.bytes), gets }
    }).pipe(Effect.provide(jobLayer(memory)))
  })

const referenceSizes = (bytes: Uint8Array, chunks: number) =>
  referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks })).map((part) => part.length)

describe("bench strategies", () => {
  for (const strategy of Strategies.STRATEGIES.filter(Strategies.isAligned)) {
    it.effect.prop(
      `${strategy} cuts like the reference for any bytes and N (N > S too), read in pieces of any size`,
      [adversarialBytes, chunkCount, FastCheck.constantFrom(1, 3, 64 * 1024)],
      ([bytes, chunks, pieceSize]) =>
        Effect.map(runOn(strategy, bytes, chunks, pieceSize), ({ sizes }) => {
          expect(sizes).toEqual(referenceSizes(bytes, chunks))
        }),
      { fastCheck: { numRuns: 60 } }
    )
  }

  it.effect.prop(
    "ideal reads exactly the approximate ranges",
    [adversarialBytes, chunkCount],
    ([bytes, chunks]) =>
      Effect.map(runOn("ideal", bytes, chunks), ({ sizes }) => {
        expect(sizes).toEqual(plan(bytes.length, { _tag: "Chunks", chunks }).map((range) => range.end - range.start))
      }),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("on the synthetic object each strategy makes the GETs its method implies", () =>
    Effect.gen(function*() {
      const bytes = SyntheticObject.bytes(1024 * 1024)
      const chunks = 8
      const approx = plan(bytes.length, { _tag: "Chunks", chunks })
      // The original method skips its start window when the byte before a cut is a newline.
      const newlineBefore = approx.slice(1).filter((range) => bytes[range.start - 1] === NEWLINE).length
      const expected: Record<Strategies.StrategyName, number> = {
        baseline: 1,
        smart: 2 * chunks - 1,
        approximate: 4 * chunks - 3 - newlineBefore,
        s3split: chunks,
        ideal: chunks
      }
      for (const strategy of Strategies.STRATEGIES) {
        const { gets, sizes } = yield* runOn(strategy, bytes, chunks)
        expect({ strategy, gets: gets.length }).toEqual({ strategy, gets: expected[strategy] })
        if (Strategies.isAligned(strategy)) expect(sizes).toEqual(referenceSizes(bytes, chunks))
      }
    }))

  it.effect("a chunk that does not add up to the object is an IntegrityError", () =>
    Effect.gen(function*() {
      const input = { uri: SOURCE, version: { size: 10, etag: "e" } as never, chunks: 2, lookahead: LOOKAHEAD }
      const error = yield* Effect.flip(Strategies.verify("s3split", input, [{ bytes: 4, lastByte: NEWLINE }, { bytes: 5, lastByte: 0x78 }]))
      expect(error._tag).toBe("IntegrityError")
      const cut = yield* Effect.flip(Strategies.verify("smart", input, [{ bytes: 4, lastByte: 0x78 }, { bytes: 6, lastByte: 0x78 }]))
      expect(cut.message).toContain("chunk 0 ends inside a line")
    }))
})

describe("LocalSplit", () => {
  it.prop(
    "cuts one sequential pass like the reference, whatever the pieces",
    [adversarialBytes, chunkCount, FastCheck.integer({ min: 1, max: 50 })],
    ([bytes, chunks, pieceSize]) => {
      const splitter = new LocalSplit(plan(bytes.length, { _tag: "Chunks", chunks }), bytes.length)
      for (let offset = 0; offset < bytes.length; offset += pieceSize) splitter.push(bytes.subarray(offset, offset + pieceSize))
      expect(splitter.result().map((chunk) => chunk.bytes)).toEqual(referenceSizes(bytes, chunks))
    },
    { fastCheck: { numRuns: 200 } }
  )
})

describe("SyntheticObject", () => {
  it("is the same for the same seed, and its lines are 40 to 400 bytes long", () => {
    const bytes = SyntheticObject.bytes(3 * 1024 * 1024 + 17)
    expect(Buffer.from(bytes).equals(Buffer.from(SyntheticObject.bytes(3 * 1024 * 1024 + 17)))).toBe(true)
    expect(bytes.length).toBe(3 * 1024 * 1024 + 17)
    const lengths: Array<number> = []
    let start = 0
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, start)) {
      lengths.push(i + 1 - start)
      start = i + 1
    }
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(SyntheticObject.LINE_MIN)
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SyntheticObject.LINE_MAX)
    expect(bytes.length - start).toBeLessThan(SyntheticObject.LINE_MAX)
  })
})
