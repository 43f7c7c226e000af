/**
 * The multipart upload's part sizes and sequencing, over fake requests: sizes reach S3's 5 TiB
 * limit within 10,000 parts, a body of one part is one put, bytes are cut exactly, at most two
 * parts are held at once, and every failure or interruption aborts a started upload. Many
 * uploads sharing a part budget never hold more than it, counted from the bytes they pulled
 * and the parts acknowledged, step by step as the test lets one request finish at a time, and
 * fill their full parts in no more buffers than the budget holds.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as S3Multipart from "../src/S3Multipart.js"

const MiB = 1024 * 1024

/** A budget no single upload of these tests reaches. */
const roomy = S3Multipart.makeBudget(1024 * MiB)

/** Lets every fiber that can run do so (a fixed number of yields: no clock involved). */
const settle = Effect.yieldNow().pipe(Effect.repeatN(500))

/** The sum of parts 1..count for `hint`. */
const capacity = (count: number, hint?: number) => {
  let total = 0
  for (let n = 1; n <= count; n++) total += S3Multipart.partSize(n, hint)
  return total
}

interface Log {
  readonly events: Array<string>
  readonly parts: Array<Uint8Array>
  put?: Uint8Array
}

/** Fake requests that log what they are asked; `failPart` makes that part fail. */
const fake = (log: Log, options: { failPart?: number; holdPart?: Deferred.Deferred<void> } = {}): S3Multipart.MultipartRequests<string> => ({
  putObject: (bytes) => Effect.sync(() => {
    log.events.push(`put ${bytes.length}`)
    log.put = bytes.slice()
  }),
  create: Effect.sync(() => {
    log.events.push("create")
    return "upload-1"
  }),
  uploadPart: (_, n, bytes) =>
    Effect.gen(function*() {
      log.events.push(`part ${n} ${bytes.length}`)
      if (options.holdPart !== undefined) yield* Deferred.await(options.holdPart)
      if (n === options.failPart) return yield* Effect.fail(`part ${n} failed`)
      log.parts[n - 1] = bytes.slice()
      return `"etag-${n}"`
    }),
  complete: (_, parts) => Effect.sync(() => void log.events.push(`complete ${parts.map((p) => p.PartNumber).join(",")}`)),
  abort: (id) => Effect.sync(() => void log.events.push(`abort ${id}`)),
  tooLarge: (bytes) => `too large: ${bytes}`
})

/** Bytes whose period (251, a prime) never lines up with a part boundary. */
const pattern = (size: number): Uint8Array => Buffer.alloc(size, Buffer.from(Array.from({ length: 251 }, (_, i) => (i * 31 + 7) & 0xff)))

/** `bytes` in pieces of `piece` bytes. */
const pieces = (bytes: Uint8Array, piece: number) =>
  Stream.fromIterable(Array.from({ length: Math.ceil(bytes.length / piece) }, (_, i) => bytes.subarray(i * piece, (i + 1) * piece)))

describe("part sizes", () => {
  it("start at 8 MiB, double every 1000 parts, and hold S3's 5 TiB in 10,000 parts", () => {
    expect(S3Multipart.partSize(1)).toBe(8 * MiB)
    expect(S3Multipart.partSize(1000)).toBe(8 * MiB)
    expect(S3Multipart.partSize(1001)).toBe(16 * MiB)
    expect(S3Multipart.partSize(10_000)).toBe(4096 * MiB)
    expect(capacity(10_000)).toBeGreaterThanOrEqual(S3Multipart.MAX_OBJECT_SIZE)
  })

  it("with a size hint, 9000 parts hold the hinted size; every part is a whole MiB between 5 MiB and 5 GiB", () => {
    for (const hint of [0, 1, 100 * MiB, 78 * 1024 * MiB, 1024 * 1024 * MiB, S3Multipart.MAX_OBJECT_SIZE]) {
      expect(capacity(9000, hint)).toBeGreaterThanOrEqual(hint)
      expect(capacity(10_000, hint)).toBeGreaterThanOrEqual(S3Multipart.MAX_OBJECT_SIZE)
      for (const n of [1, 999, 1000, 1001, 5000, 9000, 10_000]) {
        const size = S3Multipart.partSize(n, hint)
        expect(size % MiB).toBe(0)
        expect(size).toBeGreaterThanOrEqual(S3Multipart.MIN_PART_SIZE)
        expect(size).toBeLessThanOrEqual(S3Multipart.MAX_PART_SIZE)
      }
    }
  })
})

describe("upload", () => {
  it.effect("an empty body and a body of exactly one part are one put each", () =>
    Effect.gen(function*() {
      const empty: Log = { events: [], parts: [] }
      yield* S3Multipart.upload(fake(empty), Stream.empty, yield* roomy)
      expect(empty.events).toEqual(["put 0"])
      const one: Log = { events: [], parts: [] }
      const bytes = pattern(8 * MiB)
      yield* S3Multipart.upload(fake(one), pieces(bytes, 100_003), yield* roomy)
      expect(one.events).toEqual([`put ${8 * MiB}`])
      expect(Buffer.from(one.put!).equals(Buffer.from(bytes))).toBe(true)
    }))

  it.effect("a longer body is cut into 8 MiB parts in order, byte for byte, then completed", () =>
    Effect.gen(function*() {
      const log: Log = { events: [], parts: [] }
      const bytes = pattern(2 * 8 * MiB + 1)
      yield* S3Multipart.upload(fake(log), pieces(bytes, 777_777), yield* roomy)
      expect(log.events).toEqual(["create", `part 1 ${8 * MiB}`, `part 2 ${8 * MiB}`, "part 3 1", "complete 1,2,3"])
      expect(Buffer.concat(log.parts).equals(Buffer.from(bytes))).toBe(true)
    }))

  it.effect("a failing part fails the upload and aborts it; nothing is completed", () =>
    Effect.gen(function*() {
      const log: Log = { events: [], parts: [] }
      const error = yield* Effect.flip(S3Multipart.upload(fake(log, { failPart: 2 }), pieces(pattern(3 * 8 * MiB + 5), MiB), yield* roomy))
      expect(error).toBe("part 2 failed")
      expect(log.events.at(-1)).toBe("abort upload-1")
      expect(log.events.some((event) => event.startsWith("complete"))).toBe(false)
    }))

  it.effect("a failing body aborts the upload and fails with the body's error", () =>
    Effect.gen(function*() {
      const log: Log = { events: [], parts: [] }
      const body = Stream.concat(pieces(pattern(9 * MiB), MiB), Stream.fail("body broke"))
      const error = yield* Effect.flip(S3Multipart.upload(fake(log), body, yield* roomy))
      expect(error).toBe("body broke")
      expect(log.events).toEqual(["create", `part 1 ${8 * MiB}`, "abort upload-1"])
    }))

  it.effect("at most two parts are held: pulling waits while a part uploads and the next is full", () =>
    Effect.gen(function*() {
      const log: Log = { events: [], parts: [] }
      const hold = yield* Deferred.make<void>()
      let pulled = 0
      const body = Stream.tap(pieces(pattern(5 * 8 * MiB), MiB), (piece) => Effect.sync(() => void (pulled += piece.length)))
      const fiber = yield* Effect.fork(S3Multipart.upload(fake(log, { holdPart: hold }), body, yield* roomy))
      yield* Effect.yieldNow().pipe(Effect.repeatN(200))
      // Part 1 is uploading (held), part 2 is full, and one more piece has been pulled to learn
      // that part 2 is not the last: nothing more until part 1 is done.
      expect(log.events).toEqual(["create", `part 1 ${8 * MiB}`])
      expect(pulled).toBe(2 * 8 * MiB + MiB)
      yield* Fiber.interrupt(fiber)
      expect(log.events.at(-1)).toBe("abort upload-1")
    }))
})

describe("a part budget shared by many uploads", () => {
  const UPLOADS = 16
  const PIECE = 64 * 1024
  const BUDGET = 4 * 8 * MiB

  /** Requests that hold every part and put until the test lets it finish, and count what is acknowledged. */
  const held = (index: number, state: { waiting: Array<Deferred.Deferred<void>>; acked: Array<number>; parts: Array<Array<Uint8Array>>; buffers?: Set<ArrayBufferLike> }): S3Multipart.MultipartRequests<string> => {
    const wait = (bytes: Uint8Array, done: () => void) =>
      Effect.gen(function*() {
        if (bytes.length === 8 * MiB) state.buffers?.add(bytes.buffer)
        const gate = yield* Deferred.make<void>()
        state.waiting.push(gate)
        yield* Deferred.await(gate)
        state.acked[index]! += bytes.length
        done()
      })
    return {
      putObject: (bytes) => wait(bytes, () => void (state.parts[index] = [bytes.slice()])),
      create: Effect.succeed(`upload-${index}`),
      uploadPart: (_, n, bytes) => Effect.as(wait(bytes, () => void (state.parts[index]![n - 1] = bytes.slice())), `"etag-${n}"`),
      complete: () => Effect.void,
      abort: () => Effect.void,
      tooLarge: (bytes) => `too large: ${bytes}`
    }
  }

  it.effect("16 uploads of 3 parts each never hold more than the budget, and all complete byte for byte", () =>
    Effect.gen(function*() {
      const budget = yield* S3Multipart.makeBudget(BUDGET)
      const state = {
        waiting: [] as Array<Deferred.Deferred<void>>,
        acked: Array<number>(UPLOADS).fill(0),
        parts: Array.from({ length: UPLOADS }, () => [] as Array<Uint8Array>),
        buffers: new Set<ArrayBufferLike>()
      }
      const pulled = Array<number>(UPLOADS).fill(0)
      // Sizes differ so that uploads end at different times: 2 full parts and a short third.
      const bodies = Array.from({ length: UPLOADS }, (_, i) => pattern(2 * 8 * MiB + 1 + i * 4099))
      const fibers = yield* Effect.forEach(bodies, (bytes, i) =>
        Effect.fork(S3Multipart.upload(
          held(i, state),
          Stream.tap(pieces(bytes, PIECE), (piece) => Effect.sync(() => void (pulled[i]! += piece.length))),
          budget
        )))
      // Bytes held by the uploads: pulled and not yet acknowledged. Each upload may also hold
      // one piece it pulled while its next part waits for the budget.
      const holding = () => pulled.reduce((sum, bytes, i) => sum + bytes - state.acked[i]!, 0)
      let most = 0
      let steps = 0
      yield* settle
      while (state.waiting.length > 0) {
        most = Math.max(most, holding())
        expect(yield* budget.inUse).toBeLessThanOrEqual(BUDGET)
        expect(holding()).toBeLessThanOrEqual(BUDGET + UPLOADS * PIECE)
        // Before any part is acknowledged, only the uploads that got budget have pulled at all.
        if (steps === 0) expect(pulled.filter((bytes) => bytes > 0).length).toBe(BUDGET / (8 * MiB))
        yield* Deferred.succeed(state.waiting.shift()!, undefined)
        yield* settle
        steps += 1
      }
      yield* Effect.forEach(fibers, Fiber.join)
      // The budget was used, not merely respected: four parts were held at once.
      expect(most).toBeGreaterThanOrEqual(BUDGET - 4 * PIECE)
      expect(steps).toBe(3 * UPLOADS)
      expect(yield* budget.inUse).toBe(0)
      bodies.forEach((bytes, i) => expect(Buffer.concat(state.parts[i]!).equals(Buffer.from(bytes))).toBe(true))
      // The 32 full parts were filled in no more buffers than the budget holds at once: reused.
      expect(state.buffers.size).toBeLessThanOrEqual(BUDGET / (8 * MiB))
    }))

  it.effect("interrupting uploads, running or waiting for the budget, gives every byte back", () =>
    Effect.gen(function*() {
      const budget = yield* S3Multipart.makeBudget(BUDGET)
      const state = { waiting: [] as Array<Deferred.Deferred<void>>, acked: Array<number>(UPLOADS).fill(0), parts: Array.from({ length: UPLOADS }, () => [] as Array<Uint8Array>) }
      const fibers = yield* Effect.forEach(Array.from({ length: UPLOADS }, (_, i) => i), (i) =>
        Effect.fork(S3Multipart.upload(held(i, state), pieces(pattern(3 * 8 * MiB), MiB), budget)))
      yield* settle
      expect(yield* budget.inUse).toBe(BUDGET)
      yield* Fiber.interruptAll(fibers)
      expect(yield* budget.inUse).toBe(0)
    }))

  it.effect("a part larger than the whole budget takes all of it and still goes through", () =>
    Effect.gen(function*() {
      const budget = yield* S3Multipart.makeBudget(MiB)
      const log: Log = { events: [], parts: [] }
      const bytes = pattern(8 * MiB + 3)
      yield* S3Multipart.upload(fake(log), pieces(bytes, MiB), budget)
      expect(log.events).toEqual(["create", `part 1 ${8 * MiB}`, "part 2 3", "complete 1,2"])
      expect(yield* budget.inUse).toBe(0)
    }))
})
