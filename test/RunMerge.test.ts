/**
 * Custom merges through `run`: outputs read in any order, as files handed to a command
 * (`sort -m`), from a local work directory and from an S3 work prefix; a merge's own failure
 * fails the run and commits nothing; a merged `--out` object is the merge's stream.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ChunkOutputs, Merge } from "../src/ChunkOutputs.js"
import type { WorkerError } from "../src/Errors.js"
import { pipeThrough } from "../src/Exec.js"
import { ObjectStore } from "../src/ObjectStore.js"
import * as ObjectUri from "../src/ObjectUri.js"
import { run } from "../src/Run.js"
import { jobLayer, seeded, SOURCE } from "./utils/Layers.js"
import { expectSameBytes, fibers, runLocal, sequentialOutputs, workRoot } from "./utils/LocalRun.js"

const work = workRoot("runmerge")
afterAll(work.remove)

const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `${(i * 7919) % 4000},row ${i % 13}`).join("\n") + "\n")
const indices = (outputs: ChunkOutputs<unknown>) => Array.from({ length: outputs.count }, (_, i) => i)

/** Every output, last chunk first. */
const reversed = <E>(outputs: ChunkOutputs<E>) => Stream.flatMap(Stream.fromIterable(indices(outputs).reverse()), outputs.stream)

/** `sort -m` over every output's file, in the C locale; `seen` records the files handed out. */
const sortMerge = (seen: Array<string>): Merge<WorkerError> => (outputs) =>
  Stream.unwrapScoped(Effect.map(Effect.forEach(indices(outputs), outputs.file), (files) => {
    seen.push(...files)
    return pipeThrough(`sort -m ${files.map((file) => `'${file}'`).join(" ")}`, 0, Stream.empty, { env: { LC_ALL: "C" } })
  }))

class ShapeError extends Data.TaggedError("ShapeError")<{ readonly index: number }> {}

describe("custom merges from a local work directory", () => {
  it.live("a merge may read the outputs in any order", () =>
    Effect.gen(function*() {
      const { bytes, results } = yield* runLocal(work.fresh(), text, 5, "tr a-z A-Z", { merge: reversed })
      expectSameBytes(bytes, Buffer.concat(sequentialOutputs(text, 5, "tr a-z A-Z").reverse()))
      expect(results.every(Option.isSome)).toBe(true)
    }).pipe(Effect.provide(fibers)), 60_000)

  it.live("sort on each chunk, `sort -m` over the outputs' files: the sequential sort, with the work files handed out as they are", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const seen: Array<string> = []
      const { bytes } = yield* runLocal(dir, text, 6, "LC_ALL=C sort", { merge: sortMerge(seen) })
      expectSameBytes(bytes, execFileSync("sort", { input: text, env: { ...process.env, LC_ALL: "C" } }))
      expect(seen.map((file) => path.dirname(file))).toEqual(Array.from({ length: 6 }, () => path.join(dir, "work")))
      expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
    }).pipe(Effect.provide(fibers)), 60_000)

  it.live("the merge knows N, and chunks it never reads are reported skipped", () =>
    Effect.gen(function*() {
      const { bytes, results } = yield* runLocal(work.fresh(), text, 5, "cat; exec sleep 1000", {
        merge: (outputs, context) => Stream.succeed(Buffer.from(`${context.chunks} ${outputs.count}\n`))
      })
      expect(bytes.toString("utf8")).toBe("5 5\n")
      expect(results.every(Option.isNone)).toBe(true)
    }).pipe(Effect.provide(fibers)), 60_000)

  it.live("a merge that fails fails the run with its own error, and the work directory is emptied", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const failing = <E>(outputs: ChunkOutputs<E>) => Stream.concat(outputs.stream(0), Stream.fail(new ShapeError({ index: 1 })))
      const error = yield* Effect.flip(runLocal(dir, text, 3, "cat", { merge: failing }))
      expect(error).toEqual(new ShapeError({ index: 1 }))
      expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
    }).pipe(Effect.provide(fibers)), 60_000)

  it.live("--out to a file puts the merged stream, and commits nothing when the merge fails", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const source = new ObjectUri.FileUri({ path: path.join(dir, "source") })
      fs.writeFileSync(source.path, text)
      const version = yield* (yield* ObjectStore).head(source)
      const options = (workName: string) => ({
        source,
        spec: { _tag: "Chunks", chunks: 4 } as const,
        command: "tr a-z A-Z",
        concurrency: 4,
        lookahead: 16,
        workDir: new ObjectUri.FileUri({ path: path.join(dir, workName) })
      })
      const target = new ObjectUri.FileUri({ path: path.join(dir, "merged") })
      yield* run(options("work-1"), version, { _tag: "Object", uri: target }, reversed)
      expectSameBytes(fs.readFileSync(target.path), Buffer.concat(sequentialOutputs(text, 4, "tr a-z A-Z").reverse()))

      const failedTarget = new ObjectUri.FileUri({ path: path.join(dir, "failed") })
      const error = yield* Effect.flip(
        run(options("work-2"), version, { _tag: "Object", uri: failedTarget }, (outputs) =>
          Stream.concat(outputs.stream(3), Stream.fail(new ShapeError({ index: 3 }))))
      )
      expect(error).toEqual(new ShapeError({ index: 3 }))
      // No "failed" object, no temporary file beside it; the work directories are emptied.
      expect(fs.readdirSync(dir).sort()).toEqual(["merged", "source", "work-1", "work-2"])
      expect([...fs.readdirSync(path.join(dir, "work-1")), ...fs.readdirSync(path.join(dir, "work-2"))]).toEqual([])
    }).pipe(Effect.provide(fibers)), 60_000)
})

describe("custom merges from an S3 work prefix", () => {
  it.live("outputs are streamed once finished, and file() hands out local copies removed after the run", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(text)
      const seen: Array<string> = []
      const collected = yield* Ref.make(Chunk.empty<Uint8Array>())
      yield* Effect.gen(function*() {
        const version = yield* (yield* ObjectStore).head(SOURCE)
        const options = {
          source: SOURCE,
          spec: { _tag: "Chunks", chunks: 5 } as const,
          command: "LC_ALL=C sort",
          concurrency: 3,
          lookahead: 64,
          workDir: new ObjectUri.S3Uri({ bucket: "bucket", key: "work/run-1/" })
        }
        const sink = { _tag: "Sink", write: <E2>(bytes: Stream.Stream<Uint8Array, E2>) => Stream.runForEach(bytes, (piece) => Ref.update(collected, Chunk.append(piece))) } as const
        yield* run(options, version, sink, sortMerge(seen))
        expectSameBytes(Buffer.concat(Chunk.toArray(yield* Ref.get(collected))), execFileSync("sort", { input: text, env: { ...process.env, LC_ALL: "C" } }))
        expect(seen).toHaveLength(5)
        expect(seen.filter((file) => fs.existsSync(file))).toEqual([])

        yield* Ref.set(collected, Chunk.empty())
        yield* run({ ...options, command: "tr a-z A-Z", workDir: new ObjectUri.S3Uri({ bucket: "bucket", key: "work/run-2/" }) }, version, sink, reversed)
        expectSameBytes(Buffer.concat(Chunk.toArray(yield* Ref.get(collected))), Buffer.concat(sequentialOutputs(text, 5, "tr a-z A-Z").reverse()))
      }).pipe(Effect.provide(jobLayer(memory)))
      expect(yield* memory.keys).toEqual([ObjectUri.format(SOURCE)])
    }), 60_000)
})
