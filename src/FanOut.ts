/**
 * Bounded fan-out that ends only when every worker has ended. `Effect.forEach` with a bounded
 * concurrency (effect 3.22) returns on the first failure while the fibers it interrupted may
 * still be running their finalizers (a command being killed, an Invoke being awaited), so a
 * cleanup that follows it could run too early. Here `concurrency` fibers pull the items in
 * order; the first failure interrupts them all and is returned only after they have ended.
 */
import * as Effect from "effect/Effect"

/**
 * Runs `f` on every item, at most `concurrency` at once, starting them in order; results in
 * item order. Fails with the first failure: no item starts after it, and it is returned only
 * once every running `f` has ended (finalizers included).
 */
export const fanOut = <A, B, E, R>(
  items: ReadonlyArray<A>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  concurrency: number
): Effect.Effect<Array<B>, E, R> =>
  Effect.suspend(() => {
    const results = new Array<B>(items.length)
    let next = 0
    const worker: Effect.Effect<void, E, R> = Effect.suspend(() => {
      if (next >= items.length) return Effect.void
      const index = next++
      return f(items[index]!, index).pipe(
        Effect.flatMap((result) => {
          results[index] = result
          return worker
        })
      )
    })
    const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, () => worker)
    // With as many fibers as effects, `Effect.all` awaits the interrupted ones before failing.
    return Effect.as(Effect.all(workers, { concurrency: "unbounded", discard: true }), results)
  })
