/**
 * Workers as Node worker threads: every core of the machine, not one thread shared by all
 * chunks. The coordinator sends each task (a few hundred bytes of schema-encoded JSON) to a
 * thread of a fixed pool; the thread reads its chunk from the store, runs the action and
 * writes the output itself, and answers the chunk's `Exit`, decoded here to the same result
 * or typed error. Bytes never cross threads.
 *
 * The thread's entry is `worker-thread.ts` next to this module when running from source (under
 * `npx tsx` and vitest alike) and `worker-thread.mjs` next to the bundle (`npm run build` emits
 * both files).
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Worker from "@effect/platform/Worker"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import * as Os from "node:os"
import { pathToFileURL } from "node:url"
import * as WorkerThreads from "node:worker_threads"
import { WorkerFailedError } from "./Errors.js"
import { Executor } from "./Executor.js"
import * as S3Multipart from "./S3Multipart.js"
import type { S3Settings } from "./S3Settings.js"
import { increment, Stats } from "./Stats.js"
import { InitialMessage, RunChunk } from "./ThreadProtocol.js"
import type { ThreadRequest } from "./ThreadProtocol.js"

export interface ThreadExecutorOptions {
  /** How the threads reach S3 (the coordinator's resolved settings, `--endpoint` included). */
  readonly settings: S3Settings
  /** Threads in the pool (default: the machine's available parallelism). */
  readonly threads?: number | undefined
}

/**
 * A new worker thread running `worker-thread`. From the bundle, the `.mjs` beside it. From
 * source, a two-line boot script that registers tsx's loader inside the thread and then imports
 * the `.ts` entry (Node 20 does not carry the parent's loader hooks into worker threads).
 */
const spawnThread = (): WorkerThreads.Worker => {
  if (!import.meta.url.endsWith(".ts")) return new WorkerThreads.Worker(new URL("./worker-thread.mjs", import.meta.url))
  const tsxApi = createRequire(import.meta.url).resolve("tsx/package.json").replace(/package\.json$/, "dist/esm/api/index.mjs")
  const entry = new URL("./worker-thread.ts", import.meta.url).href
  const boot = `const { register } = await import(${JSON.stringify(pathToFileURL(tsxApi).href)}); register(); await import(${JSON.stringify(entry)})`
  return new WorkerThreads.Worker(boot, { eval: true })
}

/**
 * The thread executor. Needs the run's `Stats` (each chunk's counts are added when it ends).
 * Building the layer starts the threads; releasing it closes them (each is terminated if it
 * has not exited within 5 s). `execute` fails with the chunk's own typed error, or with
 * `WorkerFailedError` when the thread itself broke; interrupting it interrupts the chunk in
 * its thread, which kills the chunk's command.
 */
export const layer = (options: ThreadExecutorOptions): Layer.Layer<Executor, never, Stats> =>
  Layer.scoped(
    Executor,
    Effect.gen(function*() {
      const run = yield* Stats
      const size = Math.max(1, options.threads ?? Os.availableParallelism())
      // The process's part budget is shared out: each thread's store holds at most its share
      // (never less than one part, which a store needs to make progress).
      const partBudget = Math.max(
        S3Multipart.FIRST_PART_SIZE,
        Math.floor((options.settings.partBudget ?? S3Multipart.DEFAULT_PART_BUDGET) / size)
      )
      const pool = yield* Worker.makePoolSerialized<ThreadRequest>({
        size,
        // The coordinator bounds how many tasks run at once; a thread takes as many as it is given.
        concurrency: Number.MAX_SAFE_INTEGER,
        initialMessage: () =>
          new InitialMessage({ region: options.settings.region, partBudget, ...Option.match(options.settings.endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) }) })
      }).pipe(Effect.orDie)
      return Executor.of({
        execute: (task) =>
          pool.executeEffect(new RunChunk({ task })).pipe(
            Effect.catchTags({
              WorkerError: (error) => Effect.fail(new WorkerFailedError({ index: task.index, reason: `its worker thread failed: ${error.message}`, tail: "" })),
              ParseError: (error) => Effect.fail(new WorkerFailedError({ index: task.index, reason: `its worker thread answered garbage: ${error.message}`, tail: "" }))
            }),
            Effect.tap((result) =>
              Effect.all([
                increment(run.requests, result.requests),
                increment(run.retries, result.retries),
                increment(run.bytesDone, result.bytesIn),
                increment(run.chunksDone)
              ], { discard: true })
            )
          )
      })
    })
  ).pipe(Layer.provide(NodeWorker.layer(spawnThread)))
