/**
 * Byte streams seen as lines, for the merges that work line by line: a line is its bytes up
 * to and including its `\n`; the last line of a stream may lack the `\n`. Bytes are never
 * decoded. Lines are copied out of the pieces they arrive in, so that keeping a line never
 * keeps a whole piece alive.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { NEWLINE } from "./LineCut.js"

/** The lines of `bytes`, each a fresh array, in order; nothing is lost or added. */
export const splitLines = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    // The start of a line whose `\n` has not arrived yet.
    let partial: Array<Uint8Array> = []
    const cut = (piece: Uint8Array): Array<Uint8Array> => {
      const lines: Array<Uint8Array> = []
      let start = 0
      for (;;) {
        const newline = piece.indexOf(NEWLINE, start)
        if (newline === -1) break
        if (partial.length === 0) {
          lines.push(piece.slice(start, newline + 1))
        } else {
          partial.push(piece.subarray(start, newline + 1))
          lines.push(Buffer.concat(partial))
          partial = []
        }
        start = newline + 1
      }
      if (start < piece.length) partial.push(piece.slice(start))
      return lines
    }
    const rest = Stream.suspend(() => partial.length === 0 ? Stream.empty : Stream.make<Array<Uint8Array>>(Buffer.concat(partial)))
    return Stream.concat(Stream.mapConcat(bytes, cut), rest)
  })

/** Byte equality of two lines. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.compare(a, b) === 0

/** Pulls the elements of a stream one at a time (for merges that walk several streams in step). */
export interface Reader<A, E> {
  /** The next element, or `None` once the stream has ended. */
  readonly next: Effect.Effect<Option.Option<A>, E>
  /** The next element when it is already at hand (no pull needed), else `undefined`. */
  readonly poll: () => Option.Option<A> | undefined
}

/** A `Reader` over `stream`, open until the scope closes. */
export const reader = <A, E>(stream: Stream.Stream<A, E>): Effect.Effect<Reader<A, E>, never, Scope.Scope> =>
  Effect.map(Stream.toPull(stream), (pull) => {
    let buffered: ReadonlyArray<A> = []
    let at = 0
    let ended = false
    const next: Effect.Effect<Option.Option<A>, E> = Effect.suspend(() => {
      if (at < buffered.length) return Effect.succeed(Option.some(buffered[at++]!))
      if (ended) return Effect.succeed(Option.none())
      return pull.pipe(
        Effect.map((chunk) => {
          buffered = Chunk.toReadonlyArray(chunk)
          at = 0
          return true
        }),
        Effect.catchAll(Option.match({
          onNone: () => {
            ended = true
            return Effect.succeed(false)
          },
          onSome: (error: E) => Effect.fail(error)
        })),
        Effect.zipRight(next)
      )
    })
    const poll = () => at < buffered.length ? Option.some(buffered[at++]!) : ended ? Option.none() : undefined
    return { next, poll }
  })
