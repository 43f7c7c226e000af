/**
 * The live progress line on stderr (bytes done of total, chunks done, throughput, retries),
 * shown only when stderr is a terminal and erased when the work ends.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { formatBytes } from "./Size.js"
import { snapshot, Stats } from "./Stats.js"

const write = (text: string) => Effect.sync(() => process.stderr.write(text))

/** Runs `effect` with a progress line on a terminal; leaves it untouched otherwise. */
export const withProgress = (totalBytes: number, totalChunks: number) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Stats> =>
  !process.stderr.isTTY ? effect : Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const render = Effect.gen(function*() {
      const now = yield* snapshot
      const seconds = Math.max(0.001, ((yield* Clock.currentTimeMillis) - started) / 1000)
      yield* write(
        `\r\x1b[2K${formatBytes(now.bytesDone)} of ${formatBytes(totalBytes)}, ` +
          `${now.chunksDone}/${totalChunks} chunks, ${formatBytes(now.bytesDone / seconds)}/s, ${now.retries} retries`
      )
    })
    return yield* effect.pipe(
      Effect.raceFirst(Effect.repeat(render, Schedule.spaced("250 millis")).pipe(Effect.zipRight(Effect.never))),
      Effect.ensuring(write("\r\x1b[2K"))
    )
  })
