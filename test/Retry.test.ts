import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Boundary } from "../src/Boundary.js"
import { ObjectChangedError, RetriesExhaustedError } from "../src/Errors.js"
import type { FaultPlan, MemoryObjectStore } from "../src/MemoryObjectStore.js"
import { ObjectStore } from "../src/ObjectStore.js"
import { plan } from "../src/Planner.js"
import { Stats } from "../src/Stats.js"
import { jobLayer, seeded, SOURCE } from "./utils/Layers.js"
import { referenceChunks } from "./utils/Reference.js"

const OBJECT = Buffer.from(Array.from({ length: 2000 }, (_, i) => `line ${i} ${"z".repeat(i % 37)}\n`).join(""))
const CHUNKS = 6

/** Reads all chunks concurrently while the test clock runs far ahead; returns parts, requests and retries. */
const readAll = (memory: MemoryObjectStore, maxAttempts = 5) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const stats = yield* Stats
    const version = yield* (yield* ObjectStore).head(SOURCE)
    const fiber = yield* Effect.fork(
      Effect.forEach(plan(OBJECT.length, { _tag: "Chunks", chunks: CHUNKS }), (approx) =>
        boundary.readChunk(SOURCE, version, approx, { lookahead: 256 }).pipe(
          Stream.runCollect,
          Effect.map((pieces) => Buffer.concat(Chunk.toArray(pieces)))
        ), { concurrency: CHUNKS })
    )
    yield* TestClock.adjust("10 minutes")
    const parts = yield* Fiber.join(fiber)
    return { parts, requests: yield* memory.requests, retries: yield* stats.retries, bytesFetched: yield* stats.bytesFetched }
  }).pipe(Effect.provide(jobLayer(memory, maxAttempts)))

const expected = referenceChunks(OBJECT, plan(OBJECT.length, { _tag: "Chunks", chunks: CHUNKS }))
const gets = (requests: ReadonlyArray<{ op: string }>) => requests.filter((request) => request.op === "get")

describe("retries and resumption", () => {
  it.effect("survives a SlowDown storm: the first 4 GETs are throttled, the bytes stay exact", () =>
    Effect.gen(function*() {
      let throttled = 0
      const faults: FaultPlan = (request) => request.op === "get" && throttled++ < 4 ? { _tag: "Throttle" } : undefined
      const memory = yield* seeded(OBJECT, { faults, pieceSize: 100 })
      const { parts, requests, retries } = yield* readAll(memory)
      expect(parts).toEqual(expected)
      expect(retries).toBe(4)
      expect(gets(requests)).toHaveLength(CHUNKS + 4)
    }))

  it.effect("survives 500s the same way", () =>
    Effect.gen(function*() {
      const faults: FaultPlan = (request, n) => request.op === "get" && n % 3 === 1 ? { _tag: "ServerError", status: 500 } : undefined
      const memory = yield* seeded(OBJECT, { faults, pieceSize: 100 })
      const { parts, retries } = yield* readAll(memory)
      expect(parts).toEqual(expected)
      expect(retries).toBeGreaterThan(0)
    }))

  it.effect("a body cut after k bytes resumes from the next unread byte, losing and repeating nothing", () =>
    Effect.gen(function*() {
      // Whole bodies as single pieces, so a clean run and a cut run consume the same windows.
      const clean = yield* readAll(yield* seeded(OBJECT))
      const faults: FaultPlan = (request, n) => request.op === "get" && n < 8 ? { _tag: "CutBody", afterBytes: 37 + n } : undefined
      const memory = yield* seeded(OBJECT, { faults })
      const { parts, requests, retries, bytesFetched } = yield* readAll(memory)
      expect(parts).toEqual(expected)
      expect(retries).toBeGreaterThan(0)
      // Resumed requests fetch only what the cut ones did not deliver: no byte is fetched twice.
      expect(bytesFetched).toBe(clean.bytesFetched)
      expect(gets(requests).length).toBe(gets(clean.requests).length + retries)
    }))

  it.effect("an object overwritten between requests fails with ObjectChangedError, never mixed bytes", () =>
    Effect.gen(function*() {
      const faults: FaultPlan = (request, n) => request.op === "get" && n === 3 ? { _tag: "Overwrite", bytes: Buffer.from("new\ncontent\n") } : undefined
      const memory = yield* seeded(OBJECT, { faults })
      const error = yield* Effect.flip(readAll(memory))
      expect(error).toBeInstanceOf(ObjectChangedError)
    }))

  it.effect("gives up after maxAttempts with the attempt count and the last cause, backing off 100, 200, 400, 800 ms", () =>
    Effect.gen(function*() {
      const faults: FaultPlan = (request) => request.op === "get" ? { _tag: "Throttle" } : undefined
      const memory = yield* seeded(OBJECT, { faults })
      const result = yield* Effect.gen(function*() {
        const boundary = yield* Boundary
        const version = yield* (yield* ObjectStore).head(SOURCE)
        const fiber = yield* Effect.fork(Stream.runDrain(boundary.readChunk(SOURCE, version, { start: 0, end: 100 }, { lookahead: 0 })))
        const seen: Array<number> = []
        for (const step of [0, 99, 1, 199, 1, 399, 1, 799, 1]) {
          yield* TestClock.adjust(step)
          seen.push(gets(yield* memory.requests).length)
        }
        return { seen, exit: yield* Fiber.await(fiber) }
      }).pipe(Effect.provide(jobLayer(memory, 5)), Effect.withRandom(Random.fixed([0.5])))
      expect(result.seen).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5])
      const failure = Exit.isFailure(result.exit) ? Option.getOrUndefined(Cause.failureOption(result.exit.cause)) : undefined
      expect(failure).toBeInstanceOf(RetriesExhaustedError)
      expect((failure as RetriesExhaustedError).attempts).toBe(5)
      expect((failure as RetriesExhaustedError).lastCause).toContain("SlowDown")
    }))
})
