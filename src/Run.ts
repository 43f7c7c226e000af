/**
 * The coordinator of `run`: plans the chunks, has the executor pipe each through the command
 * into a work location, and merges the outputs in chunk order, streaming: chunk 0's output
 * goes out as soon as it is complete, later ones when their turn comes; outputs not yet due
 * wait in the work location (disk or S3), never in memory. A merged `--out` object is
 * committed only when every chunk succeeded, and the work location is emptied on every path.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { ChunkTask, ExecAction } from "./ChunkTask.js"
import type { ChunkResult } from "./ChunkTask.js"
import type { WorkerError } from "./Errors.js"
import { Executor } from "./Executor.js"
import { fanOut } from "./FanOut.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectVersion } from "./ObjectStore.js"
import * as ObjectUri from "./ObjectUri.js"
import { plan } from "./Planner.js"
import type { PlanSpec } from "./Planner.js"
import { readRange, retrying } from "./Retry.js"
import { defaultConcurrency } from "./Split.js"
import type { Stats } from "./Stats.js"

/** Where the merged output goes: a byte consumer (stdout), or one object committed at the end. */
export type Destination<E> =
  | {
    readonly _tag: "Sink"
    readonly write: <E2>(bytes: Stream.Stream<Uint8Array, E2>) => Effect.Effect<void, E | E2>
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
  Effect.flatMap(ObjectStore, (store) => Effect.ignore(retrying(ObjectUri.format(uri), store.remove(uri))))

/** The whole object at `uri`, with retries (our own outputs: no version to pin beyond the HEAD). */
const readWhole = (uri: ObjectUri.ObjectUri) =>
  Stream.unwrap(Effect.gen(function*() {
    const store = yield* ObjectStore
    const version = yield* retrying(ObjectUri.format(uri), store.head(uri))
    return readRange(uri, version, { start: 0, end: version.size })
  }))

/**
 * Runs `options.command` on every chunk of the source `version` (with its context in the
 * environment and `options.header` first on its stdin: `CommandContext`) and delivers the
 * outputs, in chunk order, to `destination`. Returns each chunk's counts, in order. The first chunk to
 * fail fails the run with its own error at once: the other workers are interrupted, no new
 * one starts, and nothing is committed.
 */
export const run = <E>(options: RunOptions, version: ObjectVersion, destination: Destination<E>) => {
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
  return Effect.gen(function*() {
    const store = yield* ObjectStore
    const executor = yield* Executor
    const context = yield* Effect.context<ObjectStore | Stats>()
    const finished = yield* Effect.forEach(tasks, () => Deferred.make<ChunkResult, WorkerError>())

    // Fail fast: the first failing chunk fails the fan-out, which interrupts the running
    // workers and starts no new one; the merge below is interrupted with it.
    const workers = fanOut(
      tasks,
      (task) =>
        Effect.exit(executor.execute(task)).pipe(
          Effect.tap((exit) => Deferred.done(finished[task.index]!, exit)),
          Effect.flatten
        ),
      options.concurrency ?? defaultConcurrency(tasks.length)
    )
    // Each output, in chunk order, once its chunk is complete; removed once it has been read.
    const merged = Stream.fromIterable(tasks).pipe(
      Stream.flatMap((task) =>
        Stream.unwrap(Effect.as(Deferred.await(finished[task.index]!), readWhole(task.output))).pipe(
          Stream.ensuring(destination._tag === "Sink" ? removeQuietly(task.output) : Effect.void)
        )
      ),
      Stream.provideContext(context)
    )
    const deliver = destination._tag === "Sink"
      ? destination.write(merged)
      : Effect.gen(function*() {
        const results = yield* Effect.forEach(finished, Deferred.await)
        const sources = tasks.map((task, i) => ({ uri: task.output, size: results[i]!.bytesOut }))
        const target = ObjectUri.format(destination.uri)
        // The merged output carries the source's media type, as the parts of a split do.
        const typed = version.contentType === undefined ? {} : { contentType: version.contentType }
        yield* retrying(target, store.compose(destination.uri, sources, typed)).pipe(
          Effect.catchTag("ComposeUnsupportedError", () =>
            retrying(target, store.put(destination.uri, merged, { ...typed, sizeHint: sources.reduce((sum, source) => sum + source.size, 0) })))
        )
      })

    yield* Effect.all([workers, deliver], { concurrency: "unbounded", discard: true })
    return yield* Effect.forEach(finished, Deferred.await)
  }).pipe(
    // The work location is private to this run: empty it whole, whatever the ending (objects
    // and, in S3, incomplete uploads), after every worker has ended. A Lambda executor waits
    // for its invocations before its interruption completes, so nothing is written after this.
    Effect.ensuring(Effect.flatMap(ObjectStore, (store) =>
      Effect.ignore(retrying(ObjectUri.format(options.workDir), store.removeAll(options.workDir)))))
  )
}
