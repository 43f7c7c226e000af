/**
 * `FileObjectStore.get`: a small range is one positional read, a large one a stream; both give
 * exactly the range's bytes, pinned to the version, with the store's errors.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileObjectStore from "../src/FileObjectStore.js"
import { ObjectStore, ObjectVersion } from "../src/ObjectStore.js"
import { FileUri } from "../src/ObjectUri.js"

const fileStore = FileObjectStore.layer.pipe(Layer.provide(NodeFileSystem.layer))

/** A fresh directory for one test, removed with its scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "s3split-filestore-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) => Effect.map(Stream.runCollect(stream), (pieces) => Buffer.concat(Chunk.toArray(pieces)))

describe("FileObjectStore.get", () => {
  it.live("gives exactly the bytes of any range, small (one read) or larger than SMALL_READ (streamed)", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore
      const dir = yield* tempDir
      const bytes = Buffer.alloc(FileObjectStore.SMALL_READ * 2 + 12345)
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff
      const uri = new FileUri({ path: path.join(dir, "object") })
      fs.writeFileSync(uri.path, bytes)
      const version = yield* store.head(uri)
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            FastCheck.integer({ min: 0, max: bytes.length - 1 }),
            FastCheck.oneof(FastCheck.integer({ min: 1, max: 70_000 }), FastCheck.integer({ min: 1, max: bytes.length })),
            (start, length) =>
              Effect.runPromise(Effect.gen(function*() {
                const end = Math.min(bytes.length, start + length)
                const got = yield* collect(store.get(uri, version, { start, end }))
                expect(got.equals(bytes.subarray(start, end))).toBe(true)
              }))
          ),
          { numRuns: 60 }
        )
      )
    }).pipe(Effect.scoped, Effect.provide(fileStore)), 60_000)

  it.live("a small read of a file that changed fails with ObjectChangedError, of a missing file with ObjectNotFoundError", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore
      const dir = yield* tempDir
      const uri = new FileUri({ path: path.join(dir, "object") })
      fs.writeFileSync(uri.path, "a\nb\n")
      const version = yield* store.head(uri)
      fs.appendFileSync(uri.path, "c\n")
      const changed = yield* Effect.flip(collect(store.get(uri, version, { start: 0, end: 4 })))
      expect(changed._tag).toBe("ObjectChangedError")
      fs.rmSync(uri.path)
      const missing = yield* Effect.flip(collect(store.get(uri, new ObjectVersion({ size: 4, etag: "x" }), { start: 0, end: 4 })))
      expect(missing._tag).toBe("ObjectNotFoundError")
    }).pipe(Effect.scoped, Effect.provide(fileStore)))

  it.live("a file shorter than its range ends the bytes early (the caller checks the length)", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore
      const dir = yield* tempDir
      const uri = new FileUri({ path: path.join(dir, "object") })
      fs.writeFileSync(uri.path, "abcdef")
      const version = yield* store.head(uri)
      expect((yield* collect(store.get(uri, version, { start: 2, end: 100 }))).toString()).toBe("cdef")
    }).pipe(Effect.scoped, Effect.provide(fileStore)))
})
