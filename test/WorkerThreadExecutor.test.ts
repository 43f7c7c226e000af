import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Boundary from "../src/Boundary.js"
import { ChunkTask, ExecAction } from "../src/ChunkTask.js"
import { WorkerFailedError } from "../src/Errors.js"
import * as Executor from "../src/Executor.js"
import { ObjectStore } from "../src/ObjectStore.js"
import * as Layers from "../src/Layers.js"
import { FileUri } from "../src/ObjectUri.js"
import { RetryPolicy } from "../src/Retry.js"
import * as RoutingObjectStore from "../src/RoutingObjectStore.js"
import { run } from "../src/Run.js"
import { split } from "../src/Split.js"
import { Stats } from "../src/Stats.js"
import * as WorkerThreadExecutor from "../src/WorkerThreadExecutor.js"
import { adversarialBytes } from "./utils/Reference.js"

const settings = { endpoint: Option.none(), region: "us-east-1" }

/** Files behind the routing store, with the given executor on top. */
const layerWith = (executor: Layer.Layer<Executor.Executor, never, Boundary.Boundary | ObjectStore | Stats>) =>
  Layers.jobLayer(Layers.workerLayer(RoutingObjectStore.layer(settings), RetryPolicy.layerConfig), executor).pipe(
    Layer.provideMerge(NodeContext.layer)
  )

const fibers = layerWith(Executor.localLayer)
const threads = layerWith(WorkerThreadExecutor.layer({ settings, threads: 2 }))

/** Every test's files live under one directory, removed when the file's tests end. */
const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-threads-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))
const tempDir = () => fs.mkdtempSync(path.join(work, "case-"))

/** `split --out` of `bytes` into `chunks` parts; the parts' bytes, in order. */
const splitParts = (bytes: Uint8Array, chunks: number) =>
  Effect.gen(function*() {
    const dir = tempDir()
    const source = new FileUri({ path: path.join(dir, "source") })
    fs.writeFileSync(source.path, bytes)
    const version = yield* (yield* ObjectStore).head(source)
    const report = yield* split({
      source,
      spec: { _tag: "Chunks", chunks },
      out: new FileUri({ path: path.join(dir, "out/") }),
      concurrency: 4,
      lookahead: 16
    }, version)
    const parts = report.rows.map((row) => fs.readFileSync(path.join(dir, "out", `part-${String(row.index).padStart(5, "0")}`)))
    fs.rmSync(dir, { recursive: true, force: true })
    return parts
  })

/** `run --exec command` of `bytes` over `chunks` chunks; the merged output. */
const runOutput = (bytes: Uint8Array, chunks: number, command: string) =>
  Effect.gen(function*() {
    const dir = tempDir()
    const source = new FileUri({ path: path.join(dir, "source") })
    fs.writeFileSync(source.path, bytes)
    const version = yield* (yield* ObjectStore).head(source)
    const collected = yield* Ref.make(Chunk.empty<Uint8Array>())
    yield* run(
      { source, spec: { _tag: "Chunks", chunks }, command, concurrency: 4, lookahead: 16, workDir: new FileUri({ path: path.join(dir, "work/") }) },
      version,
      { _tag: "Sink", write: (out) => Stream.runForEach(out, (piece) => Ref.update(collected, Chunk.append(piece))) }
    )
    fs.rmSync(dir, { recursive: true, force: true })
    return Buffer.concat(Chunk.toArray(yield* Ref.get(collected)))
  })

/** Whether the process `pid` still runs (a zombie waiting for its reaper counts as gone). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

/**
 * For random shapes and N, `produce` gives equal results in threads and in fibers, and
 * `joined` of that result is the source itself.
 */
const sameAsFibers = <A, E>(
  produce: (bytes: Uint8Array, chunks: number) => Effect.Effect<A, E, Executor.Executor | ObjectStore | Stats | Boundary.Boundary>,
  joined: (result: A) => Uint8Array,
  numRuns: number
) =>
  Effect.gen(function*() {
    const inThreads = yield* Layer.build(threads)
    const inFibers = yield* Layer.build(fibers)
    yield* Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(adversarialBytes, FastCheck.integer({ min: 1, max: 9 }), (bytes, chunks) =>
          Effect.runPromise(Effect.gen(function*() {
            const viaThreads = yield* Effect.provide(produce(bytes, chunks), inThreads)
            const viaFibers = yield* Effect.provide(produce(bytes, chunks), inFibers)
            expect(viaThreads).toEqual(viaFibers)
            expect(Buffer.from(joined(viaThreads))).toEqual(Buffer.from(bytes))
          }))),
        { numRuns }
      )
    )
  }).pipe(Effect.scoped)

describe("the worker-thread executor", () => {
  it.live("split --out gives the same parts as the fiber executor, for any shape", () =>
    sameAsFibers(splitParts, (parts) => Buffer.concat(parts), 15), 120_000)

  it.live("run --exec cat gives the same bytes as the fiber executor, for any shape", () =>
    sameAsFibers((bytes, chunks) => runOutput(bytes, chunks, "cat"), (output) => output, 10), 120_000)

  it.live("a failing command's typed error crosses the thread unchanged", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runOutput(Buffer.from("a\nb\nc\n"), 2, "echo boom >&2; exit 3"))
      expect(error).toBeInstanceOf(WorkerFailedError)
      if (!(error instanceof WorkerFailedError)) return
      expect(error.exitCode).toBe(3)
      expect(error.message).toContain("exited with code 3")
      expect(error.message).toContain("boom")
    }).pipe(Effect.provide(threads)), 60_000)

  it.live("interrupting execute kills the chunk's command in its thread", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const source = new FileUri({ path: path.join(dir, "source") })
      fs.writeFileSync(source.path, "a\nb\n")
      const pidFile = path.join(dir, "pid")
      const version = yield* (yield* ObjectStore).head(source)
      const executor = yield* Executor.Executor
      const task = new ChunkTask({
        index: 0,
        source,
        version,
        approx: { start: 0, end: version.size },
        lookahead: 16,
        action: new ExecAction({ command: `sleep 1000 & echo $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; wait` }),
        output: new FileUri({ path: path.join(dir, "output") })
      })
      const fiber = yield* Effect.fork(executor.execute(task))
      // Generous bounds: these only guard against a test that never ends.
      let waited = 0
      while (!fs.existsSync(pidFile) && waited++ < 600) yield* Effect.sleep("50 millis")
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      expect(alive(pid)).toBe(true)
      yield* Fiber.interrupt(fiber)
      waited = 0
      while (alive(pid) && waited++ < 600) yield* Effect.sleep("50 millis")
      expect(alive(pid)).toBe(false)
      expect(fs.existsSync(path.join(dir, "output"))).toBe(false)
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(threads)), 60_000)
})
