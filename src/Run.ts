/**
 * The coordinator of `run`: plans the chunks, has the executor pipe each through the command
 * into a work location, and hands the outputs (`ChunkOutputs`) to a merge (`concatenate` by
 * default), whose stream is the run's result. In a local work directory the output that is due
 * streams on while its command produces it (`LocalOutput`); from an S3 work prefix each output
 * is read once its chunk has finished. Outputs not yet due wait in the work location (disk or
 * S3), never in memory. A merge that completes early ends the run: running chunks are stopped,
 * the rest never start. A merged `--out` object is committed only when the merge succeeded,
 * and the work location is emptied on every path.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { concatenate } from "./ChunkOutputs.js"
import type { ChunkOutputs, MergeContext } from "./ChunkOutputs.js"
import { ChunkTask, ExecAction } from "./ChunkTask.js"
import type { ChunkResult } from "./ChunkTask.js"
import { StoreError } from "./Errors.js"
import type { WorkerError } from "./Errors.js"
import { Executor } from "./Executor.js"
import { fanOut } from "./FanOut.js"
import * as LocalOutput from "./LocalOutput.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectVersion } from "./ObjectStore.js"
import * as ObjectUri from "./ObjectUri.js"
import { multiTasks } from "./MultiJob.js"
import { planObjects } from "./MultiPlan.js"
import type { WorkerTask } from "./MultiTask.js"
import { plan } from "./Planner.js"
import type { PlanSpec } from "./Planner.js"
import { readRange, retrying } from "./Retry.js"
import { defaultConcurrency } from "./Split.js"
import type { Decompress, SourceObject } from "./SourceSet.js"
import type { Stats } from "./Stats.js"

/** Where the merged output goes: a byte consumer (stdout), or one object committed at the end. */
export type Destination<E> =
  | {
    readonly _tag: "Sink"
    readonly write: <E2>(bytes: Stream.Stream<Uint8Array, E2>) => Effect.Effect<void, E | E2>
    /**
     * Set when `write` is done with each piece (has handed it on, e.g. to the kernel) before
     * it pulls the next and keeps no reference to it: the run may then read later bytes into
     * the same memory.
     */
    readonly releasesPieces?: boolean
  }
  | { readonly _tag: "Object"; readonly uri: ObjectUri.ObjectUri }

export interface RunOptions {
  readonly source: ObjectUri.ObjectUri
  readonly spec: PlanSpec
  readonly command: string
  readonly concurrency: number | undefined
  readonly lookahead: number
  /** A directory or prefix, private to this run, where the workers write their outputs. */
  readonly workDir: ObjectUri.ObjectUri
  /**
   * The object's header (`Header.read`, `run --header`): the bytes `[0, header.length)`, left
   * out of the plan and fed to every chunk's command before its own lines. The same bytes are
   * what a merge compares an output's leading lines with, to keep one header.
   */
  readonly header?: Uint8Array | undefined
}

/** The name of chunk `index`'s output in the work location. */
export const outputName = (index: number): string => `output-${String(index).padStart(5, "0")}`

/** Removes a work output, with retries; a failure here must not hide the run's own outcome. */
const removeQuietly = (uri: ObjectUri.ObjectUri) =>
  uri._tag === "FileUri"
    ? LocalOutput.removeQuietly(uri.path)
    : Effect.flatMap(ObjectStore, (store) => Effect.ignore(retrying(ObjectUri.format(uri), store.remove(uri))))

/** The whole object at `uri`, with retries (our own outputs: no version to pin beyond the HEAD). */
const readWhole = (uri: ObjectUri.ObjectUri) =>
  Stream.unwrap(Effect.gen(function*() {
    const store = yield* ObjectStore
    const version = yield* retrying(ObjectUri.format(uri), store.head(uri))
    return readRange(uri, version, { start: 0, end: version.size })
  }))

/** A temporary local copy of the object at `uri`, removed when the scope closes. */
const localCopy = (uri: ObjectUri.ObjectUri) =>
  Effect.gen(function*() {
    const failed = (what: string) => (error: unknown) => new StoreError({ uri: ObjectUri.format(uri), reason: `${what}: ${String(error)}` })
    const dir = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => fs.promises.mkdtemp(NodePath.join(Os.tmpdir(), "s3split-output-")), catch: failed("making a local copy") }),
      (dir) => Effect.promise(() => fs.promises.rm(dir, { recursive: true, force: true }))
    )
    const path = NodePath.join(dir, "output")
    yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => fs.promises.open(path, "w"), catch: failed("making a local copy") }),
        (file) => Effect.promise(() => file.close())
      )
      yield* Stream.runForEach(readWhole(uri), (piece) => Effect.tryPromise({ try: () => file.write(piece), catch: failed("writing a local copy") }))
    }))
    return path
  })

/**
 * Runs `options.command` on every chunk of the source `version` (with its context in the
 * environment and `options.header` first on its stdin: `CommandContext`), hands the outputs
 * to `merge` (default `concatenate`: chunk order) and delivers the merged stream to
 * `destination`. Returns each chunk's counts, in order: `None` for a chunk that was stopped
 * or never started because the merge completed without it. The first chunk to fail fails the
 * run with its own error at once: the other workers are interrupted, no new one starts, and
 * nothing is committed. An `Object` destination with `concatenate` is composed in the store
 * where it can be (the outputs never pass through this process), otherwise the merged stream
 * is put.
 */
export const run = <E, M = never>(
  options: RunOptions,
  version: ObjectVersion,
  destination: Destination<E>,
  // Any `Merge<X>` with X covering `WorkerError` fits, and so does a generic merge.
  merge: (outputs: ChunkOutputs<WorkerError>, context: MergeContext) => Stream.Stream<Uint8Array, WorkerError | M> = concatenate
) => {
  // With a header, the plan covers the bytes after it: `[headerEnd, S)`, its cut points shifted.
  const header = options.header !== undefined && options.header.length > 0 ? { header: options.header } : {}
  const headerEnd = options.header?.length ?? 0
  const tasks = plan(version.size - headerEnd, options.spec).map((approx, index, all) =>
    new ChunkTask({
      index,
      source: options.source,
      version,
      approx: { start: headerEnd + approx.start, end: headerEnd + approx.end },
      lookahead: options.lookahead,
      action: new ExecAction({ command: options.command }),
      output: ObjectUri.child(options.workDir, outputName(index)),
      chunks: all.length,
      ...header
    })
  )
  return runTasks(tasks, options, version.contentType, destination, merge).pipe(cleaningUp(options.workDir))
}

/** Empties the run's private work location whatever the ending (objects and, in S3, incomplete uploads). */
const cleaningUp = (workDir: ObjectUri.ObjectUri) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  // A Lambda executor waits for its invocations before its interruption completes, so
  // nothing is written after this.
  Effect.ensuring(effect, Effect.flatMap(ObjectStore, (store) =>
    Effect.ignore(retrying(ObjectUri.format(workDir), store.removeAll(workDir)))))

export interface MultiRunOptions {
  readonly spec: PlanSpec
  readonly command: string
  readonly concurrency: number | undefined
  readonly lookahead: number
  /** A directory or prefix, private to this run: the outputs, and the object list if the tasks need it. */
  readonly workDir: ObjectUri.ObjectUri
  /** `auto`: whole objects whose GET answers `Content-Encoding: gzip` are gunzipped too; default `none`. */
  readonly decompress?: Decompress
}

/**
 * `run` over many objects (`SourceSet.resolve`, in order): the plan over their stored bytes
 * taken in order (`MultiPlan`), one `MultiChunkTask` per chunk (the object list written once
 * to the work location when a chunk's objects do not travel inline), each chunk's command fed
 * the lines of its pieces (gzip objects gunzipped). Outputs, merge, destination, failures and
 * clean-up as `run`. A chunk's command gets `S3SPLIT_CHUNK` and `S3SPLIT_CHUNKS`, not
 * `S3SPLIT_SOURCE` / `S3SPLIT_OFFSET` (a chunk may span several objects).
 */
export const runMulti = <E, M = never>(
  options: MultiRunOptions,
  objects: ReadonlyArray<SourceObject>,
  destination: Destination<E>,
  merge: (outputs: ChunkOutputs<WorkerError>, context: MergeContext) => Stream.Stream<Uint8Array, WorkerError | M> = concatenate
) =>
  Effect.flatMap(
    multiTasks(objects, planObjects(objects, options.spec), {
      lookahead: options.lookahead,
      action: new ExecAction({ command: options.command }),
      outputOf: (index) => ObjectUri.child(options.workDir, outputName(index)),
      listAt: ObjectUri.child(options.workDir, "objects.ndjson"),
      ...(options.decompress === undefined ? {} : { decompress: options.decompress })
    }),
    ({ tasks }) => runTasks(tasks, options, undefined, destination, merge)
  ).pipe(cleaningUp(options.workDir))

/**
 * The body of `run` and `runMulti`: fans `tasks` out, hands their outputs to `merge`, delivers
 * to `destination` (an `Object` destination typed `contentType`). The caller empties the work
 * location.
 */
const runTasks = <E, M>(
  tasks: ReadonlyArray<WorkerTask>,
  options: { readonly concurrency: number | undefined },
  contentType: string | undefined,
  destination: Destination<E>,
  merge: (outputs: ChunkOutputs<WorkerError>, context: MergeContext) => Stream.Stream<Uint8Array, WorkerError | M>
) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const executor = yield* Executor
    const context = yield* Effect.context<ObjectStore | Stats>()
    const finished = yield* Effect.forEach(tasks, () => Deferred.make<ChunkResult, WorkerError>())
    const mergeDone = yield* Deferred.make<void>()

    // Fail fast: the first failing chunk fails the fan-out, which interrupts the running
    // workers and starts no new one; the merge is interrupted with it. Once the merge is
    // complete (early or not), the workers still running are interrupted instead, and a late
    // failure of theirs no longer counts: the result has been delivered.
    const workers = fanOut(
      tasks,
      (task) =>
        Effect.exit(executor.execute(task)).pipe(
          Effect.tap((exit) => Deferred.done(finished[task.index]!, exit)),
          Effect.flatten
        ),
      options.concurrency ?? defaultConcurrency(tasks.length)
    )

    // Concatenated straight into a sink that releases each piece: one buffer serves every read.
    const reuse = destination._tag === "Sink" && destination.releasesPieces === true && merge === concatenate
    const outputs: ChunkOutputs<WorkerError> = {
      count: tasks.length,
      // Read once, then removed: a long run does not keep what has been delivered.
      stream: (index) => {
        const output = tasks[index]!.output
        const bytes = output._tag === "FileUri"
          ? LocalOutput.follow(output.path, finished[index]!, { reuse })
          : Stream.unwrap(Effect.as(Deferred.await(finished[index]!), readWhole(output)))
        return bytes.pipe(Stream.ensuring(removeQuietly(output)), Stream.provideContext(context))
      },
      file: (index) => {
        const output = tasks[index]!.output
        return Effect.zipRight(
          Deferred.await(finished[index]!),
          output._tag === "FileUri" ? Effect.succeed(output.path) : Effect.provide(localCopy(output), context)
        )
      }
    }
    const merged = merge(outputs, { chunks: tasks.length })

    const deliver = destination._tag === "Sink"
      ? destination.write(merged)
      : Effect.gen(function*() {
        const target = ObjectUri.format(destination.uri)
        // The merged output carries the source's media type, as the parts of a split do.
        const typed = contentType === undefined ? {} : { contentType }
        if (merge !== concatenate) return yield* retrying(target, store.put(destination.uri, merged, typed))
        const results = yield* Effect.forEach(finished, Deferred.await)
        const sources = tasks.map((task, i) => ({ uri: task.output, size: results[i]!.bytesOut }))
        yield* retrying(target, store.compose(destination.uri, sources, typed)).pipe(
          Effect.catchTag("ComposeUnsupportedError", () =>
            retrying(target, store.put(destination.uri, merged, { ...typed, sizeHint: sources.reduce((sum, source) => sum + source.size, 0) })))
        )
      })

    // The workers run in a fiber of their own so that a merge that completes early can stop
    // them, and every ending waits for them (`Fiber.interrupt` awaits): the work location is
    // emptied only after the last worker has ended (a race would not wait for its loser).
    const workersFiber = yield* Effect.fork(workers)
    yield* Effect.all([
      Fiber.join(workersFiber).pipe(
        Effect.catchAllCause((cause) => Effect.flatMap(Deferred.isDone(mergeDone), (done) => done ? Effect.void : Effect.failCause(cause)))
      ),
      deliver.pipe(
        Effect.zipRight(Deferred.succeed(mergeDone, undefined)),
        Effect.zipRight(Fiber.interrupt(workersFiber))
      )
    ], { concurrency: "unbounded", discard: true }).pipe(Effect.ensuring(Fiber.interrupt(workersFiber)))
    return yield* Effect.forEach(finished, (chunk) =>
      Effect.flatMap(Deferred.poll(chunk), (polled) =>
        Option.match(polled, {
          onNone: () => Effect.succeed(Option.none<ChunkResult>()),
          onSome: (result) => Effect.map(Effect.exit(result), (exit) => Exit.isSuccess(exit) ? Option.some(exit.value) : Option.none())
        })))
  })
