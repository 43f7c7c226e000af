/**
 * The object the bench splits: deterministic newline-delimited text with lines of 40 to 400
 * bytes (like access logs), generated block by block so an object of any size costs no more
 * memory than one block. The last line has no newline when the size cuts it.
 */
import { mulberry32 } from "./Prng.js"

/** The shortest and the longest line, newline included. */
export const LINE_MIN = 40
export const LINE_MAX = 400

const BLOCK = 1024 * 1024
const NEWLINE = 0x0a

/** Printable ASCII that lines are cut from (no newline in it). */
const vocabulary = (random: () => number) => {
  const text = new Uint8Array(16 * 1024)
  for (let i = 0; i < text.length; i++) text[i] = 0x20 + Math.floor(random() * 95)
  return text
}

/** The object of `size` bytes for `seed`, as blocks of at most 1 MiB, in order. */
export function* blocks(size: number, seed = 1): Generator<Uint8Array> {
  const random = mulberry32(seed)
  const words = vocabulary(random)
  let lineLeft = 0
  for (let offset = 0; offset < size; offset += BLOCK) {
    const block = new Uint8Array(Math.min(BLOCK, size - offset))
    let at = 0
    while (at < block.length) {
      if (lineLeft === 0) lineLeft = LINE_MIN + Math.floor(random() * (LINE_MAX - LINE_MIN + 1))
      // The body of the line (all but its newline) is a slice of the vocabulary.
      const body = Math.min(lineLeft - 1, block.length - at)
      if (body > 0) {
        const from = Math.floor(random() * (words.length - body))
        block.set(words.subarray(from, from + body), at)
        at += body
        lineLeft -= body
      }
      if (lineLeft === 1 && at < block.length) {
        block[at++] = NEWLINE
        lineLeft = 0
      }
    }
    yield block
  }
}

/** The whole object in memory (for tests and small sizes). */
export const bytes = (size: number, seed = 1): Uint8Array => {
  const all = new Uint8Array(size)
  let offset = 0
  for (const block of blocks(size, seed)) {
    all.set(block, offset)
    offset += block.length
  }
  return all
}
