/**
 * Many-object tasks: the worker's pieces, recomputed from the task alone, are the
 * coordinator's; a task stays far below Lambda's 256 KiB payload for 100,000 objects; the
 * object list is read with one pinned GET per task.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { CopyAction } from "../src/ChunkTask.js"
import * as MemoryObjectStore from "../src/MemoryObjectStore.js"
import { planObjects } from "../src/MultiPlan.js"
import { loadObjects, MultiChunkTask, sliceOf, taskObjects, taskPieces, writeList } from "../src/MultiTask.js"
import type { WrittenList } from "../src/MultiTask.js"
import { FileUri, S3Uri } from "../src/ObjectUri.js"
import { SourceObject } from "../src/SourceSet.js"
import { jobLayer } from "./utils/Layers.js"

const LAMBDA_PAYLOAD = 256 * 1024

const sourceObjects = (objects: ReadonlyArray<{ readonly size: number; readonly compressed: boolean }>) =>
  objects.map((object, i) =>
    new SourceObject({
      uri: new S3Uri({ bucket: "logs-bucket", key: `AWSLogs/123456789012/elasticloadbalancing/2026/11/${String(i).padStart(6, "0")}.log${object.compressed ? ".gz" : ""}` }),
      size: object.size,
      etag: `"${i.toString(16).padStart(32, "0")}"`,
      compressed: object.compressed
    }, true)
  )

const taskFor = (objects: ReadonlyArray<SourceObject>, multi: ReturnType<typeof planObjects>, i: number, list: WrittenList | undefined) => {
  const { approx, count, first } = sliceOf(multi, i)
  return new MultiChunkTask({
    index: i,
    objects: taskObjects(objects, first, count, list, 64 * 1024),
    approx,
    lookahead: 64 * 1024,
    action: new CopyAction(),
    output: new FileUri({ path: `/out/part-${i}` })
  })
}

describe("MultiTask", () => {
  it.prop(
    "the pieces a worker computes from its task's objects and range are the coordinator's",
    [
      FastCheck.array(FastCheck.record({ size: FastCheck.integer({ min: 0, max: 1000 }), compressed: FastCheck.boolean() }), { maxLength: 30 }),
      FastCheck.integer({ min: 1, max: 50 })
    ],
    ([sizes, chunks]) => {
      const objects = sourceObjects(sizes)
      const multi = planObjects(objects, { _tag: "Chunks", chunks })
      multi.pieces.forEach((pieces, i) => {
        const { approx, count, first } = sliceOf(multi, i)
        const local = taskPieces(objects.slice(first, first + count), approx)
        expect(local.map((piece) => ({ ...piece, object: piece.object + first }))).toEqual(pieces)
      })
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.effect("20,000 objects: every task fits in a Lambda payload; a listed slice is one pinned GET", () =>
    Effect.gen(function*() {
      const objects = sourceObjects(Array.from({ length: 20_000 }, (_, i) => ({ size: 1000 + (i % 7) * 5000, compressed: i % 3 === 0 })))
      const memory = yield* MemoryObjectStore.make()
      const listUri = new S3Uri({ bucket: "work", key: "run-1/objects.ndjson" })
      yield* Effect.gen(function*() {
        const list = yield* writeList(listUri, objects)
        for (const chunks of [1, 10, 1000]) {
          const multi = planObjects(objects, { _tag: "Chunks", chunks })
          let largest = 0
          for (let i = 0; i < chunks; i++) {
            const task = taskFor(objects, multi, i, list)
            largest = Math.max(largest, JSON.stringify(Schema.encodeSync(MultiChunkTask)(task)).length)
          }
          expect(largest).toBeLessThan(LAMBDA_PAYLOAD / 2)
        }
        // Ten chunks of 2,000 objects: each task names a slice of the list and reads it back whole.
        const multi = planObjects(objects, { _tag: "Chunks", chunks: 10 })
        const before = (yield* memory.requests).length
        for (const i of [0, 4, 9]) {
          const task = taskFor(objects, multi, i, list)
          expect(task.objects._tag).toBe("ListedObjects")
          const { count, first } = sliceOf(multi, i)
          const loaded = yield* loadObjects(task.objects)
          expect(loaded).toEqual(objects.slice(first, first + count))
          expect(taskPieces(loaded, task.approx).map((piece) => ({ ...piece, object: piece.object + first }))).toEqual(multi.pieces[i])
        }
        expect((yield* memory.requests).slice(before).map((request) => request.op)).toEqual(["get", "get", "get"])
        // A list rewritten after the tasks were made is refused.
        yield* memory.seed(listUri, new TextEncoder().encode("{}\n"))
        const error = yield* Effect.flip(loadObjects(taskFor(objects, multi, 0, list).objects))
        expect(error._tag).toBe("ObjectChangedError")
      }).pipe(Effect.provide(jobLayer(memory)))
    }))

  it("a few objects travel inline in the task", () => {
    const objects = sourceObjects([{ size: 10, compressed: false }, { size: 20, compressed: true }])
    const multi = planObjects(objects, { _tag: "Chunks", chunks: 2 })
    const task = taskFor(objects, multi, 0, undefined)
    // S = 30, q = 15: chunk 0 owns object 0 and the compressed object 1, whose first byte is 10.
    expect(task.objects).toMatchObject({ _tag: "InlineObjects", objects })
    const decoded = Schema.decodeUnknownSync(MultiChunkTask)(JSON.parse(JSON.stringify(Schema.encodeSync(MultiChunkTask)(task))))
    expect(decoded).toEqual(task)
  })
})
