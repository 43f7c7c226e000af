import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Writable } from "node:stream"
import { writeAll } from "../src/WritableSink.js"

const PIECE = 64 * 1024

/** A writable that takes one piece per turn of the event loop and records its fullest buffer. */
const slowWritable = () => {
  let peak = 0
  const received: Array<Buffer> = []
  const writable = new Writable({
    highWaterMark: PIECE,
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk)
      setImmediate(callback)
    }
  })
  const write = writable.write.bind(writable)
  writable.write = ((chunk: Buffer, ...rest: Array<never>) => {
    const accepted = write(chunk, ...rest)
    peak = Math.max(peak, writable.writableLength)
    return accepted
  }) as typeof writable.write
  return { writable, peak: () => peak, received }
}

describe("writeAll", () => {
  it.live("never buffers more than the writable's limit, however the input is chunked", () =>
    Effect.gen(function*() {
      const target = slowWritable()
      // 200 stream chunks of one 64 KiB piece each: the shape that piled up in NodeSink.fromWritable.
      const input = Stream.range(1, 200).pipe(Stream.map((i) => Buffer.alloc(PIECE, i % 256)), Stream.rechunk(1))
      yield* writeAll(input, target.writable, { end: true, closed: () => "closed" as const })
      expect(target.received).toHaveLength(200)
      expect(target.received[199]![0]).toBe(200)
      expect(target.peak()).toBeLessThanOrEqual(2 * PIECE)
    }))

  it.live("fails with `closed` when the writable is destroyed mid-way, instead of waiting forever", () =>
    Effect.gen(function*() {
      const target = slowWritable()
      const input = Stream.range(1, 100).pipe(Stream.map(() => Buffer.alloc(PIECE)))
      setImmediate(() => target.writable.destroy())
      const error = yield* Effect.flip(writeAll(input, target.writable, { end: true, closed: () => "closed" as const }))
      expect(error).toBe("closed")
    }))

  it.live("settled: each chunk of pieces is handed on before the next is pulled, so a producer may reuse its memory", () =>
    Effect.gen(function*() {
      // The writable copies what it takes, one piece per turn of the event loop; the producer
      // writes every piece into one and the same buffer.
      const copies: Array<Buffer> = []
      const writable = new Writable({
        highWaterMark: 4 * PIECE,
        write(chunk: Buffer, _encoding, callback) {
          copies.push(Buffer.from(chunk))
          setImmediate(callback)
        }
      })
      const shared = Buffer.alloc(PIECE)
      const input = Stream.range(1, 50).pipe(
        Stream.mapEffect((i) => Effect.sync(() => shared.fill(i))),
        Stream.rechunk(1)
      )
      yield* writeAll(input, writable, { end: true, closed: () => "closed" as const, settled: true })
      expect(copies.map((copy) => copy[0])).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      expect(copies.every((copy) => copy.every((byte) => byte === copy[0]))).toBe(true)
    }))
})
