import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ChunkOutputs } from "../src/ChunkOutputs.js"
import { MergeError } from "../src/Errors.js"
import { merge } from "../src/Merge.js"
import type { MergeOptions } from "../src/Merge.js"
import { autoMerge, Concat, Head, Reduce, SortMerge, Sum, Tail, Uniq } from "../src/MergeMode.js"
import type { MergeMode } from "../src/MergeMode.js"
import { liveGroups, recordingGroup } from "./utils/Processes.js"
import { C_ENV, inputAndChunks, linePieces, memoryOutputs, mergeInputs, sh, shAsync } from "./utils/Pipelines.js"

const collect = <E>(bytes: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(bytes), (pieces) => Buffer.concat(Chunk.toArray(pieces)))

/** The merged bytes of `outputs` under `mode`, as latin1 text (one char per byte, for readable diffs). */
const merged = <E>(mode: MergeMode, outputs: ChunkOutputs<E>, options: MergeOptions = {}) =>
  Effect.runPromise(collect(merge(mode, outputs, { env: C_ENV, ...options }))).then((bytes) => bytes.toString("latin1"))

const latin1 = (text: string) => Buffer.from(text, "latin1")

/**
 * The property of the issue: for any input and N, the command run on each of the N pieces and
 * merged by `mode` prints, byte for byte, what the command prints over the whole input.
 */
const equalsSequential = (command: string, mode: MergeMode, numRuns: number) =>
  FastCheck.assert(
    FastCheck.asyncProperty(inputAndChunks, async ([bytes, chunks]) => {
      const [expected, ...outputs] = await Promise.all([bytes, ...linePieces(bytes, chunks)].map((piece) => shAsync(command, piece)))
      expect(await merged(mode, memoryOutputs(outputs))).toBe(expected!.toString("latin1"))
    }),
    { numRuns }
  )

describe("--merge auto prints what the sequential pipeline prints (LC_ALL=C), for any input and N", () => {
  // The list (more runs), then neighbours that exercise other flags and paths.
  const commands: Array<[string, number]> = [
    ["sort", 20],
    ["sort -n -k2", 20],
    ["sort -r", 20],
    ["wc -l", 20],
    ["wc", 20],
    ["grep -c x || true", 20],
    ["sort | uniq -c", 20],
    ["uniq", 20],
    ["head -n 5", 20],
    ["tail -n 5", 20],
    ["sort -u", 8],
    ["sort -s -k1,1", 8],
    ["wc -c", 8],
    ["sort | uniq", 8],
    ["sort -s -k2,2 | uniq -c", 8],
    ["cut -c1-2 | sort -r | uniq -c", 8],
    ["uniq -c", 8],
    ["head -n 0", 5],
    ["tail -n 1", 8]
  ]
  for (const [command, numRuns] of commands) {
    it(`${command}  (merged by ${autoMerge(command)._tag})`, () => {
      expect(autoMerge(command)._tag).not.toBe("Concat")
      return equalsSequential(command, autoMerge(command), numRuns)
    })
  }

  it("--reduce 'sort -m \"$@\"' after sort", () => equalsSequential("sort", new Reduce({ command: "sort -m \"$@\"" }), 20))
})

describe("sum", () => {
  it("keeps wc's layout: each column's right edge stays, and grows left when the sum is wider", async () => {
    expect(await merged(new Sum(), memoryOutputs(["      1       2       3\n", "9999999 9999999 9999999\n"].map(latin1))))
      .toBe("10000000 10000001 10000002\n")
    expect(await merged(new Sum(), memoryOutputs(["7\n", "5\n"].map(latin1)))).toBe("12\n")
    expect(await merged(new Sum(), memoryOutputs(["total:\t3 files\n", "total:\t40 files\n"].map(latin1)))).toBe("total:\t43 files\n")
  })

  it("rejects outputs of another shape with one line naming the chunk", async () => {
    const cases: Array<[Array<string>, number, RegExp]> = [
      [["1 2\n", "3 4\n", "5\n"], 2, /^merge: chunk 2: output not shaped like chunk 0's: line 1 has 1 field where chunk 0's has 2$/],
      [["a 1\n", "b 1\n"], 1, /^merge: chunk 1: .*line 1, field 1 is "b" where chunk 0's is "a"$/],
      [["1\n", "1\n2\n"], 1, /^merge: chunk 1: .*2 lines where chunk 0 has 1$/],
      [["1\n", ""], 1, /^merge: chunk 1: .*0 lines where chunk 0 has 1$/]
    ]
    for (const [outputs, index, message] of cases) {
      const error = await Effect.runPromise(Effect.flip(collect(merge(new Sum(), memoryOutputs(outputs.map(latin1))))))
      expect(error).toBeInstanceOf(MergeError)
      expect((error as MergeError).index).toBe(index)
      expect(error.message).toMatch(message)
    }
  })
})

describe("head", () => {
  it("stops reading once K lines are out: later outputs are never opened", async () => {
    const outputs = Array.from({ length: 4 }, (_, i) => latin1(Array.from({ length: 10 }, (_, j) => `${i}-${j}\n`).join("")))
    const opened: Array<number> = []
    const text = await merged(new Head({ k: 5 }), memoryOutputs(outputs, { opened }))
    expect(text).toBe("0-0\n0-1\n0-2\n0-3\n0-4\n")
    expect(opened).toEqual([0])
    opened.length = 0
    expect((await merged(new Head({ k: 12 }), memoryOutputs(outputs, { opened }))).split("\n")).toHaveLength(13)
    expect(opened).toEqual([0, 1])
  })

  it("does not wait for an output it does not need", async () => {
    const outputs: ChunkOutputs<string> = {
      count: 2,
      stream: (index) => index === 0 ? Stream.make(latin1("a\nb\n")) : Stream.fail("chunk 1 must not be read"),
      file: () => Effect.fail("no file")
    }
    expect(await merged(new Head({ k: 2 }), outputs)).toBe("a\nb\n")
  })
})

describe("concat with a header", () => {
  it("drops the leading lines of later outputs that equal the header's lines, in order", async () => {
    const outputs = ["h1\nh2\na\n", "h1\nh2\nb\n", "h1\nc\n", "h2\nd\n", "", "h1\nh2\n"].map(latin1)
    expect(await merged(new Concat(), memoryOutputs(outputs, { pieceSize: 1 }), { header: latin1("h1\nh2\n") }))
      .toBe("h1\nh2\na\nb\nc\nh2\nd\n")
  })

  it("each chunk seeing the header first: cat gives the input, an awk filter that keeps it gives one header", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(mergeInputs, FastCheck.integer({ min: 1, max: 8 }), async (body, chunks) => {
        const header = latin1("#h s3split\n")
        const input = Buffer.concat([header, body])
        for (const command of ["cat", "awk 'NR == 1 || /x/'"]) {
          const [expected, ...outputs] = await Promise.all(
            [input, ...linePieces(body, chunks).map((piece) => Buffer.concat([header, piece]))].map((piece) => shAsync(command, piece))
          )
          expect(await merged(new Concat(), memoryOutputs(outputs), { header })).toBe(expected!.toString("latin1"))
        }
      }),
      { numRuns: 12 }
    ))
})

describe("the line merges take what they are given", () => {
  it("uniq -c: a line that is not uniq -c's fails with the chunk", async () => {
    const error = await Effect.runPromise(Effect.flip(collect(merge(new Uniq({ count: true }), memoryOutputs(["      1 a\n", "zzz\n"].map(latin1))))))
    expect(error).toBeInstanceOf(MergeError)
    expect((error as MergeError).index).toBe(1)
  })

  it("uniq and uniq -c join across empty outputs, however the bytes arrive", async () => {
    for (const pieceSize of [1, 2, 3, 64]) {
      const counted = ["      2 a\n", "", "      3 a\n      1 b\n", "      1 b\n", "", "      1 b\n      7 c\n"].map(latin1)
      expect(await merged(new Uniq({ count: true }), memoryOutputs(counted, { pieceSize }))).toBe("      5 a\n      3 b\n      7 c\n")
      const plain = ["a\n", "", "a\nb\n", "b\n", "b\nc\nd\n", "d\n"].map(latin1)
      expect(await merged(new Uniq({ count: false }), memoryOutputs(plain, { pieceSize }))).toBe("a\nb\nc\nd\n")
    }
  })

  it("tail of outputs without a final newline counts the unterminated line", async () => {
    expect(await merged(new Tail({ k: 2 }), memoryOutputs(["a\nb\n", "c\nd"].map(latin1)))).toBe("c\nd")
    expect(await merged(new Tail({ k: 9 }), memoryOutputs(["", "a"].map(latin1)))).toBe("a")
  })
})

describe("merge commands", () => {
  const work = () => fs.mkdtempSync(path.join(os.tmpdir(), "s3split-merge-groups-"))

  it("a --reduce that exits non-zero fails with its command, exit code and stderr", async () => {
    const error = await Effect.runPromise(
      Effect.flip(collect(merge(new Reduce({ command: "cat \"$@\"; echo oops >&2; exit 3" }), memoryOutputs([latin1("a\n")]))))
    )
    expect(error).toBeInstanceOf(MergeError)
    expect((error as MergeError).exitCode).toBe(3)
    expect(error.message).toBe("merge: `cat \"$@\"; echo oops >&2; exit 3`: exited with code 3: oops")
  })

  it("sort -m with a flag sort refuses fails with a MergeError naming sort", async () => {
    const error = await Effect.runPromise(
      Effect.flip(collect(merge(new SortMerge({ flags: ["--no-such-flag"], assignments: [] }), memoryOutputs([latin1("a\n")]))))
    )
    expect(error).toBeInstanceOf(MergeError)
    expect((error as MergeError).command).toBe("sort -m --no-such-flag")
    expect((error as MergeError).exitCode).toBe(2)
  })

  it("--reduce gets the outputs as \"$@\" in chunk order", async () => {
    const outputs = ["one\n", "", "three\n"].map(latin1)
    expect(await merged(new Reduce({ command: "for f in \"$@\"; do printf '%s:' \"$(wc -c < \"$f\")\"; done; echo" }), memoryOutputs(outputs)))
      .toBe("4:0:6:\n")
  })

  it("a --reduce abandoned before it ends is killed with its whole process group", async () => {
    const dir = work()
    try {
      const groups = path.join(dir, "groups")
      const command = recordingGroup(groups, "echo started; sleep 1000 & sleep 1000")
      const first = await Effect.runPromise(Stream.runHead(merge(new Reduce({ command }), memoryOutputs([latin1("a\n")]))))
      expect(first._tag).toBe("Some")
      expect(fs.readFileSync(groups, "utf8").trim()).not.toBe("")
      expect(liveGroups(groups)).toEqual([])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("every temporary file of a sort | uniq -c merge is removed", async () => {
    const before = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("s3split-merge-uniq-"))
    const outputs = ["a\nb\nb\n", "b\nc\n"].map((text) => sh("sort | uniq -c", latin1(text)))
    expect(await merged(autoMerge("sort | uniq -c"), memoryOutputs(outputs))).toBe("      1 a\n      3 b\n      1 c\n")
    const after = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("s3split-merge-uniq-"))
    expect(after).toEqual(before)
  })
})
