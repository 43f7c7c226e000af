/**
 * The one owner of retries: capped exponential backoff with jitter on transient faults
 * (throttling, 5xx, broken connections, bodies that end early). Applies to single requests
 * (`retrying`) and to ranged reads, which resume from the next unread byte (`readRange`).
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { ByteRange } from "./ByteRange.js"
import { RetriesExhaustedError, TransientStoreError } from "./Errors.js"
import type { ObjectStoreError } from "./Errors.js"
import type { ObjectUri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"
import { ObjectStore } from "./ObjectStore.js"
import type { GetOptions, ObjectVersion } from "./ObjectStore.js"
import { Stats } from "./Stats.js"

export interface RetrySettings {
  /** Requests in all, the first included, before giving up on a request that makes no progress. */
  readonly maxAttempts: number
  /** The delay before the first retry; each further one doubles it. */
  readonly baseDelay: Duration.Duration
  /** No delay exceeds this (before jitter of ±20%). */
  readonly maxDelay: Duration.Duration
}

export class RetryPolicy extends Context.Reference<RetryPolicy>()("s3split/RetryPolicy", {
  defaultValue: (): RetrySettings => ({
    maxAttempts: 8,
    baseDelay: Duration.millis(100),
    maxDelay: Duration.seconds(5)
  })
}) {
  /** Reads `S3SPLIT_RETRY_ATTEMPTS`, `S3SPLIT_RETRY_BASE_DELAY` and `S3SPLIT_RETRY_MAX_DELAY`. */
  static readonly layerConfig = Layer.effect(
    RetryPolicy,
    Config.all({
      maxAttempts: Config.integer("S3SPLIT_RETRY_ATTEMPTS").pipe(
        Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
        Config.withDefault(8),
        Config.withDescription("requests per read before giving up")
      ),
      baseDelay: Config.duration("S3SPLIT_RETRY_BASE_DELAY").pipe(Config.withDefault(Duration.millis(100))),
      maxDelay: Config.duration("S3SPLIT_RETRY_MAX_DELAY").pipe(Config.withDefault(Duration.seconds(5)))
    })
  )
}

const isTransient = (error: unknown): error is TransientStoreError => error instanceof TransientStoreError

/** The delays between attempts: 1x, 2x, 4x ... the base delay, capped, jittered, bounded in count. */
const backoff = (settings: RetrySettings) =>
  Schedule.exponential(settings.baseDelay, 2).pipe(
    Schedule.modifyDelay((delay) => Duration.min(delay, settings.maxDelay)),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(settings.maxAttempts - 1)),
    Schedule.whileInput(isTransient)
  )

const exhausted = (target: string, attempts: Ref.Ref<number>) => (error: TransientStoreError) =>
  Effect.flatMap(attempts, (n) =>
    Effect.fail(new RetriesExhaustedError({ uri: target, attempts: n, lastCause: error.message })))

/**
 * Runs one request with retries: transient failures are retried with backoff, up to
 * `maxAttempts` requests; after that the request fails with `RetriesExhaustedError` naming
 * `target` (a URI, or what else was asked). Every other error passes through at once.
 */
export const retrying = <A, E, R>(
  target: string,
  request: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, TransientStoreError> | RetriesExhaustedError, R | Stats> =>
  Effect.gen(function*() {
    const settings = yield* RetryPolicy
    const stats = yield* Stats
    const attempts = yield* Ref.make(0)
    return yield* Effect.suspend(() =>
      Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
        Effect.tap((previous) => previous > 0 ? Ref.update(stats.retries, (n) => n + 1) : Effect.void),
        Effect.zipRight(Ref.update(stats.requests, (n) => n + 1)),
        Effect.zipRight(request)
      )
    ).pipe(
      Effect.retry(backoff(settings)),
      Effect.catchAll((error): Effect.Effect<never, Exclude<E, TransientStoreError> | RetriesExhaustedError> =>
        isTransient(error) ? exhausted(target, attempts)(error) : Effect.fail(error as Exclude<E, TransientStoreError>))
    )
  })

/**
 * Retries for the requests a store makes on its own inside one call (the parts of a put, the
 * pages of a list, the aborts of a cleanup), so that a transient fault repeats that request
 * only, never the caller's work. The same policy as `retrying`, read from the caller's
 * context, with `maxAttempts` optionally lowered; retries count into the caller's `Stats` when
 * it has one. Fails with `RetriesExhaustedError` naming `target` once the attempts are spent.
 */
export const retryingInStore = <A, E, R>(
  target: string,
  request: Effect.Effect<A, E, R>,
  options: { readonly maxAttempts?: number } = {}
): Effect.Effect<A, Exclude<E, TransientStoreError> | RetriesExhaustedError, R> =>
  Effect.gen(function*() {
    const policy = yield* RetryPolicy
    const settings = { ...policy, maxAttempts: Math.min(policy.maxAttempts, options.maxAttempts ?? policy.maxAttempts) }
    const stats = yield* Effect.serviceOption(Stats)
    const attempts = yield* Ref.make(0)
    return yield* Effect.suspend(() =>
      Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
        Effect.tap((previous) =>
          previous > 0 && stats._tag === "Some" ? Ref.update(stats.value.retries, (n) => n + 1) : Effect.void
        ),
        Effect.zipRight(request)
      )
    ).pipe(
      Effect.retry(backoff(settings)),
      Effect.catchAll((error): Effect.Effect<never, Exclude<E, TransientStoreError> | RetriesExhaustedError> =>
        isTransient(error) ? exhausted(target, attempts)(error) : Effect.fail(error as Exclude<E, TransientStoreError>))
    )
  })

/**
 * The bytes of the half-open `range` of the object, pinned to `version`, as one buffer: for a
 * range small enough to hold in memory (a small object fetched ahead). One GET into one buffer
 * in the common case, without the stages of `readRange`; when that GET fails transiently or its
 * body ends early, the bytes not yet read are read by `readRange` (resumed from the next
 * unread byte, retried and counted as it does), so no byte is lost or repeated. Fails like
 * `readRange`. An empty range makes no request. `options.onAnswer` is passed to every `get`.
 */
export const readSmall = (
  uri: ObjectUri,
  version: ObjectVersion,
  range: ByteRange,
  options: GetOptions = {}
): Effect.Effect<Uint8Array, ObjectStoreError | RetriesExhaustedError, ObjectStore | Stats> =>
  range.start >= range.end ? Effect.succeed(new Uint8Array(0)) : Effect.gen(function*() {
    const store = yield* ObjectStore
    const stats = yield* Stats
    const pieces: Array<Uint8Array> = []
    let next = range.start
    yield* Ref.update(stats.requests, (n) => n + 1)
    const first = yield* Stream.runForEach(store.get(uri, version, range, options), (bytes) =>
      Effect.sync(() => {
        pieces.push(bytes)
        next += bytes.length
      })).pipe(Effect.either)
    if (first._tag === "Left" && !isTransient(first.left)) return yield* Effect.fail(first.left)
    yield* Ref.update(stats.bytesFetched, (n) => n + next - range.start)
    if (next < range.end) {
      const policy = yield* RetryPolicy
      if (policy.maxAttempts <= 1) {
        const reason = first._tag === "Left" ? first.left.message : `body ended at byte ${next} of ${range.start}-${range.end}`
        return yield* new RetriesExhaustedError({ uri: format(uri), attempts: 1, lastCause: reason })
      }
      // The first GET was cut short: the rest is a resumed read, the GET its first attempt.
      yield* Stream.runForEach(resumedRange(uri, version, { start: next, end: range.end }, options, 1), (bytes) =>
        Effect.sync(() => {
          pieces.push(bytes)
        }))
    }
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)
  })

/**
 * The bytes of the half-open `range` of the object, pinned to `version`, with retries. A body
 * that breaks or ends early is resumed with a new ranged request from the next unread byte,
 * so no byte is lost or repeated; the attempt count restarts whenever bytes arrive. An empty
 * range makes no request at all. `options.onAnswer` is passed to every request's `get`
 * (the answers of one pinned version carry the same Content-Encoding).
 */
export const readRange = (
  uri: ObjectUri,
  version: ObjectVersion,
  range: ByteRange,
  options: GetOptions = {}
): Stream.Stream<Uint8Array, ObjectStoreError | RetriesExhaustedError, ObjectStore | Stats> =>
  resumedRange(uri, version, range, options, 0)

/** `readRange` after `attemptsMade` attempts of the caller's own (they count against the policy). */
const resumedRange = (
  uri: ObjectUri,
  version: ObjectVersion,
  range: ByteRange,
  options: GetOptions,
  attemptsMade: number
): Stream.Stream<Uint8Array, ObjectStoreError | RetriesExhaustedError, ObjectStore | Stats> =>
  range.start >= range.end ? Stream.empty : Stream.unwrap(Effect.gen(function*() {
    const store = yield* ObjectStore
    const settings = yield* RetryPolicy
    const stats = yield* Stats
    const next = yield* Ref.make(range.start)
    const attempts = yield* Ref.make(attemptsMade)
    const endedEarly = Stream.suspend(() =>
      Stream.unwrap(Effect.map(next, (offset) =>
        offset < range.end
          ? Stream.fail(
            new TransientStoreError({ uri: format(uri), reason: `body ended at byte ${offset} of ${range.start}-${range.end}` })
          )
          : Stream.empty))
    )
    const attempt = Stream.unwrap(Effect.gen(function*() {
      const previous = yield* Ref.getAndUpdate(attempts, (n) => n + 1)
      if (previous > 0) yield* Ref.update(stats.retries, (n) => n + 1)
      yield* Ref.update(stats.requests, (n) => n + 1)
      const from = yield* next
      return store.get(uri, version, { start: from, end: range.end }, options).pipe(
        Stream.tap((bytes) =>
          Effect.all([
            Ref.update(next, (n) => n + bytes.length),
            Ref.update(stats.bytesFetched, (n) => n + bytes.length),
            Ref.set(attempts, 1)
          ])
        ),
        Stream.concat(endedEarly)
      )
    }))
    return attempt.pipe(
      // The caller's own attempts count against the policy (the schedule's first run included).
      Stream.retry(backoff({ ...settings, maxAttempts: Math.max(1, settings.maxAttempts - attemptsMade) })),
      Stream.catchTag("TransientStoreError", (error) => Stream.fromEffect(exhausted(format(uri), attempts)(error)))
    )
  }))
