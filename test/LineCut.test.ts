import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { alignUpIn, ChunkCutter } from "../src/LineCut.js"
import type { CutterState } from "../src/LineCut.js"
import { plan } from "../src/Planner.js"
import { adversarialBytes, chunkCount, gnuSplit, referenceChunks } from "./utils/Reference.js"

const bytesOf = (text: string) => Buffer.from(text, "latin1")

/** Runs the cutter over the bytes from its first offset, delivered in pieces of `pieceSize`. */
const cut = (bytes: Uint8Array, chunks: number, pieceSize: number) =>
  plan(bytes.length, { _tag: "Chunks", chunks }).map((approx) => {
    const cutter = new ChunkCutter(approx, bytes.length)
    let state: CutterState = cutter.initial
    const out: Array<Uint8Array> = []
    for (let at = cutter.firstOffset; at < bytes.length && state.phase !== "done"; at += pieceSize) {
      const [next, output] = cutter.step(state, bytes.subarray(at, at + pieceSize))
      state = next
      out.push(output.bytes)
    }
    return Buffer.concat(out)
  })

describe("alignUpIn", () => {
  it("a chunk that starts right after a newline keeps its first line", () => {
    expect(alignUpIn(bytesOf("ab\ncd\n"), 3)).toBe(3)
  })
  it("a start inside a line moves to the next line start", () => {
    expect(alignUpIn(bytesOf("ab\ncd\n"), 4)).toBe(6)
    expect(alignUpIn(bytesOf("ab\ncd"), 4)).toBe(5)
  })
  it("0 and S are fixed points", () => {
    expect(alignUpIn(bytesOf("ab\ncd"), 0)).toBe(0)
    expect(alignUpIn(bytesOf("ab\ncd"), 5)).toBe(5)
  })
  it("treats \\r as data: a cut between \\r and \\n moves past the \\n", () => {
    expect(alignUpIn(bytesOf("a\r\nb\r\n"), 2)).toBe(3)
    expect(alignUpIn(bytesOf("a\r\nb\r\n"), 3)).toBe(3)
  })
})

describe("ChunkCutter", () => {
  it("a line longer than several chunks goes whole to the chunk it starts in, the others stay empty", () => {
    const bytes = bytesOf(`a\n${"x".repeat(50)}\nb\n`)
    const parts = cut(bytes, 10, 3)
    expect(parts[0]).toEqual(bytesOf(`a\n${"x".repeat(50)}\n`))
    expect(parts.slice(1, 9).every((part) => part.length === 0)).toBe(true)
    expect(Buffer.concat(parts)).toEqual(bytes)
  })

  it.prop(
    "for any bytes, N and piece size, the chunks equal the reference and GNU split",
    [adversarialBytes, chunkCount, FastCheck.constantFrom(1, 2, 5, 7, 64, 4096)],
    ([bytes, chunks, pieceSize]) => {
      const parts = cut(bytes, chunks, pieceSize)
      expect(parts).toEqual(referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks })))
      expect(parts).toEqual(gnuSplit(bytes, chunks).map((part) => Buffer.from(part)))
    },
    { fastCheck: { numRuns: 150 } }
  )
})
