/**
 * The merges done line by line, in this process, over the outputs in chunk order: concatenation
 * (dropping a repeated header), the first / last K lines (`head -n K`, `tail -n K`) and the
 * boundary merge of `uniq` / `uniq -c` outputs. Each reads an output only when its turn comes;
 * memory holds at most a line or two (and the K lines of a tail).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ChunkOutputs } from "./ChunkOutputs.js"
import { MergeError } from "./Errors.js"
import { NEWLINE } from "./LineCut.js"
import { sameBytes, splitLines } from "./Lines.js"

const indices = (count: number) => Array.from({ length: count }, (_, i) => i)

/** Splits the header's bytes into its lines; a last line without `\n` is never matched. */
const headerLines = (header: Uint8Array): Array<Uint8Array> => {
  const lines: Array<Uint8Array> = []
  let start = 0
  for (;;) {
    const newline = header.indexOf(NEWLINE, start)
    if (newline === -1) return lines
    lines.push(header.subarray(start, newline + 1))
    start = newline + 1
  }
}

/**
 * `bytes` without its leading lines that equal the header's lines, in order (the first line
 * if it equals header line 0, then the next if it equals header line 1, ...). The rest passes
 * through untouched; at most one header line's worth of bytes is held back.
 */
const dropHeader = <E>(header: ReadonlyArray<Uint8Array>, bytes: Stream.Stream<Uint8Array, E>) =>
  Stream.suspend(() => {
    let matched = 0
    let held: Uint8Array = new Uint8Array(0)
    let passing = header.length === 0
    const step = (piece: Uint8Array): Array<Uint8Array> => {
      if (passing) return [piece]
      held = Buffer.concat([held, piece])
      while (matched < header.length) {
        const line = header[matched]!
        if (held.length < line.length) return []
        if (!sameBytes(held.subarray(0, line.length), line)) break
        held = held.subarray(line.length)
        matched++
      }
      passing = true
      return held.length === 0 ? [] : [held]
    }
    const rest = Stream.suspend(() => passing || held.length === 0 ? Stream.empty : Stream.make(held))
    return Stream.concat(Stream.mapConcat(bytes, step), rest)
  })

/**
 * The outputs one after the other, in chunk order; output `i` is opened only once output
 * `i - 1` has ended. With a `header`, the leading lines of every output after the first that
 * equal the header's lines are dropped, so a CSV-in, CSV-out command gives one header.
 */
export const concat = <E>(outputs: ChunkOutputs<E>, header?: Uint8Array): Stream.Stream<Uint8Array, E> => {
  const lines = header === undefined ? [] : headerLines(header)
  return Stream.flatMap(
    Stream.fromIterable(indices(outputs.count)),
    (index) => index === 0 || lines.length === 0 ? outputs.stream(index) : dropHeader(lines, outputs.stream(index)),
    { concurrency: 1 }
  )
}

/**
 * The first `k` lines of `bytes` (`head -n k`): the stream ends right after the `k`-th `\n`,
 * and the rest of `bytes` is never pulled.
 */
export const head = <E>(k: number, bytes: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  k === 0 ? Stream.empty : bytes.pipe(
    // Each piece with the number of lines still due after it.
    Stream.mapAccum(k, (due, piece): readonly [number, readonly [Uint8Array, number]] => {
      let left = due
      let at = 0
      while (left > 0) {
        const newline = piece.indexOf(NEWLINE, at)
        if (newline === -1) return [left, [piece, left]]
        left--
        at = newline + 1
      }
      return [0, [piece.subarray(0, at), 0]]
    }),
    Stream.takeUntil(([, left]) => left === 0),
    Stream.map(([piece]) => piece)
  )

/**
 * The last `k` lines of `bytes` (`tail -n k`; an unterminated last line counts as a line),
 * once `bytes` has ended. Holds at most `k` lines.
 */
export const tail = <E>(k: number, bytes: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  k === 0 ? Stream.drain(bytes) : Stream.unwrap(Effect.map(
    Stream.runFold(splitLines(bytes), { ring: new Array<Uint8Array>(), seen: 0 }, (state, line) => {
      // A ring of the last k lines: line n sits at n % k.
      if (state.ring.length < k) state.ring.push(line)
      else state.ring[state.seen % k] = line
      state.seen++
      return state
    }),
    ({ ring, seen }) => {
      const kept = Math.min(k, seen)
      return Stream.fromIterable(Array.from({ length: kept }, (_, i) => ring[(seen - kept + i) % k]!))
    }
  ))

/** A line of `uniq -c`: its count and the line it counts (with its `\n`, when present). */
export interface Counted {
  readonly count: bigint
  readonly text: Uint8Array
}

const SPACE = 0x20

/** Reads a `uniq -c` line (`%7d ` then the line), or `None` when it is not one. */
export const parseCounted = (line: Uint8Array): Option.Option<Counted> => {
  let at = 0
  while (at < line.length && line[at] === SPACE) at++
  const digits = at
  while (at < line.length && line[at]! >= 0x30 && line[at]! <= 0x39) at++
  if (at === digits || line[at] !== SPACE) return Option.none()
  return Option.some({ count: BigInt(Buffer.from(line.subarray(digits, at)).toString("latin1")), text: line.subarray(at + 1) })
}

/** The `uniq -c` lines of chunk `index`'s output, parsed; a line that is not one fails the stream. */
export const countedLines = <E>(index: number, lines: Stream.Stream<Uint8Array, E>): Stream.Stream<Counted, E | MergeError> =>
  Stream.mapChunksEffect(lines, (chunk) => {
    const parsed: Array<Counted> = []
    for (const line of chunk) {
      const counted = parseCounted(line)
      if (Option.isNone(counted)) {
        return Effect.fail(new MergeError({ index, reason: "a line of its output is not `uniq -c`'s (a count, a space, the line)" }))
      }
      parsed.push(counted.value)
    }
    return Effect.succeed(Chunk.unsafeFromArray(parsed))
  })

/** A `uniq -c` line as uniq prints it: the count right-aligned in 7 columns, a space, the line. */
export const formatCounted = ({ count, text }: Counted): Uint8Array =>
  Buffer.concat([Buffer.from(`${count.toString().padStart(7)} `, "latin1"), text])

/** Joins the line held from earlier outputs with the first line of output `index`, if they go together. */
type Join = (held: Uint8Array, first: Uint8Array, index: number, heldFrom: number) => Either.Either<Uint8Array | undefined, MergeError>

/**
 * The outputs in order, where the last line of the outputs so far and the first line of the
 * next one may be `join`ed into one line. Only those boundary lines are looked at; the bytes in
 * between pass through as they arrive, and one line (the last seen) is held back.
 */
const boundaryMerge = <E>(outputs: ChunkOutputs<E>, join: Join): Stream.Stream<Uint8Array, E | MergeError> =>
  Stream.suspend(() => {
    let held: Uint8Array | undefined
    let heldFrom = 0
    const one = (index: number) =>
      Stream.suspend(() => {
        // The first line while it is being gathered; `undefined` once it has been settled.
        let firstParts: Array<Uint8Array> | undefined = []
        // The start of the output's last line so far: everything before it is out.
        let tail: Array<Uint8Array> = []
        const pass = (piece: Uint8Array, out: Array<Uint8Array>) => {
          if (piece.length === 0) return
          const last = tail[tail.length - 1]
          if (last !== undefined && last[last.length - 1] === NEWLINE) {
            out.push(...tail)
            tail = []
          }
          // The last `\n` before the piece's final byte ends the line before the last one.
          const newline = piece.length < 2 ? -1 : piece.lastIndexOf(NEWLINE, piece.length - 2)
          if (newline === -1) {
            tail.push(piece)
            return
          }
          out.push(...tail, piece.subarray(0, newline + 1))
          tail = [piece.subarray(newline + 1)]
        }
        const settle = (line: Uint8Array, out: Array<Uint8Array>): Effect.Effect<void, MergeError> => {
          firstParts = undefined
          if (held === undefined) return Effect.sync(() => pass(line, out))
          const previous = held
          held = undefined
          return Either.match(join(previous, line, index, heldFrom), {
            onLeft: Effect.fail,
            onRight: (joined) =>
              Effect.sync(() => {
                if (joined === undefined) out.push(previous)
                pass(joined ?? line, out)
              })
          })
        }
        const step = (piece: Uint8Array): Effect.Effect<Array<Uint8Array>, MergeError> => {
          const out: Array<Uint8Array> = []
          if (firstParts === undefined) {
            pass(piece, out)
            return Effect.succeed(out)
          }
          const newline = piece.indexOf(NEWLINE)
          if (newline === -1) {
            firstParts.push(piece)
            return Effect.succeed(out)
          }
          const line = Buffer.concat([...firstParts, piece.subarray(0, newline + 1)])
          return Effect.as(Effect.zipRight(settle(line, out), Effect.sync(() => pass(piece.subarray(newline + 1), out))), out)
        }
        const end = Effect.suspend(() => {
          const out: Array<Uint8Array> = []
          const first = firstParts !== undefined && firstParts.length > 0 ? settle(Buffer.concat(firstParts), out) : Effect.void
          return Effect.as(Effect.tap(first, () => {
            if (tail.length > 0) {
              held = Buffer.concat(tail)
              heldFrom = index
            }
          }), out)
        })
        return Stream.concat(
          Stream.flattenIterables(Stream.mapEffect(outputs.stream(index), step)),
          Stream.flattenIterables(Stream.fromEffect(end))
        )
      })
    return Stream.concat(
      Stream.flatMap(Stream.fromIterable(indices(outputs.count)), one, { concurrency: 1 }),
      Stream.suspend(() => held === undefined ? Stream.empty : Stream.make(held))
    )
  })

/**
 * `uniq` outputs merged: the first line of an output that equals the last line before it (of
 * the previous non-empty output) is dropped. Within an output `uniq` left no such pair.
 */
export const uniq = <E>(outputs: ChunkOutputs<E>): Stream.Stream<Uint8Array, E | MergeError> =>
  boundaryMerge(outputs, (held, first) => Either.right(sameBytes(held, first) ? first : undefined))

const notCounted = (index: number) =>
  new MergeError({ index, reason: "a line of its output is not `uniq -c`'s (a count, a space, the line)" })

/**
 * `uniq -c` outputs merged: where the last line before an output and its first line count the
 * same line, one line with the sum of their counts, formatted as `uniq -c` does. A boundary
 * line that is not `uniq -c`'s fails with `MergeError` naming its chunk.
 */
export const uniqCount = <E>(outputs: ChunkOutputs<E>): Stream.Stream<Uint8Array, E | MergeError> =>
  boundaryMerge(outputs, (held, first, index, heldFrom) => {
    const before = parseCounted(held)
    const after = parseCounted(first)
    if (Option.isNone(after)) return Either.left(notCounted(index))
    if (Option.isNone(before)) return Either.left(notCounted(heldFrom))
    return Either.right(
      sameBytes(before.value.text, after.value.text)
        ? formatCounted({ count: before.value.count + after.value.count, text: after.value.text })
        : undefined
    )
  })
