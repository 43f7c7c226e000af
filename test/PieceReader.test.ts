/**
 * The many-object reader against `cat` of the objects (gunzipped): for random object sets
 * (empty, no final newline, one long line, gzip with one or two members) and random N, the
 * chunks concatenated equal the objects concatenated, and each piece is whole lines of one
 * object. Also: pinning (an object overwritten after the listing), corrupt gzip, request counts,
 * and the file store against the real `cat` and `gzip -dc`.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as Zlib from "node:zlib"
import * as FileObjectStore from "../src/FileObjectStore.js"
import * as Layers from "../src/Layers.js"
import { alignUpIn } from "../src/LineCut.js"
import * as MemoryObjectStore from "../src/MemoryObjectStore.js"
import { planObjects } from "../src/MultiPlan.js"
import type { Piece } from "../src/MultiPlan.js"
import { S3Uri } from "../src/ObjectUri.js"
import { readPiece, readPieces } from "../src/PieceReader.js"
import { parseSpecs, resolve } from "../src/SourceSet.js"
import type { SourceObject } from "../src/SourceSet.js"
import { jobLayer, testRetryPolicy } from "./utils/Layers.js"
import { adversarialBytes } from "./utils/Reference.js"

const collect = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Stream.runCollect(bytes), (pieces) => Buffer.concat(Chunk.toArray(pieces)))

/** One object of a random set: its stored bytes and what `cat` (or `gzip -dc`) of it gives. */
interface TestObject {
  readonly stored: Uint8Array
  readonly content: Uint8Array
  readonly gzip: boolean
}

const plain = (content: Uint8Array): TestObject => ({ stored: content, content, gzip: false })
const gzipped = (members: ReadonlyArray<Uint8Array>): TestObject => ({
  stored: Buffer.concat(members.map((member) => Zlib.gzipSync(member))),
  content: Buffer.concat(members),
  gzip: true
})

const testObject: FastCheck.Arbitrary<TestObject> = FastCheck.oneof(
  adversarialBytes.map(plain),
  FastCheck.constant(plain(new Uint8Array(0))),
  FastCheck.integer({ min: 50, max: 1000 }).map((n) => plain(Buffer.alloc(n, 0x78))),
  FastCheck.array(adversarialBytes, { minLength: 1, maxLength: 2 }).map(gzipped)
)

const key = (i: number, object: TestObject) => new S3Uri({ bucket: "b", key: `set/obj-${String(i).padStart(4, "0")}${object.gzip ? ".gz" : ""}` })

/** A memory store holding the objects under `s3://b/set/`, and their listing. */
const listed = (objects: ReadonlyArray<TestObject>, options?: MemoryObjectStore.MemoryOptions) =>
  Effect.gen(function*() {
    const memory = yield* MemoryObjectStore.make(options)
    for (const [i, object] of objects.entries()) yield* memory.seed(key(i, object), object.stored)
    const sources = yield* resolve(Either.getOrThrow(parseSpecs(["s3://b/set/"]))).pipe(Effect.provide(jobLayer(memory)))
    return { memory, sources }
  })

/** What a piece must hold: whole lines of its object's content, as the plan resolves them. */
const expectedPiece = (objects: ReadonlyArray<TestObject>, piece: Piece) => {
  const object = objects[piece.object]!
  if (piece.compressed) return Buffer.from(object.content)
  return Buffer.from(object.stored.subarray(alignUpIn(object.stored, piece.range.start), alignUpIn(object.stored, piece.range.end)))
}

describe("PieceReader.readPieces", () => {
  it.effect.prop(
    "the chunks concatenated equal cat of the objects (gunzipped), and every piece is whole lines of one object",
    [
      FastCheck.array(testObject, { minLength: 1, maxLength: 8 }),
      FastCheck.integer({ min: 1, max: 30 }),
      FastCheck.constantFrom(5, 64 * 1024),
      FastCheck.constantFrom(0, 2, 1024),
      FastCheck.constantFrom(1, 4)
    ],
    ([objects, chunks, pieceSize, lookahead, prefetch]) =>
      Effect.gen(function*() {
        const { memory, sources } = yield* listed(objects, { pieceSize })
        const { pieces } = planObjects(sources, { _tag: "Chunks", chunks })
        const options = { lookahead, prefetch, prefetchBytes: 16 }
        yield* Effect.gen(function*() {
          const parts = yield* Effect.forEach(pieces, (chunk) => collect(readPieces(sources, chunk, options)))
          expect(Buffer.concat(parts)).toEqual(Buffer.concat(objects.map((object) => object.content)))
          for (const piece of pieces.flat()) {
            expect(yield* collect(readPiece(sources[piece.object]!, piece, options))).toEqual(expectedPiece(objects, piece))
          }
        }).pipe(Effect.provide(jobLayer(memory)))
      }),
    { fastCheck: { numRuns: 80 } }
  )

  it.effect("one GET per piece when every line fits in the lookahead, and a 0-byte object is never read", () =>
    Effect.gen(function*() {
      const line = Buffer.from("0123456789abcdef0123456789abcdef\n")
      const objects = [
        plain(Buffer.concat(Array.from({ length: 300 }, () => line))),
        plain(new Uint8Array(0)),
        gzipped([Buffer.from("a\nb\n"), Buffer.from("c\n")]),
        ...Array.from({ length: 20 }, (_, i) => plain(Buffer.from(`small ${i}\n`)))
      ]
      const { memory, sources } = yield* listed(objects)
      const { pieces } = planObjects(sources, { _tag: "Chunks", chunks: 4 })
      const parts = yield* Effect.forEach(pieces, (chunk) => collect(readPieces(sources, chunk, { lookahead: 1024 }))).pipe(
        Effect.provide(jobLayer(memory))
      )
      expect(Buffer.concat(parts)).toEqual(Buffer.concat(objects.map((object) => object.content)))
      const requests = yield* memory.requests
      expect(requests.filter((request) => request.op === "head")).toEqual([])
      expect(requests.filter((request) => request.op === "get")).toHaveLength(pieces.flat().length)
      expect(requests.some((request) => request.uri.endsWith("obj-0001"))).toBe(false)
    }))

  it.effect("an object overwritten after the listing fails with ObjectChangedError, gzip or not", () =>
    Effect.gen(function*() {
      for (const object of [plain(Buffer.from("one\ntwo\n")), gzipped([Buffer.from("one\n")])]) {
        const { memory, sources } = yield* listed([plain(Buffer.from("first\n")), object])
        yield* memory.seed(key(1, object), Buffer.from("rewritten\n"))
        const { pieces } = planObjects(sources, { _tag: "Chunks", chunks: 1 })
        const error = yield* Effect.flip(collect(readPieces(sources, pieces[0]!, { lookahead: 16 })).pipe(Effect.provide(jobLayer(memory))))
        expect(error._tag).toBe("ObjectChangedError")
      }
    }))

  it.effect("a corrupt or truncated gzip object fails with one line naming it, without retries", () =>
    Effect.gen(function*() {
      const whole = Zlib.gzipSync(Buffer.from("some text\n".repeat(100)))
      for (const stored of [Buffer.from("not gzip at all\n"), whole.subarray(0, whole.length - 10)]) {
        const { memory, sources } = yield* listed([{ stored, content: stored, gzip: true }])
        const { pieces } = planObjects(sources, { _tag: "Chunks", chunks: 1 })
        const error = yield* Effect.flip(collect(readPieces(sources, pieces[0]!, { lookahead: 16 })).pipe(Effect.provide(jobLayer(memory))))
        expect(error._tag).toBe("DecompressError")
        expect(error.message).toMatch(/^cannot decompress s3:\/\/b\/set\/obj-0000\.gz: [^\n]+$/)
        expect((yield* memory.requests).filter((request) => request.op === "get")).toHaveLength(1)
      }
    }))
})

describe("PieceReader over local files", () => {
  it.scoped("a directory of plain and gzip files read in 1 to 9 chunks equals cat and gzip -dc of its files", () =>
    Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "s3split-pieces-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const lines = (prefix: string, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `${prefix} line ${i}\n`).join(""))
      const files: Record<string, Uint8Array> = {
        "a.log": lines("a", 500),
        "b.log.gz": Buffer.concat([Zlib.gzipSync(lines("b1", 200)), Zlib.gzipSync(lines("b2", 10))]),
        "c.log": Buffer.from("no final newline"),
        "d.log": new Uint8Array(0),
        "e/f.log": Buffer.concat([lines("f", 50), Buffer.alloc(5000, 0x79)])
      }
      for (const [name, bytes] of Object.entries(files)) {
        yield* Effect.promise(async () => {
          await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true })
          await fs.writeFile(path.join(root, name), bytes)
        })
      }
      const oracle = execFileSync("sh", ["-c", "for f in \"$@\"; do case $f in *.gz) gzip -dc \"$f\";; *) cat \"$f\";; esac; done", "sh",
        ...Object.keys(files).sort().map((name) => path.join(root, name))])
      const layer = Layers.workerLayer(FileObjectStore.layer, testRetryPolicy()).pipe(Layer.provide(NodeFileSystem.layer))
      yield* Effect.gen(function*() {
        const sources: ReadonlyArray<SourceObject> = yield* resolve(Either.getOrThrow(parseSpecs([`${root}/`])))
        for (let chunks = 1; chunks <= 9; chunks++) {
          const { pieces } = planObjects(sources, { _tag: "Chunks", chunks })
          const parts = yield* Effect.forEach(pieces, (chunk) => collect(readPieces(sources, chunk, { lookahead: 64 })))
          expect(Buffer.concat(parts)).toEqual(oracle)
        }
      }).pipe(Effect.provide(layer))
    }))
})
