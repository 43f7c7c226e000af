import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Boundary from "../src/Boundary.js"
import * as BoundaryMemo from "../src/BoundaryMemo.js"
import { StoreError } from "../src/Errors.js"
import type { MemoryObjectStore } from "../src/MemoryObjectStore.js"
import { ObjectStore, ObjectVersion } from "../src/ObjectStore.js"
import { plan } from "../src/Planner.js"
import { Stats } from "../src/Stats.js"
import { seeded, SOURCE } from "./utils/Layers.js"
import { adversarialBytes, chunkCount } from "./utils/Reference.js"

/**
 * Every chunk's two searches as `ChunkWorker` makes them for a direct copy (`alignUp` of its
 * approximate start and end, all chunks at once), over `boundary` on `memory`: the resolved
 * ranges and the GETs made.
 */
const resolveAll = (
  memory: MemoryObjectStore,
  boundary: Layer.Layer<Boundary.Boundary, never, ObjectStore>,
  chunks: number,
  lookahead: number
) =>
  Effect.gen(function*() {
    const search = yield* Boundary.Boundary
    const version = yield* (yield* ObjectStore).head(SOURCE)
    const ranges = yield* Effect.forEach(plan(version.size, { _tag: "Chunks", chunks }), (approx) =>
      Effect.all([
        search.alignUp(SOURCE, version, approx.start, { lookahead }),
        search.alignUp(SOURCE, version, approx.end, { lookahead })
      ], { concurrency: 2 }), { concurrency: "unbounded" })
    const gets = (yield* memory.requests).filter((request) => request.op === "get").length
    return { ranges, gets }
  }).pipe(
    Effect.provide(Layer.merge(Layer.provide(boundary, Layer.succeed(ObjectStore, memory.store)), Stats.layer)),
    Effect.provideService(ObjectStore, memory.store)
  )

const VERSION = new ObjectVersion({ size: 1000, etag: "\"e\"" })

/** A `Boundary` whose `alignUp` runs `search` (counting its calls) and has no `readChunk`. */
const fake = (search: (x: number) => Effect.Effect<number, StoreError>) => {
  let calls = 0
  const boundary = Boundary.Boundary.of({
    alignUp: (_uri, _version, x) => Effect.suspend(() => (calls++, search(x))),
    readChunk: () => Stream.empty
  })
  return { boundary, calls: () => calls }
}

describe("BoundaryMemo", () => {
  it.effect("a run of N chunks searches each of its N - 1 interior cuts once (2N - 2 without the memo)", () =>
    Effect.gen(function*() {
      const bytes = Buffer.from("0123456789abcdef0123456789abcdef0123456789abcdef012345678\n".repeat(10_000))
      const plain = yield* resolveAll(yield* seeded(bytes), Boundary.layer, 16, 1024)
      const memo = yield* resolveAll(yield* seeded(bytes), BoundaryMemo.layer, 16, 1024)
      expect(plain.gets).toBe(30)
      expect(memo.gets).toBe(15)
      expect(memo.ranges).toEqual(plain.ranges)
      // Neighbours agree: each chunk ends where the next starts.
      for (let i = 1; i < memo.ranges.length; i++) expect(memo.ranges[i]![0]).toBe(memo.ranges[i - 1]![1])
    }))

  it.effect.prop(
    "finds the same boundaries as the plain search for any bytes, N and lookahead, with no more GETs",
    [adversarialBytes, chunkCount, FastCheck.constantFrom(0, 1, 3, 64 * 1024)],
    ([bytes, chunks, lookahead]) =>
      Effect.gen(function*() {
        const plain = yield* resolveAll(yield* seeded(bytes, { pieceSize: 5 }), Boundary.layer, chunks, lookahead)
        const memo = yield* resolveAll(yield* seeded(bytes, { pieceSize: 5 }), BoundaryMemo.layer, chunks, lookahead)
        expect(memo.ranges).toEqual(plain.ranges)
        expect(memo.gets).toBeLessThanOrEqual(plain.gets)
      }),
    { fastCheck: { numRuns: 30 } }
  )

  it.effect("callers asking while a search runs share it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { boundary, calls } = fake((x) => Effect.as(Deferred.await(gate), x + 1))
      const memo = BoundaryMemo.memoize(boundary)
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(memo.alignUp(SOURCE, VERSION, 500, { lookahead: 0 })))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const found = yield* Effect.forEach(fibers, Fiber.join)
      expect(found).toEqual([501, 501, 501])
      expect(calls()).toBe(1)
      // A different position, or a different version of the object, is another search.
      yield* memo.alignUp(SOURCE, VERSION, 600, { lookahead: 0 })
      yield* memo.alignUp(SOURCE, new ObjectVersion({ size: 1000, etag: "\"f\"" }), 500, { lookahead: 0 })
      expect(calls()).toBe(3)
    }).pipe(Effect.provide(Stats.layer)))

  it.effect("a failed search is not remembered: the next caller searches again", () =>
    Effect.gen(function*() {
      let failures = 1
      const { boundary, calls } = fake((x) =>
        failures-- > 0 ? Effect.fail(new StoreError({ uri: "s3://bucket/data/object.txt", reason: "boom" })) : Effect.succeed(x + 1)
      )
      const memo = BoundaryMemo.memoize(boundary)
      const first = yield* Effect.exit(memo.alignUp(SOURCE, VERSION, 500, { lookahead: 0 }))
      expect(Exit.isFailure(first)).toBe(true)
      expect(yield* memo.alignUp(SOURCE, VERSION, 500, { lookahead: 0 })).toBe(501)
      expect(yield* memo.alignUp(SOURCE, VERSION, 500, { lookahead: 0 })).toBe(501)
      expect(calls()).toBe(2)
    }).pipe(Effect.provide(Stats.layer)))

  it.effect("when the caller that started a search is interrupted, a waiting caller searches itself", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const { boundary, calls } = fake((x) =>
        calls() === 1 ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.never) : Effect.succeed(x + 1)
      )
      const memo = BoundaryMemo.memoize(boundary)
      const owner = yield* Effect.fork(memo.alignUp(SOURCE, VERSION, 500, { lookahead: 0 }))
      yield* Deferred.await(started)
      const waiter = yield* Effect.fork(memo.alignUp(SOURCE, VERSION, 500, { lookahead: 0 }))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(owner)
      expect(yield* Fiber.join(waiter)).toBe(501)
      expect(calls()).toBe(2)
    }).pipe(Effect.provide(Stats.layer)))

  it.effect("the ends of the object (0 and its size) are passed through, not remembered", () =>
    Effect.gen(function*() {
      const { boundary, calls } = fake((x) => Effect.succeed(x))
      const memo = BoundaryMemo.memoize(boundary)
      yield* memo.alignUp(SOURCE, VERSION, 0, { lookahead: 0 })
      yield* memo.alignUp(SOURCE, VERSION, 0, { lookahead: 0 })
      // Passed through to the underlying boundary, which answers the ends without a request.
      expect(calls()).toBe(2)
    }).pipe(Effect.provide(Stats.layer)))
})
