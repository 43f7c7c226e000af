/**
 * The bounded fan-out: results in order, at most `concurrency` at once, and a failure that is
 * returned only after every interrupted worker has finished its finalizers.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { fanOut } from "../src/FanOut.js"

describe("fanOut", () => {
  it.effect("returns every result in item order, never running more than `concurrency` at once", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const results = yield* fanOut(Array.from({ length: 20 }, (_, i) => i), (item) =>
        Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(running, (n) => n + 1)
          yield* Ref.update(peak, (p) => Math.max(p, now))
          yield* Effect.yieldNow()
          yield* Ref.update(running, (n) => n - 1)
          return item * 10
        }), 3)
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 10))
      expect(yield* Ref.get(peak)).toBe(3)
    }))

  it.effect("fails with the first failure only after the interrupted workers' finalizers ran, and starts nothing after it", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (line: string) => Ref.update(log, (lines) => [...lines, line])
      const firstStarted = yield* Deferred.make<void>()
      const task = (item: number) =>
        Effect.gen(function*() {
          yield* note(`start ${item}`)
          if (item === 0) {
            yield* Deferred.succeed(firstStarted, undefined)
            // A slow finalizer, as a command being killed and reaped would have.
            return yield* Effect.never.pipe(
              Effect.onInterrupt(() => Effect.repeatN(Effect.yieldNow(), 50).pipe(Effect.zipRight(note("finalized 0"))))
            )
          }
          yield* Deferred.await(firstStarted)
          return yield* Effect.fail(`failed ${item}`)
        })
      const exit = yield* Effect.exit(fanOut([0, 1, 2, 3], task, 2))
      yield* note("returned")
      expect(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()).toEqual(Option.some("failed 1"))
      expect(yield* Ref.get(log)).toEqual(["start 0", "start 1", "finalized 0", "returned"])
    }))
})
