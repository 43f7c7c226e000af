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
import { readSmall } from "../src/Retry.js"
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
const gets = <R extends { readonly op: string }>(requests: ReadonlyArray<R>) => requests.filter((request) => request.op === "get")

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

describe("readSmall", () => {
  /** `readSmall` of `range` of OBJECT with the test clock run far ahead; its exit, requests and counters. */
  const small = (memory: MemoryObjectStore, range: { start: number; end: number }) =>
    Effect.gen(function*() {
      const stats = yield* Stats
      const version = yield* (yield* ObjectStore).head(SOURCE)
      const fiber = yield* Effect.fork(readSmall(SOURCE, version, range))
      yield* TestClock.adjust("10 minutes")
      const exit = yield* Fiber.await(fiber)
      return { exit, requests: gets(yield* memory.requests), retries: yield* stats.retries, counted: yield* stats.requests }
    }).pipe(Effect.provide(jobLayer(memory, 5)))

  it.effect("one GET for the exact bytes, delivered in several pieces or one; an empty range makes none", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(OBJECT, { pieceSize: 100 })
      const { counted, exit, requests } = yield* small(memory, { start: 17, end: 1234 })
      expect(exit).toEqual(Exit.succeed(OBJECT.subarray(17, 1234)))
      expect(requests).toHaveLength(1)
      expect(counted).toBe(1)
      const empty = yield* small(yield* seeded(OBJECT), { start: 5, end: 5 })
      expect(Exit.isSuccess(empty.exit) && empty.exit.value.length).toBe(0)
      expect(empty.requests).toHaveLength(0)
    }))

  it.effect("a cut body is resumed from its next unread byte (throttles retried), the bytes exact", () =>
    Effect.gen(function*() {
      const faults: FaultPlan = (request, n) =>
        request.op !== "get" ? undefined : n === 1 ? { _tag: "CutBody", afterBytes: 300 } : n === 2 ? { _tag: "Throttle" } : undefined
      const memory = yield* seeded(OBJECT, { faults, pieceSize: 100 })
      const { counted, exit, requests, retries } = yield* small(memory, { start: 0, end: OBJECT.length })
      expect(exit).toEqual(Exit.succeed(OBJECT))
      expect(requests.map((request) => request.range)).toEqual([0, 300, 300].map((start) => ({ start, end: OBJECT.length })))
      expect(retries).toBe(2)
      expect(counted).toBe(3)
    }))

  it.effect("an object overwritten since the listing is ObjectChangedError; a fault that persists is RetriesExhaustedError", () =>
    Effect.gen(function*() {
      const overwrite: FaultPlan = (request) => request.op === "get" ? { _tag: "Overwrite", bytes: Buffer.from("new\n") } : undefined
      const changed = yield* small(yield* seeded(OBJECT, { faults: overwrite }), { start: 0, end: 100 })
      expect(Exit.isFailure(changed.exit) && Option.getOrUndefined(Cause.failureOption(changed.exit.cause))).toBeInstanceOf(ObjectChangedError)
      const throttle: FaultPlan = (request) => request.op === "get" ? { _tag: "Throttle" } : undefined
      const exhausted = yield* small(yield* seeded(OBJECT, { faults: throttle }), { start: 0, end: 100 })
      const failure = Exit.isFailure(exhausted.exit) ? Option.getOrUndefined(Cause.failureOption(exhausted.exit.cause)) : undefined
      expect(failure).toBeInstanceOf(RetriesExhaustedError)
      expect((failure as RetriesExhaustedError).attempts).toBe(5)
      expect(exhausted.requests).toHaveLength(5)
    }))
})
