/**
 * Counters of a unit of work (requests, retries, bytes fetched, chunk bytes delivered, chunks
 * done). Readers count into the `Stats` of their caller: a run has one, each chunk its own,
 * which the chunk adds to the run's when it ends.
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
  /** Whole objects gunzipped because their GET answered `Content-Encoding: gzip` (not known at planning). */
  readonly gunzipped: number
}

type Counters = { readonly [K in keyof Snapshot]: Ref.Ref<number> }

export class Stats extends Context.Tag("s3split/Stats")<Stats, Counters>() {
  /** Fresh counters, all zero. */
  static readonly make: Effect.Effect<Counters> = Effect.all({
    requests: Ref.make(0),
    retries: Ref.make(0),
    bytesFetched: Ref.make(0),
    bytesDone: Ref.make(0),
    chunksDone: Ref.make(0),
    gunzipped: Ref.make(0)
  })
  static readonly layer = Layer.effect(Stats, Stats.make)
}

/** The current values of `counters`. */
export const read = (counters: Counters): Effect.Effect<Snapshot> => Effect.all(counters)

/** The current values of the `Stats` in context. */
export const snapshot: Effect.Effect<Snapshot, never, Stats> = Effect.flatMap(Stats, read)

/** Adds one to a counter. */
export const increment = (counter: Ref.Ref<number>, by = 1) => Ref.update(counter, (n) => n + by)
