/**
 * Source specs: parsing (pure) and resolution over the in-memory store (S3 URIs, request
 * counting) and the file store (directories and local globs in a temp dir).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as FileObjectStore from "../src/FileObjectStore.js"
import * as MemoryObjectStore from "../src/MemoryObjectStore.js"
import { ObjectStore } from "../src/ObjectStore.js"
import { FileUri, format, S3Uri } from "../src/ObjectUri.js"
import { globPattern, parseSpec, parseSpecs, resolve } from "../src/SourceSet.js"
import type { SourceSpec } from "../src/SourceSet.js"
import { Stats } from "../src/Stats.js"

const spec = (text: string): SourceSpec => Either.getOrThrow(parseSpec(text))
const specs = (...texts: Array<string>) => Either.getOrThrow(parseSpecs(texts))
const bytes = (text: string) => new TextEncoder().encode(text)

describe("SourceSet.parseSpec", () => {
  it("tells a prefix, a glob and a single object apart by the key", () => {
    expect(spec("s3://b/logs/")).toMatchObject({ _tag: "Prefix", prefix: new S3Uri({ bucket: "b", key: "logs/" }) })
    expect(spec("s3://b/")).toMatchObject({ _tag: "Prefix", prefix: new S3Uri({ bucket: "b", key: "" }) })
    expect(spec("s3://b/logs/a.log")).toMatchObject({ _tag: "Single", uri: new S3Uri({ bucket: "b", key: "logs/a.log" }) })
    expect(spec("s3://b/logs/2026-11-*/*.gz")).toMatchObject({ _tag: "Glob", listFrom: new S3Uri({ bucket: "b", key: "logs/2026-11-" }) })
    expect(spec("/data/dir/")).toMatchObject({ _tag: "Prefix", prefix: new FileUri({ path: "/data/dir" }) })
    expect(spec("/data/file")).toMatchObject({ _tag: "Single", uri: new FileUri({ path: "/data/file" }) })
    expect(spec("/data/lo*/x?.log")).toMatchObject({ _tag: "Glob", listFrom: new FileUri({ path: "/data" }) })
    expect(spec("/data/logs/a*")).toMatchObject({ _tag: "Glob", listFrom: new FileUri({ path: "/data/logs" }) })
    expect(spec("file:///data/logs/*.gz")).toMatchObject({ _tag: "Glob", listFrom: new FileUri({ path: "/data/logs" }) })
  })

  it("rejects an unknown scheme, an empty bucket and a wildcard in a bucket, in one line", () => {
    for (const text of ["gs://b/k", "gs://b/*.log", "s3://b", "s3:///k", "s3://b*/k", ""]) {
      const parsed = parseSpec(text)
      expect(Either.isLeft(parsed)).toBe(true)
      if (Either.isLeft(parsed)) expect(parsed.left.message).not.toContain("\n")
    }
  })

  it("a glob's * and ? never cross a /, and every other character is literal", () => {
    const pattern = globPattern("logs/2026-11-*/*.log.gz")
    expect(pattern.test("logs/2026-11-01/a.log.gz")).toBe(true)
    expect(pattern.test("logs/2026-11-01/deep/a.log.gz")).toBe(false)
    expect(pattern.test("logs/2026-11-01/a.logxgz")).toBe(false)
    expect(pattern.test("logs/2026-11-01/a.log.gz.tmp")).toBe(false)
    expect(globPattern("a?c").test("abc")).toBe(true)
    expect(globPattern("a?c").test("a/c")).toBe(false)
    expect(globPattern("(a)+[b]").test("(a)+[b]")).toBe(true)
  })
})

const bucket = (key: string) => new S3Uri({ bucket: "b", key })

const memoryWith = (objects: Record<string, string>) =>
  Effect.gen(function*() {
    const memory = yield* MemoryObjectStore.make()
    for (const [key, text] of Object.entries(objects)) yield* memory.seed(bucket(key), bytes(text))
    return memory
  })

const resolving = (memory: MemoryObjectStore.MemoryObjectStore, texts: Array<string>, decompress?: "auto" | "none") =>
  resolve(specs(...texts), decompress === undefined ? {} : { decompress }).pipe(
    Effect.provide(Layer.merge(Layer.succeed(ObjectStore, memory.store), Stats.layer))
  )

describe("SourceSet.resolve over S3 URIs", () => {
  it.effect("a prefix is every object under it in key order, from one LIST and no HEAD", () =>
    Effect.gen(function*() {
      const memory = yield* memoryWith({ "p/b.log": "bb\n", "p/a.log.gz": "x", "p/sub/c": "", "p/": "", pq: "no", other: "no" })
      const objects = yield* resolving(memory, ["s3://b/p/"])
      expect(objects.map((object) => format(object.uri))).toEqual(["s3://b/p/a.log.gz", "s3://b/p/b.log", "s3://b/p/sub/c"])
      expect(objects.map((object) => [object.size, object.compressed])).toEqual([[1, true], [3, false], [0, false]])
      expect((yield* memory.requests).map((request) => request.op)).toEqual(["list"])
      const none = yield* resolving(memory, ["s3://b/p/"], "none")
      expect(none.map((object) => object.compressed)).toEqual([false, false, false])
    }))

  it.effect("a glob lists from its literal head once and keeps the keys it matches", () =>
    Effect.gen(function*() {
      const memory = yield* memoryWith({
        "logs/2026-11-01/a.log.gz": "1",
        "logs/2026-11-01/deep/b.log.gz": "2",
        "logs/2026-11-02/c.log.gz": "3",
        "logs/2026-11-02/c.txt": "4",
        "logs/2026-12-01/d.log.gz": "5"
      })
      const objects = yield* resolving(memory, ["s3://b/logs/2026-11-*/*.log.gz"])
      expect(objects.map((object) => object.uri)).toEqual([bucket("logs/2026-11-01/a.log.gz"), bucket("logs/2026-11-02/c.log.gz")])
      expect(yield* memory.requests).toEqual([{ op: "list", uri: "s3://b/logs/2026-11-" }])
    }))

  it.effect("several specs are taken in the order given; a single object is one HEAD", () =>
    Effect.gen(function*() {
      const memory = yield* memoryWith({ "z/1": "1\n", "a/1": "a\n", "a/2": "b\n", one: "one" })
      const objects = yield* resolving(memory, ["s3://b/z/", "s3://b/one", "s3://b/a/"])
      expect(objects.map((object) => format(object.uri))).toEqual(["z/1", "one", "a/1", "a/2"].map((k) => `s3://b/${k}`))
      expect(objects[1]).toMatchObject({ size: 3, compressed: false })
      expect((yield* memory.requests).map((request) => request.op).sort()).toEqual(["head", "list", "list"])
    }))

  it.effect("an empty prefix or a glob matching nothing fails with one line naming it", () =>
    Effect.gen(function*() {
      const memory = yield* memoryWith({ "p/a": "a", "p/": "" })
      const empty = yield* Effect.flip(resolving(memory, ["s3://b/p/a", "s3://b/q/"]))
      expect(empty._tag).toBe("NoSourceObjectsError")
      expect(empty.message).toBe("no objects under s3://b/q/")
      const markersOnly = yield* Effect.flip(resolving(memory, ["s3://b/p/x/"]))
      expect(markersOnly.message).toBe("no objects under s3://b/p/x/")
      const glob = yield* Effect.flip(resolving(memory, ["s3://b/p/*.gz"]))
      expect(glob.message).toBe("no object matches s3://b/p/*.gz")
      const missing = yield* Effect.flip(resolving(memory, ["s3://b/absent"]))
      expect(missing._tag).toBe("ObjectNotFoundError")
    }))
})

describe("SourceSet.resolve over local files", () => {
  it.scoped("a directory (with a trailing /), a local glob and a file; a directory without its / is refused", () =>
    Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "s3split-sources-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const write = (name: string, text: string) =>
        Effect.promise(async () => {
          await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true })
          await fs.writeFile(path.join(root, name), text)
        })
      yield* write("logs/b.log", "b\n")
      yield* write("logs/a.log.gz", "a")
      yield* write("logs/sub/c.log", "c\n")
      yield* Effect.promise(() => fs.mkdir(path.join(root, "empty")))
      const run = (...texts: Array<string>) =>
        resolve(specs(...texts)).pipe(Effect.provide(Layer.merge(FileObjectStore.layer, Stats.layer)), Effect.provide(NodeFileSystem.layer))
      const names = (objects: ReadonlyArray<{ readonly uri: FileUri | S3Uri }>) =>
        objects.map((object) => path.relative(root, format(object.uri)))
      expect(names(yield* run(`${root}/logs/`))).toEqual(["logs/a.log.gz", "logs/b.log", "logs/sub/c.log"])
      expect((yield* Effect.flip(run(`${root}/logs`))).message).toBe(
        `cannot read ${root}/logs: it is a directory (end it with / to read every file under it)`
      )
      expect(names(yield* run(`${root}/logs/*.log`, `${root}/logs/b.log`))).toEqual(["logs/b.log", "logs/b.log"])
      expect(names(yield* run(`${root}/l?gs/*/*.log`))).toEqual(["logs/sub/c.log"])
      expect((yield* run(`${root}/logs/*.gz`))[0]).toMatchObject({ size: 1, compressed: true })
      expect((yield* Effect.flip(run(`${root}/empty/`))).message).toBe(`no objects under ${root}/empty/`)
      expect((yield* Effect.flip(run(`${root}/logs/*.zst`))).message).toBe(`no object matches ${root}/logs/*.zst`)
      expect((yield* Effect.flip(run(`${root}/absent.log`)))._tag).toBe("ObjectNotFoundError")
    }))
})
