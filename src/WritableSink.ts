/**
 * Streams bytes into a Node writable (a child's stdin, our stdout) with real back-pressure:
 * after every piece whose `write` reports a full buffer, wait for `drain`. (The platform's
 * `NodeSink.fromWritable` waits only between items of one chunk, so a stream of one-piece
 * chunks would pile up in the writable's buffer, as large as the whole input.) A whole chunk
 * of pieces is written by one effect: the pieces go out in a plain loop, which stops to wait
 * for `drain` only when the writable asks for it.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Writable } from "node:stream"

/**
 * Writes `pieces` in order; resolves once the last one has been accepted and the writable can
 * take more (with `settled`, only once the writable has handed every piece on), or fails with
 * `closed()` if it ends or breaks first. Never holds more than the writable's buffer plus one
 * piece.
 */
const writePieces = <C>(writable: Writable, pieces: Chunk.Chunk<Uint8Array>, closed: () => C, settled: boolean) =>
  Effect.async<void, C>((resume) => {
    const array = Chunk.toReadonlyArray(pieces)
    let next = 0
    let listening = false
    let done = false
    const off = () => {
      if (!listening) return
      listening = false
      writable.off("drain", pump)
      writable.off("error", onClosed)
      writable.off("close", onClosed)
    }
    const listen = () => {
      if (listening) return
      listening = true
      writable.on("drain", pump).once("error", onClosed).once("close", onClosed)
    }
    const end = (outcome: Effect.Effect<void, C>) => {
      if (done) return
      done = true
      off()
      resume(outcome)
    }
    function onClosed() {
      end(Effect.fail(closed()))
    }
    // With `settled`, every write has a callback (they run in order, once the piece is handed
    // on); the batch ends when all of them have run.
    let outstanding = 0
    const onWritten = (error?: Error | null) => {
      outstanding--
      if (error) return onClosed()
      if (next >= array.length && outstanding === 0) end(Effect.void)
    }
    function pump() {
      while (next < array.length) {
        if (writable.destroyed || writable.writableEnded) return onClosed()
        const piece = array[next++]!
        if (piece.length === 0) continue
        if (settled) outstanding++
        if (!(settled ? writable.write(piece, onWritten) : writable.write(piece))) {
          // Full: wait for `drain` (or the end of the writable) before the next piece.
          return listen()
        }
      }
      if (outstanding === 0) return end(Effect.void)
      // Settling: wait for the callbacks, or the end of the writable.
      listen()
    }
    if (writable.destroyed || writable.writableEnded) return resume(Effect.fail(closed()))
    pump()
    return Effect.sync(() => {
      done = true
      off()
    })
  })

/** Ends `writable` and resolves when it has flushed, or when it closes or breaks instead. */
const finish = (writable: Writable) =>
  Effect.async<void>((resume) => {
    if (writable.destroyed) return resume(Effect.void)
    const done = () => {
      writable.off("close", done)
      writable.off("error", done)
      resume(Effect.void)
    }
    writable.once("close", done).once("error", done)
    writable.end(done)
    return Effect.sync(() => {
      writable.off("close", done)
      writable.off("error", done)
    })
  })

/**
 * Writes every piece of `input` to `writable`, never holding more than its buffer plus one
 * piece; ends it afterwards when `end` is set. With `settled`, a chunk of pieces counts as
 * written only once the writable has handed all of it on (a synchronous writable such as our
 * stdout does so at once), so the producer may reuse a piece's memory once the next is
 * pulled. Fails with the input's error, or with `closed()` when the writable is closed or
 * broken (EPIPE) before the input is done.
 */
export const writeAll = <E, C>(
  input: Stream.Stream<Uint8Array, E>,
  writable: Writable,
  options: { readonly end: boolean; readonly closed: () => C; readonly settled?: boolean }
): Effect.Effect<void, E | C> =>
  Stream.runForEachChunk(input, (pieces) => writePieces(writable, pieces, options.closed, options.settled === true)).pipe(
    Effect.zipRight(options.end ? finish(writable) : Effect.void)
  )
