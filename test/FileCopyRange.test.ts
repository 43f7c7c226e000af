import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Boundary } from "../src/Boundary.js"
import { CopyRangeUnsupportedError, ObjectChangedError } from "../src/Errors.js"
import * as Executor from "../src/Executor.js"
import * as FileObjectStore from "../src/FileObjectStore.js"
import { COPY_BUFFER_SIZE, copyIntoPlace, FileCopyError } from "../src/FileRangeCopy.js"
import * as Layers from "../src/Layers.js"
import * as MemoryObjectStore from "../src/MemoryObjectStore.js"
import { ObjectStore, ObjectVersion } from "../src/ObjectStore.js"
import { FileUri, S3Uri } from "../src/ObjectUri.js"
import { plan } from "../src/Planner.js"
import * as RoutingObjectStore from "../src/RoutingObjectStore.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { split } from "../src/Split.js"
import { snapshot } from "../src/Stats.js"
import { testRetryPolicy } from "./utils/Layers.js"
import { adversarialBytes, chunkCount, gnuSplit, referenceChunks } from "./utils/Reference.js"

/** A fresh directory for one test, removed with its scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "s3split-copyrange-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const fileStore = FileObjectStore.layer.pipe(Layer.provide(NodeFileSystem.layer))

/** A job over `store` (the production wiring), spying on which store calls read and write the parts. */
const spiedJob = (store: Layer.Layer<ObjectStore>, calls: Array<string>) => {
  const spied = Layer.effect(
    ObjectStore,
    Effect.map(ObjectStore, (inner) =>
      ObjectStore.of({
        ...inner,
        get: (uri, version, range) => Stream.suspend(() => (calls.push(`get ${range.start}`), inner.get(uri, version, range))),
        put: (uri, body, options) => Effect.suspend(() => (calls.push(`put ${path.basename(uri._tag === "FileUri" ? uri.path : uri.key)}`), inner.put(uri, body, options))),
        copyRange: (target, source, version, range, options) =>
          Effect.suspend(() => (calls.push(`copyRange ${path.basename(target._tag === "FileUri" ? target.path : target.key)}`), inner.copyRange(target, source, version, range, options)))
      }))
  ).pipe(Layer.provide(store))
  return Layers.jobLayer(Layers.workerLayer(spied, testRetryPolicy()), Executor.localLayer)
}

/** The stream path's bytes for every chunk: `Boundary.readChunk` over the same file. */
const streamedChunks = (source: FileUri, chunks: number) =>
  Effect.gen(function*() {
    const boundary = yield* Boundary
    const version = yield* (yield* ObjectStore).head(source)
    return yield* Effect.forEach(plan(version.size, { _tag: "Chunks", chunks }), (approx) =>
      boundary.readChunk(source, version, approx, { lookahead: 16 }).pipe(
        Stream.runCollect,
        Effect.map((pieces) => Buffer.concat(Chunk.toArray(pieces)))
      ))
  })

/** Splits `bytes` (written to a file in `dir`) into `chunks` parts under `dir/out` on the file store. */
const splitFile = (dir: string, bytes: Uint8Array, chunks: number, lookahead = 16) =>
  Effect.gen(function*() {
    const source = new FileUri({ path: path.join(dir, "object.txt") })
    fs.writeFileSync(source.path, bytes)
    const out = new FileUri({ path: path.join(dir, "out") })
    const calls: Array<string> = []
    const { parts, report, stats, streamed } = yield* Effect.gen(function*() {
      const version = yield* (yield* ObjectStore).head(source)
      const report = yield* split({ source, spec: { _tag: "Chunks", chunks }, out, concurrency: 4, lookahead }, version)
      const parts = report.rows.map((row) => fs.readFileSync(path.join(out.path, `part-${String(row.index).padStart(5, "0")}`)))
      return { parts, report, stats: yield* snapshot, streamed: yield* streamedChunks(source, chunks) }
    }).pipe(Effect.provide(spiedJob(fileStore, calls)))
    return { parts, report, stats, streamed, calls, out }
  })

describe("FileObjectStore.copyRange through split", () => {
  it.live.prop(
    "writes parts byte-equal to the stream path, to the reference and, joined, to the object",
    [adversarialBytes, chunkCount],
    ([bytes, chunks]) =>
      Effect.scoped(Effect.gen(function*() {
        const dir = yield* tempDir
        const { calls, parts, report, stats, streamed } = yield* splitFile(dir, bytes, chunks)
        expect(parts).toEqual(streamed)
        expect(parts).toEqual(referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks })).map((part) => Buffer.from(part)))
        expect(Buffer.concat(parts)).toEqual(Buffer.from(bytes))
        expect(report.rows.map((row) => row.bytes)).toEqual(parts.map((part) => part.length))
        // Every part was copied directly; the only put is the manifest.
        expect(calls.filter((call) => call.startsWith("put"))).toEqual(["put _manifest.json"])
        expect(calls.filter((call) => call.startsWith("copyRange"))).toHaveLength(chunks)
        expect(stats.bytesDone).toBe(bytes.length)
        expect(stats.chunksDone).toBe(chunks)
      })),
    { fastCheck: { numRuns: 25 } }
  )

  it.live.each([
    { shape: "no final newline", text: "alpha\nbeta\ngamma", chunks: 2 },
    { shape: "only newlines", text: "\n".repeat(50), chunks: 7 },
    { shape: "one long line", text: "x".repeat(5000), chunks: 9 },
    { shape: "one long line among short ones", text: `a\n${"y".repeat(3000)}\nb\nc\n`, chunks: 6 },
    { shape: "CRLF and CR CR LF", text: "one\r\ntwo\r\r\nthree\r\n\r\n", chunks: 5 },
    { shape: "an empty file", text: "", chunks: 3 },
    { shape: "more chunks than lines", text: "1\n2\n3\n", chunks: 16 }
  ])("copies $shape exactly as GNU split -n l/N cuts it", ({ chunks, text }) =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const bytes = Buffer.from(text, "latin1")
      const { parts, streamed } = yield* splitFile(dir, bytes, chunks)
      expect(parts).toEqual(gnuSplit(bytes, chunks).map((part) => Buffer.from(part)))
      expect(parts).toEqual(streamed)
    })))

  it.live("searches each interior cut once: N - 1 boundary reads for N chunks", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const source = new FileUri({ path: path.join(dir, "object.txt") })
      const bytes = Buffer.from("a line of forty bytes, give or take....\n".repeat(2000))
      fs.writeFileSync(source.path, bytes)
      const out = new FileUri({ path: path.join(dir, "out") })
      const calls: Array<string> = []
      const report = yield* Effect.flatMap(ObjectStore, (store) => store.head(source)).pipe(
        Effect.flatMap((version) => split({ source, spec: { _tag: "Chunks", chunks: 8 }, out, concurrency: 8, lookahead: 16 }, version)),
        Effect.provide(spiedJob(fileStore, calls))
      )
      expect(report.rows.map((row) => row.bytes).reduce((a, b) => a + b, 0)).toBe(bytes.length)
      // Chunk i's end is chunk i + 1's start: one search (one read of a window) serves both.
      const gets = calls.filter((call) => call.startsWith("get"))
      expect(gets).toHaveLength(7)
      expect(new Set(gets).size).toBe(7)
    })))

  it.live("a file changed before its chunk is copied fails with ObjectChangedError and leaves no part", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const source = new FileUri({ path: path.join(dir, "object.txt") })
      const out = new FileUri({ path: path.join(dir, "out") })
      fs.writeFileSync(source.path, "one\ntwo\nthree\n".repeat(1000))
      const error = yield* Effect.gen(function*() {
        const version = yield* (yield* ObjectStore).head(source)
        fs.appendFileSync(source.path, "four\n")
        return yield* Effect.flip(split({ source, spec: { _tag: "Chunks", chunks: 4 }, out, concurrency: 2, lookahead: 16 }, version))
      }).pipe(Effect.provide(spiedJob(fileStore, [])))
      expect(error).toBeInstanceOf(ObjectChangedError)
      expect(fs.existsSync(out.path) ? fs.readdirSync(out.path) : []).toEqual([])
    })))
})

describe("FileObjectStore.copyRange", () => {
  /** A store over a directory holding `bytes` at `object.txt`. */
  const withSource = (bytes: Uint8Array) =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const source = new FileUri({ path: path.join(dir, "object.txt") })
      fs.writeFileSync(source.path, bytes)
      const store = yield* ObjectStore
      return { dir, source, store, version: yield* store.head(source), target: new FileUri({ path: path.join(dir, "parts", "part") }) }
    })

  const MiB = 1024 * 1024
  const big = Buffer.alloc(6 * MiB, "0123456789abcde\n")

  it.live("copies a range spanning several buffers, reporting every byte written", () =>
    Effect.gen(function*() {
      const { source, store, target, version } = yield* withSource(big)
      let reported = 0
      const range = { start: 12345, end: 5 * MiB + 7 }
      yield* store.copyRange(target, source, version, range, { progress: (bytes) => (reported += bytes) })
      expect(fs.readFileSync(target.path).equals(big.subarray(range.start, range.end))).toBe(true)
      expect(reported).toBe(range.end - range.start)
      expect(fs.readdirSync(path.dirname(target.path))).toEqual(["part"])
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("an empty range writes an empty object, replacing what was there", () =>
    Effect.gen(function*() {
      const { source, store, target, version } = yield* withSource(big)
      fs.mkdirSync(path.dirname(target.path), { recursive: true })
      fs.writeFileSync(target.path, "stale")
      yield* store.copyRange(target, source, version, { start: 100, end: 100 })
      expect(fs.readFileSync(target.path)).toEqual(Buffer.alloc(0))
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("a file rewritten during the copy fails with ObjectChangedError; no target, no temporary file", () =>
    Effect.gen(function*() {
      const { source, store, target, version } = yield* withSource(big)
      let rewritten = false
      const error = yield* Effect.flip(store.copyRange(target, source, version, { start: 0, end: big.length }, {
        progress: () => {
          if (!rewritten) fs.writeFileSync(source.path, "a different file\n")
          rewritten = true
        }
      }))
      expect(rewritten).toBe(true)
      expect(error).toBeInstanceOf(ObjectChangedError)
      expect(fs.readdirSync(path.dirname(target.path))).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("a file touched during the copy (same size, new mtime) fails with ObjectChangedError", () =>
    Effect.gen(function*() {
      const { source, store, target, version } = yield* withSource(big)
      const error = yield* Effect.flip(store.copyRange(target, source, version, { start: 0, end: big.length }, {
        progress: () => fs.utimesSync(source.path, new Date(2001, 1, 1), new Date(2001, 1, 1))
      }))
      expect(error).toBeInstanceOf(ObjectChangedError)
      expect(fs.readdirSync(path.dirname(target.path))).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("a file that changed before the copy fails with ObjectChangedError before writing anything", () =>
    Effect.gen(function*() {
      const { dir, source, store, target, version } = yield* withSource(Buffer.from("a\nb\n"))
      fs.writeFileSync(source.path, "a\nb\nc\n")
      const error = yield* Effect.flip(store.copyRange(target, source, version, { start: 0, end: 4 }))
      expect(error).toBeInstanceOf(ObjectChangedError)
      expect(fs.readdirSync(dir)).toEqual(["object.txt"])
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("interrupted mid-copy, it leaves no target and no temporary file", () =>
    Effect.gen(function*() {
      const { source, store, target, version } = yield* withSource(big)
      const started = yield* Deferred.make<void>()
      let pieces = 0
      const fiber = yield* Effect.fork(store.copyRange(target, source, version, { start: 0, end: big.length }, {
        progress: () => {
          pieces += 1
          Effect.runSync(Deferred.succeed(started, undefined))
        }
      }))
      yield* Deferred.await(started)
      // The interruption lands in microtasks, before the copy's next read returns.
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(pieces).toBeLessThan(big.length / MiB)
      expect(pieces).toBeGreaterThan(0)
      expect(fs.readdirSync(path.dirname(target.path))).toEqual([])
      expect(fs.readFileSync(source.path).equals(big)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("a missing source is ObjectNotFoundError, and no temporary file is left", () =>
    Effect.gen(function*() {
      const { dir, source, store, target, version } = yield* withSource(Buffer.from("a\n"))
      fs.rmSync(source.path)
      const error = yield* Effect.flip(store.copyRange(target, source, version, { start: 0, end: 2 }))
      expect(error._tag).toBe("ObjectNotFoundError")
      expect(fs.readdirSync(dir)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.effect("can copy file to file only", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore
      const file = new FileUri({ path: "/tmp/a" })
      const s3 = new S3Uri({ bucket: "bucket", key: "a" })
      expect(store.canCopyRange(file, file)).toBe(true)
      expect(store.canCopyRange(s3, file)).toBe(false)
      expect(store.canCopyRange(file, s3)).toBe(false)
    }).pipe(Effect.provide(fileStore)))
})

describe("copyIntoPlace", () => {
  it.live("closes both files before an interruption completes, stops at the next buffer and leaves no file", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const MiB = 1024 * 1024
      const from = path.join(dir, "source")
      const to = path.join(dir, "copy")
      fs.writeFileSync(from, Buffer.alloc(8 * MiB, "abc\n"))
      const openFds = () => fs.readdirSync("/proc/self/fd").length
      const before = openFds()
      const started = yield* Deferred.make<void>()
      let reported = 0
      const fiber = yield* Effect.fork(copyIntoPlace(from, to, { start: 0, end: 8 * MiB }, {
        progress: (bytes) => {
          reported += bytes
          Effect.runSync(Deferred.succeed(started, undefined))
        }
      }))
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // Closed already: the interruption waited for the read or write in flight and the closes.
      expect(openFds()).toBe(before)
      // The loop stopped after the call in flight: a few buffers at most, far from the whole range.
      expect(reported).toBeLessThanOrEqual(1 * MiB + 8 * COPY_BUFFER_SIZE)
      expect(fs.readdirSync(dir)).toEqual(["source"])
    })))

  it.live("a source shorter than the range fails with endedAt, and leaves no file", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "short"), "abc")
      const error = yield* Effect.flip(copyIntoPlace(path.join(dir, "short"), path.join(dir, "copy"), { start: 1, end: 10 }))
      expect(error).toBeInstanceOf(FileCopyError)
      expect(error.endedAt).toBe(3)
      expect(fs.readdirSync(dir)).toEqual(["short"])
    })))

  it.live("replaces an existing target by a rename, never writing into it", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "source"), "abc")
      fs.writeFileSync(path.join(dir, "copy"), "keep")
      // A second name of the old target's inode: written in place, it would change too.
      fs.linkSync(path.join(dir, "copy"), path.join(dir, "old"))
      yield* copyIntoPlace(path.join(dir, "source"), path.join(dir, "copy"), { start: 0, end: 3 })
      expect(fs.readFileSync(path.join(dir, "copy"), "latin1")).toBe("abc")
      expect(fs.readFileSync(path.join(dir, "old"), "latin1")).toBe("keep")
      expect(fs.readdirSync(dir).sort()).toEqual(["copy", "old", "source"])
    })))
})

describe("stores that cannot copy a range", () => {
  it.effect("the memory store refuses, without a request", () =>
    Effect.gen(function*() {
      const memory = yield* MemoryObjectStore.make()
      const uri = new FileUri({ path: "/a" })
      yield* memory.seed(uri, Buffer.from("a\n"))
      const version = yield* memory.store.head(uri)
      expect(memory.store.canCopyRange(new FileUri({ path: "/b" }), uri)).toBe(false)
      const error = yield* Effect.flip(memory.store.copyRange(new FileUri({ path: "/b" }), uri, version, { start: 0, end: 2 }))
      expect(error).toBeInstanceOf(CopyRangeUnsupportedError)
      expect((yield* memory.requests).map((request) => request.op)).toEqual(["head"])
    }))

  it.scoped("the S3 store refuses, without a request", () =>
    Effect.gen(function*() {
      // An endpoint nothing listens on: any request would fail as unreachable, not as unsupported.
      const store = yield* S3ObjectStore.make({ endpoint: Option.some("http://127.0.0.1:9"), region: "us-east-1" })
      const a = new S3Uri({ bucket: "bucket", key: "a" })
      const b = new S3Uri({ bucket: "bucket", key: "b" })
      expect(store.canCopyRange(b, a)).toBe(false)
      const version = new ObjectVersion({ size: 2, etag: "\"e\"" })
      const error = yield* Effect.flip(store.copyRange(b, a, version, { start: 0, end: 2 }))
      expect(error).toBeInstanceOf(CopyRangeUnsupportedError)
    }))
})

describe("RoutingObjectStore.copyRange", () => {
  const routing = RoutingObjectStore.layer({ endpoint: Option.some("http://127.0.0.1:9"), region: "us-east-1" }).pipe(
    Layer.provide(NodeFileSystem.layer)
  )

  it.live("routes file to file to the file store", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const source = new FileUri({ path: path.join(dir, "object.txt") })
      const target = new FileUri({ path: path.join(dir, "out", "part") })
      fs.writeFileSync(source.path, "one\ntwo\nthree\n")
      const store = yield* ObjectStore
      expect(store.canCopyRange(target, source)).toBe(true)
      yield* store.copyRange(target, source, yield* store.head(source), { start: 4, end: 8 })
      expect(fs.readFileSync(target.path, "latin1")).toBe("two\n")
    })).pipe(Effect.provide(routing)))

  it.live("refuses a copy between a file and S3, either way, without touching S3", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore
      const file = new FileUri({ path: "/tmp/never-written" })
      const s3 = new S3Uri({ bucket: "bucket", key: "a" })
      const version = new ObjectVersion({ size: 2, etag: "\"e\"" })
      expect(store.canCopyRange(s3, file)).toBe(false)
      expect(store.canCopyRange(file, s3)).toBe(false)
      expect(yield* Effect.flip(store.copyRange(s3, file, version, { start: 0, end: 2 }))).toBeInstanceOf(CopyRangeUnsupportedError)
      expect(yield* Effect.flip(store.copyRange(file, s3, version, { start: 0, end: 2 }))).toBeInstanceOf(CopyRangeUnsupportedError)
      expect(fs.existsSync(file.path)).toBe(false)
    }).pipe(Effect.provide(routing)))
})

describe("a split that cannot copy directly", () => {
  it.live("streams its parts through put when the destination is another store", () =>
    Effect.gen(function*() {
      const memory = yield* MemoryObjectStore.make()
      const source = new FileUri({ path: "/object.txt" })
      const bytes = Buffer.from("one\ntwo\nthree\nfour\n")
      yield* memory.seed(source, bytes)
      const calls: Array<string> = []
      const report = yield* Effect.gen(function*() {
        const version = yield* (yield* ObjectStore).head(source)
        return yield* split({ source, spec: { _tag: "Chunks", chunks: 3 }, out: new FileUri({ path: "/out" }), concurrency: 2, lookahead: 4 }, version)
      }).pipe(Effect.provide(spiedJob(Layer.succeed(ObjectStore, memory.store), calls)))
      expect(calls.some((call) => call.startsWith("copyRange"))).toBe(false)
      expect(calls.filter((call) => call.startsWith("put"))).toHaveLength(4)
      expect(Buffer.concat(yield* Effect.forEach(report.rows, (row) => Effect.map(memory.read(new FileUri({ path: `/out/part-0000${row.index}` })), (b) => Buffer.from(b!))))).toEqual(bytes)
    }))
})
