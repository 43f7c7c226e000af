/**
 * Counters of one run (requests, retries, bytes fetched, chunk bytes delivered, chunks done),
 * shared by the readers, the workers and the progress line.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

export interface Snapshot {
  readonly requests: number
  readonly retries: number
  readonly bytesFetched: number
  readonly bytesDone: number
  readonly chunksDone: number
}

export class Stats extends Context.Tag("s3split/Stats")<Stats, {
  readonly requests: Ref.Ref<number>
  readonly retries: Ref.Ref<number>
  readonly bytesFetched: Ref.Ref<number>
  readonly bytesDone: Ref.Ref<number>
  readonly chunksDone: Ref.Ref<number>
}>() {
  /** Fresh counters, all zero. */
  static readonly layer = Layer.effect(
    Stats,
    Effect.all({
      requests: Ref.make(0),
      retries: Ref.make(0),
      bytesFetched: Ref.make(0),
      bytesDone: Ref.make(0),
      chunksDone: Ref.make(0)
    })
  )
}

export const snapshot: Effect.Effect<Snapshot, never, Stats> = Effect.flatMap(
  Stats,
  (stats) => Effect.all(stats)
)
