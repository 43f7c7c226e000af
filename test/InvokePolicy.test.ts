/**
 * The throttling budget of Lambda Invokes, on the test clock: throttled Invokes wait far longer
 * than a read would, honour Retry-After, give up once the budget has passed, and stop waiting
 * at once when interrupted.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { RetriesExhaustedError } from "../src/Errors.js"
import * as InvokePolicy from "../src/InvokePolicy.js"
import { Stats } from "../src/Stats.js"

/** An Invoke that is refused (after `retryAfter` of its n-th call) until call `passOn`, counting calls. */
const refused = (calls: Ref.Ref<number>, passOn: number, retryAfter: (n: number) => Duration.Duration = () => Duration.zero) =>
  Ref.updateAndGet(calls, (n) => n + 1).pipe(
    Effect.flatMap((n) =>
      n >= passOn
        ? Effect.succeed("answer")
        : Effect.fail(new InvokePolicy.InvokeThrottledError({ reason: `TooManyRequestsException: Rate Exceeded. (${n})`, retryAfter: retryAfter(n) }))
    )
  )

const retried = (calls: Ref.Ref<number>, passOn: number, retryAfter?: (n: number) => Duration.Duration) =>
  InvokePolicy.retryThrottled(InvokePolicy.defaults, "Lambda function worker", refused(calls, passOn, retryAfter))

describe("retryThrottled", () => {
  it.effect("keeps retrying long after the read budget (~11 s) would have given up, then gives up after 5 minutes", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const fiber = yield* Effect.fork(retried(calls, Number.POSITIVE_INFINITY).pipe(Effect.provide(Stats.layer)))
      yield* TestClock.adjust(Duration.seconds(60))
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      const afterAMinute = yield* Ref.get(calls)
      expect(afterAMinute).toBeGreaterThanOrEqual(6)
      yield* TestClock.adjust(Duration.minutes(3))
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(Duration.minutes(2))
      const exit = yield* Fiber.await(fiber)
      const total = yield* Ref.get(calls)
      expect(exit).toEqual(Exit.fail(new RetriesExhaustedError({
        uri: "Lambda function worker",
        attempts: total,
        lastCause: `TooManyRequestsException: Rate Exceeded. (${total})`
      })))
      // 1, 2, 4, 8, 16 s, then at most 30 s (+20% jitter) per wait, within 5 minutes.
      expect(total).toBeGreaterThanOrEqual(12)
      expect(total).toBeLessThanOrEqual(20)
      yield* TestClock.adjust(Duration.minutes(10))
      expect(yield* Ref.get(calls)).toBe(total)
    }))

  it.effect("honours Retry-After even above the per-wait cap, and counts each retry", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const stats = yield* Stats.make
      const fiber = yield* Effect.fork(
        retried(calls, 2, () => Duration.seconds(45)).pipe(Effect.provideService(Stats, stats))
      )
      yield* TestClock.adjust(Duration.seconds(44))
      expect(yield* Ref.get(calls)).toBe(1)
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* Fiber.join(fiber)).toBe("answer")
      expect(yield* Ref.get(calls)).toBe(2)
      expect(yield* Ref.get(stats.retries)).toBe(1)
    }))

  it.effect("an interruption during a wait ends it at once: no further Invoke", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const fiber = yield* Effect.fork(retried(calls, Number.POSITIVE_INFINITY).pipe(Effect.provide(Stats.layer)))
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Ref.get(calls)).toBe(1)
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust(Duration.minutes(10))
      expect(yield* Ref.get(calls)).toBe(1)
    }))

  it.effect("other errors pass through at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        InvokePolicy.retryThrottled(InvokePolicy.defaults, "Lambda function worker", Effect.fail("not a throttle" as const)).pipe(
          Effect.provide(Stats.layer)
        )
      )
      expect(error).toBe("not a throttle")
    }))
})
