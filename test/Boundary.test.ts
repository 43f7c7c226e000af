import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import { Boundary } from "../src/Boundary.js"
import { alignUpIn } from "../src/LineCut.js"
import { ObjectStore } from "../src/ObjectStore.js"
import { plan } from "../src/Planner.js"
import { Stats } from "../src/Stats.js"
import { jobLayer, seeded, SOURCE } from "./utils/Layers.js"
import { adversarialBytes, chunkCount, referenceChunks } from "./utils/Reference.js"

/** Reads every chunk of `bytes` with the streaming reader over a memory store. */
const readAll = (bytes: Uint8Array, chunks: number, pieceSize: number, lookahead: number) =>
  Effect.gen(function*() {
    const memory = yield* seeded(bytes, { pieceSize })
    return yield* Effect.gen(function*() {
      const boundary = yield* Boundary
      const version = yield* (yield* ObjectStore).head(SOURCE)
      const parts = yield* Effect.forEach(plan(bytes.length, { _tag: "Chunks", chunks }), (approx) =>
        boundary.readChunk(SOURCE, version, approx, { lookahead }).pipe(
          Stream.runCollect,
          Effect.map((pieces) => Buffer.concat(Chunk.toArray(pieces)))
        ))
      return { parts, requests: yield* memory.requests, stats: yield* Effect.flatMap(Stats, (s) => s.requests) }
    }).pipe(Effect.provide(jobLayer(memory)))
  })

describe("Boundary.readChunk", () => {
  it.effect.prop(
    "equals the reference for any bytes, N (N > S too), lookahead and piece size",
    [adversarialBytes, chunkCount, FastCheck.constantFrom(1, 2, 5, 64 * 1024), FastCheck.constantFrom(0, 1, 3, 64 * 1024)],
    ([bytes, chunks, pieceSize, lookahead]) =>
      Effect.map(readAll(bytes, chunks, pieceSize, lookahead), ({ parts }) => {
        expect(parts).toEqual(referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks })))
      }),
    { fastCheck: { numRuns: 150 } }
  )

  it.effect("makes one GET per chunk when every line fits in the lookahead", () =>
    Effect.gen(function*() {
      const line = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n"
      const bytes = Buffer.from(line.repeat(10_000))
      const { parts, requests } = yield* readAll(bytes, 16, 64 * 1024, 1024)
      expect(Buffer.concat(parts)).toEqual(bytes)
      const gets = requests.filter((request) => request.op === "get")
      expect(gets).toHaveLength(16)
      // Chunk i's one GET starts at a_i - 1 (0 for chunk 0).
      const approx = plan(bytes.length, { _tag: "Chunks", chunks: 16 })
      expect(gets.map((get) => get.range!.start)).toEqual(approx.map((range) => Math.max(0, range.start - 1)))
    }))

  it.effect("keeps searching past the lookahead for a line longer than many windows", () =>
    Effect.gen(function*() {
      const bytes = Buffer.concat([Buffer.from("head\n"), Buffer.alloc(700_000, 0x78), Buffer.from("\ntail\n")])
      const { parts, requests } = yield* readAll(bytes, 8, 64 * 1024, 16)
      expect(parts).toEqual(referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks: 8 })))
      expect(parts[0]!.length).toBe(5 + 700_001)
      // Chunk 0 ran out of lookahead and continued with doubling windows.
      expect(requests.filter((request) => request.op === "get").length).toBeGreaterThan(8)
    }))

  it.effect("sends no Range request at all for a 0-byte object", () =>
    Effect.gen(function*() {
      const { parts, requests } = yield* readAll(new Uint8Array(0), 4, 1024, 1024)
      expect(parts.every((part) => part.length === 0)).toBe(true)
      expect(requests.filter((request) => request.op === "get")).toEqual([])
    }))
})

describe("Boundary.alignUp", () => {
  it.effect.prop(
    "equals alignUp over the whole object, for every x in [0, S]",
    [adversarialBytes, FastCheck.constantFrom(1, 3, 64 * 1024)],
    ([bytes, pieceSize]) =>
      Effect.gen(function*() {
        const memory = yield* seeded(bytes, { pieceSize })
        const found = yield* Effect.gen(function*() {
          const boundary = yield* Boundary
          const version = yield* (yield* ObjectStore).head(SOURCE)
          return yield* Effect.forEach(
            Array.from({ length: bytes.length + 1 }, (_, x) => x),
            (x) => boundary.alignUp(SOURCE, version, x, { lookahead: 0 })
          )
        }).pipe(Effect.provide(jobLayer(memory)))
        expect(found).toEqual(Array.from({ length: bytes.length + 1 }, (_, x) => alignUpIn(bytes, x)))
      }),
    { fastCheck: { numRuns: 30 } }
  )
})
