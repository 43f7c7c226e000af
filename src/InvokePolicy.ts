/**
 * How the coordinator waits on Lambda: the timeouts of one synchronous Invoke, and the budget
 * of its own that throttled Invokes (429, honouring Retry-After) and Lambda's 5xx wait with.
 * A throttle is not a fault of the data path: new accounts run 10 functions at once, below the
 * default concurrency of 16, so a run may wait on Lambda for minutes where a read would give
 * up after seconds. Network faults (a reset or refused connection) keep the read retry budget
 * of `Retry`.
 */
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { RetriesExhaustedError } from "./Errors.js"
import { increment, Stats } from "./Stats.js"

export interface InvokePolicy {
  /** How long the TCP/TLS connect to the Lambda endpoint may take (the SDK's own timeout). */
  readonly connectTimeout: Duration.Duration
  /** How long one Invoke may wait for its response, the function's whole run included. */
  readonly responseTimeout: Duration.Duration
  /** The wait before the first retry of a throttled Invoke; each further one doubles it. */
  readonly throttleBaseDelay: Duration.Duration
  /** No wait exceeds this (after jitter of ±20%), unless Retry-After asks for longer. */
  readonly throttleMaxDelay: Duration.Duration
  /** No retry starts once this long has passed since the first throttle of the Invoke. */
  readonly throttleBudget: Duration.Duration
}

/** Lambda runs a function for at most 15 minutes; a response is due a minute after that. */
export const defaults: InvokePolicy = {
  connectTimeout: Duration.seconds(5),
  responseTimeout: Duration.minutes(16),
  throttleBaseDelay: Duration.seconds(1),
  throttleMaxDelay: Duration.seconds(30),
  throttleBudget: Duration.minutes(5)
}

/**
 * Reads `S3SPLIT_LAMBDA_CONNECT_TIMEOUT`, `S3SPLIT_INVOKE_TIMEOUT`,
 * `S3SPLIT_INVOKE_RETRY_BASE_DELAY`, `S3SPLIT_INVOKE_RETRY_MAX_DELAY` and
 * `S3SPLIT_INVOKE_RETRY_BUDGET` (durations such as `5 seconds`), each defaulting to `defaults`.
 */
export const config: Config.Config<InvokePolicy> = Config.all({
  connectTimeout: Config.duration("S3SPLIT_LAMBDA_CONNECT_TIMEOUT").pipe(
    Config.withDefault(defaults.connectTimeout),
    Config.withDescription("connect timeout of Lambda requests")
  ),
  responseTimeout: Config.duration("S3SPLIT_INVOKE_TIMEOUT").pipe(
    Config.withDefault(defaults.responseTimeout),
    Config.withDescription("how long one Invoke may wait for the function's answer")
  ),
  throttleBaseDelay: Config.duration("S3SPLIT_INVOKE_RETRY_BASE_DELAY").pipe(Config.withDefault(defaults.throttleBaseDelay)),
  throttleMaxDelay: Config.duration("S3SPLIT_INVOKE_RETRY_MAX_DELAY").pipe(Config.withDefault(defaults.throttleMaxDelay)),
  throttleBudget: Config.duration("S3SPLIT_INVOKE_RETRY_BUDGET").pipe(
    Config.withDefault(defaults.throttleBudget),
    Config.withDescription("how long throttled or 5xx Invokes are retried")
  )
})

/** Lambda refused the Invoke for now (429 or 5xx): wait at least `retryAfter`, then retry. Local only. */
export class InvokeThrottledError extends Data.TaggedError("InvokeThrottledError")<{
  readonly reason: string
  readonly retryAfter: Duration.Duration
}> {}

const isThrottled = (error: unknown): error is InvokeThrottledError => error instanceof InvokeThrottledError

/** 1x, 2x, 4x ... the base delay, jittered, capped, never shorter than Retry-After, within the budget. */
const throttleSchedule = (policy: InvokePolicy) =>
  Schedule.identity<unknown>().pipe(
    Schedule.intersect(Schedule.exponential(policy.throttleBaseDelay, 2)),
    Schedule.jittered,
    Schedule.modifyDelay(([error], delay) =>
      Duration.max(
        Duration.min(delay, policy.throttleMaxDelay),
        isThrottled(error) ? error.retryAfter : Duration.zero
      )
    ),
    Schedule.whileInput(isThrottled),
    Schedule.upTo(policy.throttleBudget)
  )

/**
 * Runs `invoke` again while it fails with `InvokeThrottledError`, waiting as `policy` says;
 * once the budget has passed, fails with `RetriesExhaustedError` naming `target`, the number of
 * Invokes made and the last refusal. Each retry counts in `Stats.retries`. Interruption during
 * a wait ends it at once: no further Invoke starts. Every other error passes through at once.
 */
export const retryThrottled = <A, E, R>(
  policy: InvokePolicy,
  target: string,
  invoke: Effect.Effect<A, E | InvokeThrottledError, R>
): Effect.Effect<A, Exclude<E, InvokeThrottledError> | RetriesExhaustedError, R | Stats> =>
  Effect.gen(function*() {
    const stats = yield* Stats
    const attempts = yield* Ref.make(0)
    return yield* Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
      Effect.tap((previous) => previous > 0 ? increment(stats.retries) : Effect.void),
      Effect.zipRight(invoke),
      Effect.retry(throttleSchedule(policy)),
      Effect.catchAll((error): Effect.Effect<never, Exclude<E, InvokeThrottledError> | RetriesExhaustedError> =>
        isThrottled(error)
          ? Effect.flatMap(attempts, (n) =>
            Effect.fail(new RetriesExhaustedError({ uri: target, attempts: n, lastCause: error.reason })))
          : Effect.fail(error as Exclude<E, InvokeThrottledError>)
      )
    )
  })
