/**
 * Timeouts on Node I/O without forking fibers: a promise bounded by a deadline, and a
 * `Readable` read pull by pull with a stall timer. `Effect.timeoutFail` races two forked
 * fibers per call, which for a GET per small object (a first-byte timeout and one per pull of
 * its body) cost more CPU than the request itself; here each is one `setTimeout`, armed only
 * while something is awaited and cleared as soon as it settles or the fiber is interrupted.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"

/** `setTimeout`, or no timer for a delay it cannot hold (over about 24.8 days, or infinite). */
const arm = (ms: number, fire: () => void): ReturnType<typeof setTimeout> | undefined =>
  Number.isFinite(ms) && ms < 2 ** 31 - 1 ? setTimeout(fire, Math.max(0, ms)) : undefined

/**
 * `run`'s promise, given an abort signal that fires when the fiber is interrupted or when
 * `ms` milliseconds pass before it settles. Fails with `onTimeout()` in the second case, with
 * `onError(error)` for any other rejection. Interruption does not wait for the promise.
 */
export const promiseWithin = <A, E>(
  run: (signal: AbortSignal) => Promise<A>,
  ms: number,
  onTimeout: () => E,
  onError: (error: unknown) => E
): Effect.Effect<A, E> =>
  Effect.async<A, E>((resume, interrupted) => {
    const controller = new AbortController()
    let timedOut = false
    const timer = arm(ms, () => {
      timedOut = true
      controller.abort()
    })
    const abort = () => {
      clearTimeout(timer)
      controller.abort()
    }
    interrupted.addEventListener("abort", abort, { once: true })
    const settle = (effect: Effect.Effect<A, E>) => {
      clearTimeout(timer)
      interrupted.removeEventListener("abort", abort)
      resume(effect)
    }
    let promise: Promise<A>
    try {
      promise = run(controller.signal)
    } catch (error) {
      promise = Promise.reject(error)
    }
    promise.then(
      (value) => settle(Effect.succeed(value)),
      (error) => settle(Effect.fail(timedOut ? onTimeout() : onError(error)))
    )
  })

/**
 * The bytes of `body`, read when pulled (its own buffering and back-pressure untouched): a
 * pull that finds bytes buffered takes them at once; one that has to wait fails with
 * `stalled()` when no byte and no end arrive within `stallMs` (the time the consumer takes
 * between pulls never counts). An error of the body, or its close before its end, fails with
 * `onError`. The body is not destroyed here: its owner does that.
 */
export const readableWithStall = <E>(
  body: Readable,
  stallMs: number,
  stalled: () => E,
  onError: (error: unknown) => E
): Stream.Stream<Uint8Array, E> =>
  Stream.repeatEffectChunkOption(Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<E>>((resume) => {
    const broken = () => body.errored ?? new Error("aborted")
    const take = (): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> | undefined => {
      if (body.readableEnded) return Effect.fail(Option.none())
      if (body.errored !== null || body.destroyed) return Effect.fail(Option.some(onError(broken())))
      const bytes = body.read() as Uint8Array | null
      return bytes === null ? undefined : Effect.succeed(Chunk.of(bytes))
    }
    const now = take()
    if (now !== undefined) return resume(now)
    const done = (effect: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>>) => {
      cleanup()
      resume(effect)
    }
    const onReadable = () => {
      const next = take()
      if (next !== undefined) done(next)
    }
    const onEnd = () => done(Effect.fail(Option.none()))
    const onFailure = (error: unknown) => done(Effect.fail(Option.some(onError(error))))
    // A close without an end (the connection dropped) that no error reported.
    const onClose = () => body.readableEnded ? onEnd() : onFailure(broken())
    const timer = arm(stallMs, () => done(Effect.fail(Option.some(stalled()))))
    const cleanup = () => {
      clearTimeout(timer)
      body.off("readable", onReadable).off("end", onEnd).off("error", onFailure).off("close", onClose)
    }
    body.on("readable", onReadable).on("end", onEnd).on("error", onFailure).on("close", onClose)
    return Effect.sync(cleanup)
  }))
