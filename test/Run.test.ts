import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { WorkerFailedError } from "../src/Errors.js"
import type { MemoryObjectStore } from "../src/MemoryObjectStore.js"
import { ObjectStore } from "../src/ObjectStore.js"
import * as ObjectUri from "../src/ObjectUri.js"
import { run } from "../src/Run.js"
import type { RunOptions } from "../src/Run.js"
import { jobLayer, seeded, SOURCE } from "./utils/Layers.js"
import { adversarialBytes } from "./utils/Reference.js"

const WORK = new ObjectUri.S3Uri({ bucket: "bucket", key: "work/run-1/" })
const MERGED = new ObjectUri.S3Uri({ bucket: "bucket", key: "results/merged" })

const options = (command: string, chunks: number): RunOptions => ({
  source: SOURCE,
  spec: { _tag: "Chunks", chunks },
  command,
  concurrency: 4,
  lookahead: 64,
  workDir: WORK
})

/** Runs `command` over `memory`'s source, collecting the merged stdout. */
const runToBytes = (memory: MemoryObjectStore, command: string, chunks: number) =>
  Effect.gen(function*() {
    const collected = yield* Ref.make(Chunk.empty<Uint8Array>())
    const version = yield* (yield* ObjectStore).head(SOURCE)
    const results = yield* run(options(command, chunks), version, {
      _tag: "Sink",
      write: (bytes) => Stream.runForEach(bytes, (piece) => Ref.update(collected, Chunk.append(piece)))
    })
    return { bytes: Buffer.concat(Chunk.toArray(yield* Ref.get(collected))), results }
  }).pipe(Effect.provide(jobLayer(memory)))

describe("run on local workers", () => {
  it.live("--exec cat reproduces the source byte for byte, for any shape", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(adversarialBytes, FastCheck.integer({ min: 1, max: 9 }), (bytes, chunks) =>
          Effect.runPromise(Effect.gen(function*() {
            const memory = yield* seeded(bytes)
            const { bytes: merged, results } = yield* runToBytes(memory, "cat", chunks)
            expect(merged).toEqual(Buffer.from(bytes))
            expect(results.map((result) => Option.getOrThrow(result).index)).toEqual(Array.from({ length: chunks }, (_, i) => i))
            // Nothing is left in the work location.
            expect(yield* memory.keys).toEqual([ObjectUri.format(SOURCE)])
          }))),
        { numRuns: 15 }
      )
    ))

  it.live("--exec 'wc -l' summed equals the number of lines", () =>
    Effect.gen(function*() {
      const text = Array.from({ length: 5000 }, (_, i) => `row ${i}`).join("\n") + "\n"
      const memory = yield* seeded(Buffer.from(text))
      const { bytes } = yield* runToBytes(memory, "wc -l", 7)
      const counts = bytes.toString("utf8").trim().split(/\s+/).map(Number)
      expect(counts).toHaveLength(7)
      expect(counts.reduce((a, b) => a + b, 0)).toBe(5000)
    }))

  it.live("a failing command on one chunk fails the run with its index, exit code and stderr, and cleans up", () =>
    Effect.gen(function*() {
      const text = Array.from({ length: 400 }, (_, i) => `${i === 250 ? "POISON" : "ok"} ${i}`).join("\n") + "\n"
      const memory = yield* seeded(Buffer.from(text))
      const error = yield* Effect.flip(
        runToBytes(memory, "if grep -q POISON; then echo 'found poison' >&2; exit 7; fi; echo fine", 4)
      )
      expect(error).toBeInstanceOf(WorkerFailedError)
      const failed = error as WorkerFailedError
      expect(failed.exitCode).toBe(7)
      expect(failed.index).toBe(2)
      expect(failed.tail).toContain("found poison")
      expect(failed.message).toMatch(/^chunk 2: command exited with code 7: found poison$/)
      expect(yield* memory.keys).toEqual([ObjectUri.format(SOURCE)])
    }))

  it.live("a command that stops reading early (head) is not an error", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(Buffer.from("a\n".repeat(200_000)))
      const { bytes } = yield* runToBytes(memory, "head -n 1", 3)
      expect(bytes.toString("utf8")).toBe("a\na\na\n")
    }))

  it.live("--out composes the outputs in the store and commits only the merged object", () =>
    Effect.gen(function*() {
      const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join("\n") + "\n"
      const memory = yield* seeded(Buffer.from(text))
      yield* Effect.gen(function*() {
        const version = yield* (yield* ObjectStore).head(SOURCE)
        yield* run(options("tr a-z A-Z", 5), version, { _tag: "Object", uri: MERGED })
      }).pipe(Effect.provide(jobLayer(memory)))
      expect(Buffer.from((yield* memory.read(MERGED))!).toString("utf8")).toBe(text.toUpperCase())
      expect((yield* memory.requests).some((request) => request.op === "compose")).toBe(true)
      expect(yield* memory.keys).toEqual([ObjectUri.format(MERGED), ObjectUri.format(SOURCE)].sort())
    }))

  it.live("--out commits nothing when a chunk fails", () =>
    Effect.gen(function*() {
      const memory = yield* seeded(Buffer.from("x\n".repeat(1000)))
      const error = yield* Effect.flip(Effect.gen(function*() {
        const version = yield* (yield* ObjectStore).head(SOURCE)
        yield* run(options("exit 1", 3), version, { _tag: "Object", uri: MERGED })
      }).pipe(Effect.provide(jobLayer(memory))))
      expect(error).toBeInstanceOf(WorkerFailedError)
      expect(yield* memory.keys).toEqual([ObjectUri.format(SOURCE)])
    }))
})
