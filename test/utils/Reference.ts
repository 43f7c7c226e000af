/**
 * The sequential reference and the GNU oracle every reader is checked against. The reference
 * reads the definition literally: chunk i holds the lines whose first byte lies in the
 * approximate range i. GNU `split -n l/N` is an independent implementation of the same cut.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FastCheck from "effect/FastCheck"
import type { ByteRange } from "../../src/ByteRange.js"

/** The chunks of `bytes` for the approximate ranges, by line ownership. */
export const referenceChunks = (bytes: Uint8Array, approx: ReadonlyArray<ByteRange>): Array<Uint8Array> => {
  const owned: Array<Array<Uint8Array>> = approx.map(() => [])
  let lineStart = 0
  while (lineStart < bytes.length) {
    const newline = bytes.indexOf(0x0a, lineStart)
    const lineEnd = newline === -1 ? bytes.length : newline + 1
    const owner = approx.findIndex((range) => range.start <= lineStart && lineStart < range.end)
    owned[owner]!.push(bytes.subarray(lineStart, lineEnd))
    lineStart = lineEnd
  }
  return owned.map((lines) => Buffer.concat(lines))
}

/** The parts GNU `split -n l/N` writes for `bytes`. */
export const gnuSplit = (bytes: Uint8Array, chunks: number): Array<Uint8Array> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-gnu-"))
  try {
    const input = path.join(dir, "input")
    fs.writeFileSync(input, bytes)
    execFileSync("split", ["-n", `l/${chunks}`, "-d", "-a", "5", input, path.join(dir, "part-")])
    return Array.from({ length: chunks }, (_, i) => fs.readFileSync(path.join(dir, `part-${String(i).padStart(5, "0")}`)))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const ascii = (text: string) => Array.from(Buffer.from(text, "latin1"))

/**
 * Objects with the shapes that broke other splitters: NUL and invalid UTF-8 bytes, CRLF and
 * `\r\r\n`, runs of blank lines, no trailing newline, lines longer than many chunks.
 */
export const adversarialBytes: FastCheck.Arbitrary<Uint8Array> = FastCheck.array(
  FastCheck.oneof(
    FastCheck.constant([0x0a]),
    FastCheck.constant(ascii("\r\n")),
    FastCheck.constant(ascii("\r\r\n")),
    FastCheck.constant(ascii("\n\n\n")),
    FastCheck.constant([0x00, 0xff, 0xfe, 0xc3]),
    FastCheck.array(FastCheck.integer({ min: 0, max: 255 }), { maxLength: 12 }),
    FastCheck.stringMatching(/^[a-z,\t]{0,20}$/).map(ascii),
    FastCheck.integer({ min: 40, max: 400 }).map((n) => Array.from({ length: n }, () => 0x78))
  ),
  { maxLength: 40 }
).map((segments) => Uint8Array.from(segments.flat()))

/** A chunk count for an object of `size` bytes, N > S included. */
export const chunkCount = FastCheck.integer({ min: 1, max: 40 })
