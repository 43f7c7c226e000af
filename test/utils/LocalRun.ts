/**
 * `run` on the local file system, as the command line wires it: a source file, a private
 * local work directory, the routing store, and the fiber or the worker-thread executor. Every
 * case lives in its own directory under one temporary root, removed after the file's tests.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Chunk from "effect/Chunk"
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Boundary from "../../src/Boundary.js"
import { concatenate } from "../../src/ChunkOutputs.js"
import type { ChunkOutputs, MergeContext } from "../../src/ChunkOutputs.js"
import type { WorkerError } from "../../src/Errors.js"
import * as Executor from "../../src/Executor.js"
import * as Layers from "../../src/Layers.js"
import { ObjectStore } from "../../src/ObjectStore.js"
import { FileUri } from "../../src/ObjectUri.js"
import { plan } from "../../src/Planner.js"
import { RetryPolicy } from "../../src/Retry.js"
import * as RoutingObjectStore from "../../src/RoutingObjectStore.js"
import { run } from "../../src/Run.js"
import type { Stats } from "../../src/Stats.js"
import * as WorkerThreadExecutor from "../../src/WorkerThreadExecutor.js"
import { referenceChunks } from "./Reference.js"

const settings = { endpoint: Option.none(), region: "us-east-1" }

/** Files behind the routing store, with the given executor on top. */
const layerWith = (executor: Layer.Layer<Executor.Executor, never, Boundary.Boundary | ObjectStore | Stats>) =>
  Layers.jobLayer(Layers.workerLayer(RoutingObjectStore.layer(settings), RetryPolicy.layerConfig), executor).pipe(
    Layer.provideMerge(NodeContext.layer)
  )

export const fibers = layerWith(Executor.localLayer)
export const threads = layerWith(WorkerThreadExecutor.layer({ settings, threads: 2 }))

/** A root directory for a test file's cases; `remove` it after the file. */
export const workRoot = (name: string) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `s3split-${name}-`))
  return {
    root,
    /** A fresh directory for one case. */
    fresh: () => fs.mkdtempSync(path.join(root, "case-")),
    remove: () => fs.rmSync(root, { recursive: true, force: true })
  }
}

export interface LocalRunOptions<M> {
  readonly merge?: (outputs: ChunkOutputs<WorkerError>, context: MergeContext) => Stream.Stream<Uint8Array, WorkerError | M>
  readonly concurrency?: number
  /** Called with every piece of the merged output as it arrives, before it is kept. */
  readonly onPiece?: (piece: Uint8Array) => void
  /** The sink copies each piece and says so (`releasesPieces`): the run may reuse their memory. */
  readonly copying?: boolean
}

/**
 * `run --exec command` of `bytes` in `chunks` chunks inside `dir` (source at `dir/source`, work
 * directory `dir/work/`), with the merged output collected in memory. The work directory is
 * left for the caller to inspect.
 */
export const runLocal = <M = never>(dir: string, bytes: Uint8Array, chunks: number, command: string, options: LocalRunOptions<M> = {}) =>
  Effect.gen(function*() {
    const source = new FileUri({ path: path.join(dir, "source") })
    fs.writeFileSync(source.path, bytes)
    fs.mkdirSync(path.join(dir, "work"), { recursive: true })
    const version = yield* (yield* ObjectStore).head(source)
    const collected = yield* Ref.make(Chunk.empty<Uint8Array>())
    const results = yield* run(
      { source, spec: { _tag: "Chunks", chunks }, command, concurrency: options.concurrency ?? 4, lookahead: 16, workDir: new FileUri({ path: path.join(dir, "work") }) },
      version,
      {
        _tag: "Sink",
        write: (out) =>
          Stream.runForEach(out, (piece) =>
            Effect.zipRight(
              Effect.sync(() => options.onPiece?.(piece)),
              Ref.update(collected, Chunk.append(options.copying === true ? Uint8Array.from(piece) : piece))
            )),
        releasesPieces: options.copying === true
      },
      options.merge ?? concatenate
    )
    return { bytes: Buffer.concat(Chunk.toArray(yield* Ref.get(collected))), results }
  })

/** The outputs the sequential pipeline gives: `command` run on each reference chunk, in order. */
export const sequentialOutputs = (bytes: Uint8Array, chunks: number, command: string): Array<Buffer> =>
  referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks })).map((chunk) =>
    execFileSync("/bin/sh", ["-c", command], { input: chunk, maxBuffer: 1 << 30 })
  )

/**
 * Asserts that two byte arrays are equal, quickly however large they are (a deep `toEqual`
 * walks megabytes byte by byte); on a difference, shows the bytes around the first one.
 */
export const expectSameBytes = (actual: Uint8Array, expected: Uint8Array) => {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return
  let first = 0
  while (first < actual.length && first < expected.length && actual[first] === expected[first]) first++
  const around = (bytes: Uint8Array) => Buffer.from(bytes.subarray(Math.max(0, first - 16), first + 16)).toString("hex")
  expect({ length: actual.length, firstDifference: first, around: around(actual) }).toEqual({
    length: expected.length,
    firstDifference: first,
    around: around(expected)
  })
}
