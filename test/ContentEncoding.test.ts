/**
 * Objects stored gzip with `Content-Encoding: gzip` and no `.gz` key, on the memory store:
 * read whole, the GET's answer tells (`PieceReader`, `decompress: "auto"`), also across a
 * resumed body; one a cut point falls into is found by a HEAD before planning
 * (`SourceSet.detectCutEncodings`, at most N - 1 HEADs, none when no object straddles a cut)
 * and read whole. The chunks concatenated equal `cat` of the objects gunzipped; under
 * `decompress: "none"` the stored bytes, with no HEAD.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as Zlib from "node:zlib"
import * as MemoryObjectStore from "../src/MemoryObjectStore.js"
import { offsetsOf, planObjects, straddling } from "../src/MultiPlan.js"
import type { PlanSpec } from "../src/Planner.js"
import { plan } from "../src/Planner.js"
import { S3Uri } from "../src/ObjectUri.js"
import { readPieces } from "../src/PieceReader.js"
import { detectCutEncodings, parseSpecs, resolve } from "../src/SourceSet.js"
import type { Decompress } from "../src/SourceSet.js"
import { Stats } from "../src/Stats.js"
import { jobLayer } from "./utils/Layers.js"

/** `n` lines that gzip hardly shrinks (a fixed pseudo-random sequence). */
const noisy = (tag: string, n: number) => {
  let x = 12345
  const word = () => (x = (x * 1103515245 + 12345) % 2147483648).toString(36)
  return Buffer.from(Array.from({ length: n }, (_, k) => `${tag} ${k} ${word()}${word()}${word()}\n`).join(""))
}

const lines = (tag: string, n: number) => Buffer.from(Array.from({ length: n }, (_, k) => `${tag} line ${k} ${"z".repeat(k % 17)}\n`).join(""))

/** One object: its name, stored bytes, what `cat` (gunzipped) gives, and its Content-Encoding. */
interface EncodedObject {
  readonly name: string
  readonly stored: Uint8Array
  readonly content: Uint8Array
  readonly encoding?: string
}

const plainObject = (name: string, content: Uint8Array): EncodedObject => ({ name, stored: content, content })
/** Stored as two gzip members, `Content-Encoding: gzip`, under a key without `.gz`. */
const encodedObject = (name: string, content: Uint8Array, encoding = "gzip"): EncodedObject => ({
  name,
  stored: Buffer.concat([Zlib.gzipSync(content.subarray(0, 10)), Zlib.gzipSync(content.subarray(10))]),
  content,
  encoding
})

/** The objects under `s3://b/enc/` on a fresh memory store. */
const stored = (objects: ReadonlyArray<EncodedObject>, options?: MemoryObjectStore.MemoryOptions) =>
  Effect.gen(function*() {
    const memory = yield* MemoryObjectStore.make(options)
    for (const object of objects) {
      yield* memory.seed(
        new S3Uri({ bucket: "b", key: `enc/${object.name}` }),
        object.stored,
        object.encoding === undefined ? {} : { contentEncoding: object.encoding }
      )
    }
    return memory
  })

/**
 * As the command line does: list, HEAD the objects a cut falls into (under `auto`), plan, read
 * every chunk with the task's `decompress`. The chunks concatenated, the requests by kind, the
 * objects as planned, and the whole objects gunzipped by their GET's answer.
 */
const readAll = (memory: MemoryObjectStore.MemoryObjectStore, spec: PlanSpec, decompress: Decompress) =>
  Effect.gen(function*() {
    const listed = yield* resolve(Either.getOrThrow(parseSpecs(["s3://b/enc/"])), { decompress })
    const listRequests = (yield* memory.requests).length
    const objects = decompress === "auto" ? yield* detectCutEncodings(listed, spec) : listed
    const heads = (yield* memory.requests).length - listRequests
    const { pieces } = planObjects(objects, spec)
    const parts = yield* Effect.forEach(pieces, (chunk) =>
      readPieces(objects, chunk, { lookahead: 64, decompress }).pipe(
        Stream.runCollect,
        Effect.map((bytes) => Buffer.concat(Chunk.toArray(bytes)))
      ))
    const requests = yield* memory.requests
    const stats = yield* Stats
    return {
      bytes: Buffer.concat(parts),
      heads,
      headsInAll: requests.filter((r) => r.op === "head").length,
      gets: requests.filter((r) => r.op === "get").length,
      objects,
      pieces: pieces.flat(),
      gunzipped: yield* stats.gunzipped
    }
  }).pipe(Effect.provide(jobLayer(memory)))

const catOf = (objects: ReadonlyArray<EncodedObject>) => Buffer.concat(objects.map((object) => object.content))
const storedOf = (objects: ReadonlyArray<EncodedObject>) => Buffer.concat(objects.map((object) => object.stored))

describe("Content-Encoding: gzip without a .gz key", () => {
  const whole = [
    plainObject("a.log", lines("a", 5)),
    encodedObject("b.log", lines("b", 40)),
    plainObject("c.log", lines("c", 3)),
    encodedObject("d.log", lines("d", 7), "X-GZIP")
  ]

  it.effect("read whole: the GET's answer tells, the bytes are cat gunzipped, no HEAD", () =>
    Effect.gen(function*() {
      const memory = yield* stored(whole)
      const result = yield* readAll(memory, { _tag: "Chunks", chunks: 1 }, "auto")
      expect(result.bytes.equals(catOf(whole))).toBe(true)
      expect(result.headsInAll).toBe(0)
      expect(result.gets).toBe(4)
      expect(result.gunzipped).toBe(2)
      // The plan knew nothing: the objects stay as listed.
      expect(result.objects.map((object) => object.compressed)).toEqual([false, false, false, false])
    }))

  it.effect("decompress none: the stored bytes, no HEAD, nothing gunzipped", () =>
    Effect.gen(function*() {
      const memory = yield* stored(whole)
      for (const chunks of [1, 3, 7]) {
        const result = yield* readAll(memory, { _tag: "Chunks", chunks }, "none")
        expect(result.bytes.equals(storedOf(whole))).toBe(true)
        expect(result.gunzipped).toBe(0)
      }
      expect((yield* memory.requests).filter((r) => r.op === "head")).toHaveLength(0)
    }))

  it.live("a body cut mid-object is resumed with a range of the stored bytes and still gunzipped", () =>
    Effect.gen(function*() {
      // Every GET of b.log is cut after 100 bytes: its stored bytes come in several requests.
      const memory = yield* stored(whole, {
        faults: (request) => request.op === "get" && request.uri.endsWith("b.log") ? { _tag: "CutBody", afterBytes: 100 } : undefined
      })
      const result = yield* readAll(memory, { _tag: "Chunks", chunks: 1 }, "auto")
      expect(result.bytes.equals(catOf(whole))).toBe(true)
      const bGets = (yield* memory.requests).filter((r) => r.op === "get" && r.uri.endsWith("b.log"))
      expect(bGets.length).toBe(Math.ceil(whole[1]!.stored.length / 100))
      expect(bGets.map((r) => r.range!.start)).toEqual(bGets.map((_, i) => i * 100))
    }))

  it.effect("an object a cut falls into is HEADed and read whole; only those are HEADed", () =>
    Effect.gen(function*() {
      const objects = [
        plainObject("a.log", lines("a", 30)),
        encodedObject("b.log", noisy("b", 400)),
        plainObject("c.log", noisy("c", 300)),
        encodedObject("d.log", lines("d", 5))
      ]
      const spec: PlanSpec = { _tag: "Chunks", chunks: 4 }
      const sizes = objects.map((object) => ({ size: object.stored.length, compressed: false }))
      // The premise: b.log and c.log hold a cut point each (d.log is whole, read by its GET).
      expect(straddling(sizes, spec)).toEqual([1, 2])
      const memory = yield* stored(objects)
      const result = yield* readAll(memory, spec, "auto")
      expect(result.bytes.equals(catOf(objects))).toBe(true)
      expect(result.heads).toBe(2)
      expect(result.headsInAll).toBe(2)
      expect(result.objects.map((object) => object.compressed)).toEqual([false, true, false, false])
      expect(result.gunzipped).toBe(1)
      // b.log is one piece, whole; c.log is still cut.
      expect(result.pieces.filter((piece) => piece.object === 1)).toHaveLength(1)
      expect(result.pieces.filter((piece) => piece.object === 2).length).toBeGreaterThan(1)
    }))

  it.effect("no HEAD when no object straddles a cut, nor for a .gz key that does", () =>
    Effect.gen(function*() {
      // Four objects of equal size, N = 4: every cut point is an object's first byte.
      const even = [0, 1, 2, 3].map((i) => plainObject(`p-${i}.log`, Buffer.alloc(100, 0x0a)))
      expect(straddling(even.map((object) => ({ size: object.stored.length, compressed: false })), { _tag: "Chunks", chunks: 4 })).toEqual([])
      const memory = yield* stored(even)
      const result = yield* readAll(memory, { _tag: "Chunks", chunks: 4 }, "auto")
      expect(result.headsInAll).toBe(0)
      // Every cut point falls into the .gz object, which the plan already reads whole.
      const gz: EncodedObject = { name: "q.log.gz", stored: Zlib.gzipSync(lines("q", 300)), content: lines("q", 300) }
      const withGz = [plainObject("a.log", Buffer.from("a\n")), gz, plainObject("z.log", Buffer.from("z\n"))]
      const spec: PlanSpec = { _tag: "Chunks", chunks: 5 }
      const sizes = withGz.map((object) => ({ size: object.stored.length, compressed: false }))
      expect(straddling(sizes, spec)).toEqual([1])
      expect(straddling(sizes.map((size, j) => ({ ...size, compressed: j === 1 })), spec)).toEqual([])
      const memoryGz = yield* stored(withGz)
      const resultGz = yield* readAll(memoryGz, spec, "auto")
      expect(resultGz.bytes.equals(catOf(withGz))).toBe(true)
      expect(resultGz.headsInAll).toBe(0)
    }))

  it.live("an object rewritten between the listing and its HEAD is ObjectChangedError", () =>
    Effect.gen(function*() {
      // The cut point of N = 2 falls into a.log.
      const objects = [plainObject("a.log", lines("a", 90)), plainObject("b.log", lines("b", 10))]
      const memory = yield* stored(objects, {
        faults: (request) => request.op === "head" ? { _tag: "Overwrite", bytes: Buffer.from("new\n") } : undefined
      })
      const error = yield* Effect.flip(readAll(memory, { _tag: "Chunks", chunks: 2 }, "auto"))
      expect(error._tag).toBe("ObjectChangedError")
    }))
})

describe("MultiPlan.straddling", () => {
  const sets = FastCheck.array(
    FastCheck.record({ size: FastCheck.integer({ min: 0, max: 300 }), compressed: FastCheck.boolean() }),
    { maxLength: 12 }
  )
  const specs: FastCheck.Arbitrary<PlanSpec> = FastCheck.integer({ min: 1, max: 40 }).map((chunks) => ({ _tag: "Chunks", chunks }))

  it.prop("exactly the cuttable objects a cut point falls strictly inside, at most N - 1, the same once any are marked", [
    sets,
    specs,
    FastCheck.array(FastCheck.boolean(), { minLength: 12, maxLength: 12 })
  ], ([objects, spec, marks]) => {
    const offsets = offsetsOf(objects)
    const cuts = plan(offsets[objects.length]!, spec).slice(1).map((range) => range.start)
    const expected = objects.flatMap((object, j) =>
      !object.compressed && cuts.some((x) => offsets[j]! < x && x < offsets[j + 1]!) ? [j] : []
    )
    const found = straddling(objects, spec)
    expect(found).toEqual(expected)
    expect(found.length).toBeLessThanOrEqual(Math.max(0, cuts.length))
    // Marking some of them compressed (as a HEAD may) leaves the others straddling.
    const marked = objects.map((object, j) => found.includes(j) && marks[j] ? { ...object, compressed: true } : object)
    expect(straddling(marked, spec)).toEqual(found.filter((j) => !marks[j]))
  })
})
