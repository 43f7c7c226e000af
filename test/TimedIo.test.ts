/**
 * The fork-free timeouts: a body read pull by pull is exact, stalls only while a pull waits
 * (never while bytes sit buffered for a slow consumer), and reports errors and early closes;
 * a promise past its deadline is aborted and fails with the timeout. Timers of a few
 * milliseconds against waits that cannot end otherwise: no assertion depends on how long
 * anything took.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { PassThrough } from "node:stream"
import { promiseWithin, readableWithStall } from "../src/TimedIo.js"

const read = (body: PassThrough, stallMs: number) =>
  readableWithStall(body, stallMs, () => "stalled", (error) => `error: ${error instanceof Error ? error.message : String(error)}`)

const collect = (stream: Stream.Stream<Uint8Array, string>) =>
  Effect.map(Stream.runCollect(stream), (pieces) => Buffer.concat(Chunk.toArray(pieces)).toString())

describe("TimedIo.readableWithStall", () => {
  it.live("delivers every byte, written before and after the first pull, then ends", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      body.write("first\n")
      const fiber = yield* Effect.fork(collect(read(body, 60_000)))
      yield* Effect.sleep(5)
      body.write("second\n")
      body.end("third\n")
      expect(yield* Fiber.join(fiber)).toBe("first\nsecond\nthird\n")
    }))

  it.live("a pull that waits with no byte arriving fails with the stall", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      body.write("some\n")
      const result = yield* Effect.either(collect(read(body, 20)))
      expect(result).toEqual(Either.left("stalled"))
    }))

  it.live("a consumer slower than the stall timeout is no stall: no timer runs between pulls", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      body.write("a\n")
      // The rest arrives while the consumer is still busy with its first piece, 3 stall periods long.
      yield* Effect.fork(Effect.sleep(2).pipe(Effect.zipRight(Effect.sync(() => body.end("b\n")))))
      const slow = read(body, 10).pipe(Stream.tap(() => Effect.sleep(30)))
      expect(yield* collect(slow)).toBe("a\nb\n")
    }))

  it.live("an error of the body, or its close before its end, fails with onError", () =>
    Effect.gen(function*() {
      const failing = new PassThrough()
      failing.write("x")
      const fiber = yield* Effect.fork(Effect.either(collect(read(failing, 60_000))))
      yield* Effect.sleep(5)
      failing.destroy(new Error("connection reset"))
      expect(yield* Fiber.join(fiber)).toEqual(Either.left("error: connection reset"))
      const closed = new PassThrough()
      const early = yield* Effect.fork(Effect.either(collect(read(closed, 60_000))))
      yield* Effect.sleep(5)
      closed.destroy()
      expect(yield* Fiber.join(early)).toEqual(Either.left("error: aborted"))
    }))
})

describe("TimedIo.promiseWithin", () => {
  it.live("a promise past its deadline is aborted and fails with the timeout; one in time succeeds", () =>
    Effect.gen(function*() {
      let aborted = false
      const never = (signal: AbortSignal) =>
        new Promise<string>((_, reject) => signal.addEventListener("abort", () => {
          aborted = true
          reject(new Error("aborted by signal"))
        }))
      const late = yield* Effect.either(promiseWithin(never, 10, () => "timeout", () => "other"))
      expect(late).toEqual(Either.left("timeout"))
      expect(aborted).toBe(true)
      const soon = yield* promiseWithin(() => Promise.resolve("ok"), 60_000, () => "timeout", () => "other")
      expect(soon).toBe("ok")
      const rejected = yield* Effect.either(promiseWithin(() => Promise.reject(new Error("no")), 60_000, () => "timeout", (e) => String(e)))
      expect(rejected).toEqual(Either.left("Error: no"))
    }))

  it.live("interrupting the fiber aborts the request", () =>
    Effect.gen(function*() {
      let aborted = false
      const fiber = yield* Effect.fork(promiseWithin(
        (signal) => new Promise<string>(() => signal.addEventListener("abort", () => (aborted = true))),
        60_000,
        () => "timeout",
        () => "other"
      ))
      yield* Effect.sleep(5)
      yield* Fiber.interrupt(fiber)
      expect(aborted).toBe(true)
    }))
})
