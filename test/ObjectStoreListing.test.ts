/**
 * `list` and `removeAll` of the file and in-memory stores: every object under a prefix (a
 * directory, recursively, for files) in key order; a missing prefix is empty; removeAll removes
 * exactly those objects. The S3 store's are tested against s3rver in `S3ObjectStore.test.ts`.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as FileObjectStore from "../src/FileObjectStore.js"
import * as MemoryObjectStore from "../src/MemoryObjectStore.js"
import { FileUri, format, S3Uri } from "../src/ObjectUri.js"

const text = (s: string) => Stream.make(new TextEncoder().encode(s))

describe("file store listing", () => {
  it.scoped("list walks the directory recursively in path order; removeAll empties it and keeps the directory", () =>
    Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "s3split-list-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const store = yield* FileObjectStore.make
      const file = (name: string) => new FileUri({ path: path.join(root, name) })
      for (const name of ["work/b", "work/a/2", "work/a/1", "workshop"]) yield* store.put(file(name), text(name))
      const listed = yield* store.list(file("work"))
      expect(listed.map((object) => format(object.uri))).toEqual(["work/a/1", "work/a/2", "work/b"].map((n) => path.join(root, n)))
      expect(listed.map((object) => object.size)).toEqual([8, 8, 6])
      expect(yield* store.list(file("absent"))).toEqual([])
      yield* store.removeAll(file("work"))
      expect(yield* store.list(file("work"))).toEqual([])
      expect(yield* Effect.promise(() => fs.readdir(path.join(root, "work")))).toEqual([])
      // A sibling that merely shares the name's start is not under the directory.
      expect(yield* store.head(file("workshop"))).toMatchObject({ size: 8 })
      yield* store.removeAll(file("absent"))
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("memory store listing", () => {
  it.effect("list and removeAll cover exactly the keys under the prefix and are logged", () =>
    Effect.gen(function*() {
      const memory = yield* MemoryObjectStore.make()
      const key = (k: string) => new S3Uri({ bucket: "b", key: k })
      for (const k of ["p/2", "p/1", "pq", "other"]) yield* memory.seed(key(k), new TextEncoder().encode(k))
      const listed = yield* memory.store.list(key("p/"))
      expect(listed.map((object) => format(object.uri))).toEqual(["s3://b/p/1", "s3://b/p/2"])
      expect(listed[0]!.uri).toEqual(key("p/1"))
      yield* memory.store.removeAll(key("p/"))
      expect(yield* memory.keys).toEqual(["s3://b/other", "s3://b/pq"])
      expect((yield* memory.requests).map((request) => request.op)).toEqual(["list", "removeAll"])
    }))

  it.effect("a throttled put is retried by the store as one request; its body is read once", () =>
    Effect.gen(function*() {
      let throttled = 0
      const memory = yield* MemoryObjectStore.make({
        faults: (request) => (request.op === "put" && throttled++ < 2 ? { _tag: "Throttle" } : undefined)
      })
      let pulls = 0
      const target = new S3Uri({ bucket: "b", key: "out" })
      const fiber = yield* Effect.fork(memory.store.put(target, Stream.suspend(() => {
        pulls++
        return text("payload")
      }), { contentType: "text/plain" }))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(pulls).toBe(1)
      expect((yield* memory.requests).filter((request) => request.op === "put")).toHaveLength(3)
      expect((yield* memory.store.head(target)).contentType).toBe("text/plain")
    }))
})
