/**
 * Streams bytes into a Node writable (a child's stdin, our stdout) with real back-pressure:
 * after every piece whose `write` reports a full buffer, wait for `drain`. (The platform's
 * `NodeSink.fromWritable` waits only between items of one chunk, so a stream of one-piece
 * chunks would pile up in the writable's buffer, as large as the whole input.)
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Writable } from "node:stream"

/** Resolves once `writable` can take more, or fails with `closed()` if it ends or breaks first. */
const writePiece = <C>(writable: Writable, piece: Uint8Array, closed: () => C) =>
  Effect.async<void, C>((resume) => {
    if (writable.destroyed || writable.writableEnded) return resume(Effect.fail(closed()))
    if (writable.write(piece)) return resume(Effect.void)
    const onDrain = () => {
      off()
      resume(Effect.void)
    }
    const onClosed = () => {
      off()
      resume(Effect.fail(closed()))
    }
    const off = () => {
      writable.off("drain", onDrain)
      writable.off("error", onClosed)
      writable.off("close", onClosed)
    }
    writable.once("drain", onDrain).once("error", onClosed).once("close", onClosed)
    return Effect.sync(off)
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
 * Writes every piece of `input` to `writable`, never holding more than its buffer; ends it
 * afterwards when `end` is set. Fails with the input's error, or with `closed()` when the
 * writable is closed or broken (EPIPE) before the input is done.
 */
export const writeAll = <E, C>(
  input: Stream.Stream<Uint8Array, E>,
  writable: Writable,
  options: { readonly end: boolean; readonly closed: () => C }
): Effect.Effect<void, E | C> =>
  Stream.runForEach(input, (piece) => writePiece(writable, piece, options.closed)).pipe(
    Effect.zipRight(options.end ? finish(writable) : Effect.void)
  )
