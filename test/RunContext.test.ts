/**
 * What each chunk's command is told: its context in the environment (S3SPLIT_CHUNK,
 * S3SPLIT_CHUNKS, S3SPLIT_SOURCE, S3SPLIT_OFFSET) and, with `--header N`, the object's header
 * before its own lines. Checked through the real run path over the memory store, and through
 * the command line over local files with the fiber and thread backends.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Boundary } from "../src/Boundary.js"
import type { ByteRange } from "../src/ByteRange.js"
import { UsageError } from "../src/Errors.js"
import * as Header from "../src/Header.js"
import { alignUpIn } from "../src/LineCut.js"
import type { MemoryObjectStore } from "../src/MemoryObjectStore.js"
import { ObjectStore } from "../src/ObjectStore.js"
import * as ObjectUri from "../src/ObjectUri.js"
import { run } from "../src/Run.js"
import { split } from "../src/Split.js"
import { jobLayer, seeded, SOURCE } from "./utils/Layers.js"
import { adversarialBytes } from "./utils/Reference.js"
import { lines, runCli } from "./utils/RunCli.js"

const WORK = new ObjectUri.S3Uri({ bucket: "bucket", key: "work/run-1/" })
const CONTEXT = "echo \"$S3SPLIT_CHUNK $S3SPLIT_CHUNKS $S3SPLIT_OFFSET $S3SPLIT_SOURCE\""

/** The first `count` lines of `bytes` (newlines included), or all of it when it has fewer. */
const referenceHeader = (bytes: Uint8Array, count: number) => {
  let end = 0
  for (let line = 0; line < count && end < bytes.length; line++) {
    const newline = bytes.indexOf(0x0a, end)
    end = newline === -1 ? bytes.length : newline + 1
  }
  return Buffer.from(bytes.subarray(0, end))
}

/**
 * Runs `command` on `chunks` chunks of `memory`'s source through `Run.run` (with the header of
 * `headerLines` lines, read by `Header.read`), and cuts the merged stdout into each chunk's
 * output by the chunks' `bytesOut`.
 */
const runChunks = (memory: MemoryObjectStore, command: string, chunks: number, headerLines = 0) =>
  Effect.gen(function*() {
    const collected = yield* Ref.make(Chunk.empty<Uint8Array>())
    const version = yield* (yield* ObjectStore).head(SOURCE)
    const header = yield* Header.read(SOURCE, version, headerLines)
    const results = yield* run(
      { source: SOURCE, spec: { _tag: "Chunks", chunks }, command, concurrency: 4, lookahead: 3, workDir: WORK, header },
      version,
      { _tag: "Sink", write: (bytes) => Stream.runForEach(bytes, (piece) => Ref.update(collected, Chunk.append(piece))) }
    )
    const merged = Buffer.concat(Chunk.toArray(yield* Ref.get(collected)))
    let at = 0
    const outputs = results.map((result) => merged.subarray(at, (at += Option.getOrThrow(result).bytesOut)))
    expect(at).toBe(merged.length)
    return { header: Buffer.from(header), outputs }
  }).pipe(Effect.provide(jobLayer(memory)))

/** The resolved ranges `split` reports (its `--json` rows) for `chunks` chunks of `memory`'s source. */
const splitRows = (memory: MemoryObjectStore, chunks: number) =>
  Effect.gen(function*() {
    const version = yield* (yield* ObjectStore).head(SOURCE)
    const report = yield* split({ source: SOURCE, spec: { _tag: "Chunks", chunks }, out: undefined, concurrency: 4, lookahead: 3 }, version)
    return report.rows
  }).pipe(Effect.provide(jobLayer(memory)))

describe("Boundary.readChunk announces the resolved start", () => {
  /** Reads `approx` of `bytes` with `onStart`; the announced start, the bytes, and the GETs made. */
  const readWithStart = (bytes: Uint8Array, approx: ByteRange, lookahead: number, pieceSize: number) =>
    Effect.gen(function*() {
      const memory = yield* seeded(bytes, { pieceSize })
      return yield* Effect.gen(function*() {
        const boundary = yield* Boundary
        const version = yield* (yield* ObjectStore).head(SOURCE)
        const announced = yield* Ref.make<Array<number>>([])
        const read = (withStart: boolean) =>
          boundary.readChunk(SOURCE, version, approx, {
            lookahead,
            ...(withStart ? { onStart: (start: number) => Ref.update(announced, (all) => [...all, start]) } : {})
          }).pipe(
            // The start is announced before the chunk's first byte.
            Stream.tap(() => Effect.map(Ref.get(announced), (all) => expect(all.length === 1 || !withStart).toBe(true))),
            Stream.runCollect,
            Effect.map((pieces) => Buffer.concat(Chunk.toArray(pieces)))
          )
        const before = (yield* memory.requests).length
        const plain = yield* read(false)
        const middle = (yield* memory.requests).length
        const withStart = yield* read(true)
        const after = (yield* memory.requests).length
        return { plain, withStart, announced: yield* Ref.get(announced), plainGets: middle - before, startGets: after - middle }
      }).pipe(Effect.provide(jobLayer(memory)))
    })

  it.effect.prop(
    "onStart is told alignUp(a) once, the bytes are unchanged, and a non-empty chunk costs no extra request",
    [
      adversarialBytes.chain((bytes) =>
        FastCheck.tuple(
          FastCheck.constant(bytes),
          FastCheck.integer({ min: 0, max: bytes.length }),
          FastCheck.integer({ min: 0, max: bytes.length })
        )
      ),
      FastCheck.constantFrom(0, 1, 3, 64),
      FastCheck.constantFrom(1, 2, 7, 64 * 1024)
    ],
    ([[bytes, x, y], lookahead, pieceSize]) =>
      Effect.gen(function*() {
        const approx = { start: Math.min(x, y), end: Math.max(x, y) }
        const { announced, plain, plainGets, startGets, withStart } = yield* readWithStart(bytes, approx, lookahead, pieceSize)
        expect(announced).toEqual([alignUpIn(bytes, approx.start)])
        expect(withStart).toEqual(plain)
        expect(plain).toEqual(Buffer.from(bytes.subarray(alignUpIn(bytes, approx.start), alignUpIn(bytes, approx.end))))
        if (plain.length > 0) expect(startGets).toBe(plainGets)
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect("an empty chunk inside a long line reads on to that line's end to announce its start", () =>
    Effect.gen(function*() {
      const bytes = Buffer.concat([Buffer.from("a\n"), Buffer.alloc(1000, 0x78), Buffer.from("\nb\n")])
      const { announced, plain } = yield* readWithStart(bytes, { start: 100, end: 200 }, 4, 64 * 1024)
      expect(plain.length).toBe(0)
      expect(announced).toEqual([1003])
    }))
})

describe("each command's context in the environment", () => {
  it.live("S3SPLIT_CHUNK, S3SPLIT_CHUNKS and S3SPLIT_OFFSET match the resolved ranges of split, S3SPLIT_SOURCE is the URI", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(adversarialBytes, FastCheck.integer({ min: 1, max: 12 }), (bytes, chunks) =>
          Effect.runPromise(Effect.gen(function*() {
            const memory = yield* seeded(bytes)
            const rows = yield* splitRows(memory, chunks)
            const { outputs } = yield* runChunks(memory, CONTEXT, chunks)
            expect(outputs.map((output) => output.toString("latin1"))).toEqual(
              rows.map((row) => `${row.index} ${chunks} ${row.start} s3://bucket/data/object.txt\n`)
            )
          }))),
        { numRuns: 25 }
      )
    ))

  it.live("the offset makes grep -b offsets global: every match is found at its offset in the object", () =>
    Effect.gen(function*() {
      const text = Array.from({ length: 3000 }, (_, i) => (i % 11 === 0 ? `needle ${i}\n` : `hay ${i}\n`)).join("")
      const memory = yield* seeded(Buffer.from(text))
      const { outputs } = yield* runChunks(
        memory,
        "grep -b needle | while IFS=: read -r at line; do echo \"$((at + S3SPLIT_OFFSET)):$line\"; done",
        7
      )
      const found = lines(Buffer.concat(outputs).toString("utf8"))
      expect(found).toHaveLength(Math.ceil(3000 / 11))
      for (const entry of found) {
        const [at, line] = entry.split(":") as [string, string]
        expect(text.slice(Number(at), Number(at) + line.length)).toBe(line)
      }
    }))
})

describe("--header N", () => {
  it.live("every command reads the header first, then its own lines; the header lines reach no command twice and the own lines are the rest of the object, at their offsets", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(adversarialBytes, FastCheck.integer({ min: 1, max: 9 }), FastCheck.integer({ min: 1, max: 6 }), (bytes, chunks, headerLines) =>
          Effect.runPromise(Effect.gen(function*() {
            const memory = yield* seeded(bytes)
            const expected = referenceHeader(bytes, headerLines)
            const { header, outputs } = yield* runChunks(memory, "printf '%s\\n' \"$S3SPLIT_OFFSET\"; cat", chunks, headerLines)
            expect(header).toEqual(expected)
            expect(outputs).toHaveLength(chunks)
            const own = outputs.map((output) => {
              const newline = output.indexOf(0x0a)
              const offset = Number(output.subarray(0, newline).toString("latin1"))
              const input = output.subarray(newline + 1)
              expect(input.subarray(0, header.length)).toEqual(header)
              const lines = input.subarray(header.length)
              // The chunk's own lines are the object's bytes at its offset.
              expect(lines).toEqual(Buffer.from(bytes.subarray(offset, offset + lines.length)))
              return { offset, lines }
            })
            // Chunk 0 starts right after the header, each next one where the previous ended.
            expect(own[0]!.offset).toBe(header.length)
            own.forEach((chunk, i) => i > 0 && expect(chunk.offset).toBe(own[i - 1]!.offset + own[i - 1]!.lines.length))
            expect(Buffer.concat([header, ...own.map((chunk) => chunk.lines)])).toEqual(Buffer.from(bytes))
          }))),
        { numRuns: 25 }
      )
    ))

  it.live("--exec cat with the header dropped from all outputs but the first gives the source byte for byte", () =>
    Effect.gen(function*() {
      const text = "id,name\n" + Array.from({ length: 500 }, (_, i) => `${i},n${i}`).join("\n") + "\n"
      const memory = yield* seeded(Buffer.from(text))
      const { header, outputs } = yield* runChunks(memory, "cat", 6, 1)
      expect(header.toString("utf8")).toBe("id,name\n")
      expect(outputs.every((output) => output.subarray(0, header.length).equals(header))).toBe(true)
      const merged = Buffer.concat(outputs.map((output, i) => (i === 0 ? output : output.subarray(header.length))))
      expect(merged.toString("utf8")).toBe(text)
    }))

  it.live("an object with fewer lines than N is all header: every command reads it whole and owns no line", () =>
    Effect.gen(function*() {
      const text = "a\nb\nc"
      const memory = yield* seeded(Buffer.from(text))
      const { header, outputs } = yield* runChunks(memory, "printf '%s|' \"$S3SPLIT_OFFSET\"; cat", 4, 10)
      expect(header.toString("utf8")).toBe(text)
      expect(outputs.map((output) => output.toString("utf8"))).toEqual(Array.from({ length: 4 }, () => `${text.length}|${text}`))
    }))

  it.effect("Header.read grows its window past 64 KiB until the N lines end, and rejects a header over the cap", () =>
    Effect.gen(function*() {
      const long = Buffer.concat([Buffer.alloc(200_000, 0x61), Buffer.from("\nsecond\nthird\n")])
      const memory = yield* seeded(long)
      yield* Effect.gen(function*() {
        const version = yield* (yield* ObjectStore).head(SOURCE)
        expect(Buffer.from(yield* Header.read(SOURCE, version, 2))).toEqual(long.subarray(0, 200_008))
        expect((yield* Header.read(SOURCE, version, 0)).length).toBe(0)
        const gets = (yield* memory.requests).filter((request) => request.op === "get")
        // 64 KiB, then doubling what has been read: [0, 64Ki), [64Ki, 128Ki), [128Ki, 256Ki) clamped to S.
        expect(gets.map((get) => get.range)).toEqual([
          { start: 0, end: 65536 },
          { start: 65536, end: 131072 },
          { start: 131072, end: long.length }
        ])
        const error = yield* Effect.flip(Header.read(SOURCE, version, 1, 100_000))
        expect(error).toBeInstanceOf(UsageError)
        expect(error.message).toBe("--header 1: the first 1 line is longer than 97.7 KiB, the most a header may be (every task carries it)")
      }).pipe(Effect.provide(jobLayer(memory)))
    }))

  it("parses N as a whole number of lines, 0 or more", () => {
    expect(Header.parseLines("0")._tag).toBe("Right")
    expect(Header.parseLines("12")._tag).toBe("Right")
    for (const bad of ["-1", "x", "1.5", ""]) expect(Header.parseLines(bad)._tag).toBe("Left")
  })
})

describe("the command line", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-context-"))
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }))
  const text = "when,level\n" + Array.from({ length: 2000 }, (_, i) => `${i},${i % 5 === 0 ? "ERROR" : "INFO"}`).join("\n") + "\n"
  const file = path.join(work, "events.csv")
  fs.writeFileSync(file, text)

  it("run's S3SPLIT_OFFSET equals split --json's starts, the source is the path, on the fiber and thread backends", async () => {
    const rows = lines((await runCli(["split", file, "--chunks", "6", "--json"])).stdout).map((line) => JSON.parse(line))
    const expected = rows.map((row) => `${row.index} 6 ${row.start} ${file}`)
    for (const backend of ["local", "threads"]) {
      const result = await runCli(["run", file, "--chunks", "6", "--backend", backend, "--exec", CONTEXT])
      expect(result.stderr).toBe("")
      expect(lines(result.stdout)).toEqual(expected)
    }
  })

  it("--header 1 gives every chunk the header, on the fiber and thread backends alike; the merge prints it once", async () => {
    // Each command marks the first line it reads, so the merge does not take it for the header.
    const marking = "sed '1s/^/>/'"
    const local = await runCli(["run", file, "--chunks", "5", "--header", "1", "--exec", marking])
    expect(local.stderr).toBe("")
    const outputs = local.stdout.split(">when,level\n")
    expect(outputs[0]).toBe("")
    expect(outputs).toHaveLength(6)
    expect("when,level\n" + outputs.join("")).toBe(text)
    const threads = await runCli(["run", file, "--chunks", "5", "--header", "1", "--backend", "threads", "--exec", marking])
    expect(threads.stdout).toBe(local.stdout)
    const copied = await runCli(["run", file, "--chunks", "5", "--header", "1", "--exec", "cat"])
    expect(copied.stdout).toBe(text)
  })

  it("rejects a bad --header in one line", async () => {
    const result = await runCli(["run", file, "--chunks", "2", "--header", "-1", "--exec", "cat"])
    expect(result.code).not.toBe(0)
    expect(result.stdout).toBe("")
    expect(lines(result.stderr)).toEqual([`s3split: --header must be a whole number of lines (0 or more); got "-1"`])
  })

  it("rejects a header over 1 MiB in one line, before any chunk runs", async () => {
    const wide = path.join(work, "wide.csv")
    fs.writeFileSync(wide, Buffer.concat([Buffer.alloc(Header.MAX_BYTES, 0x63), Buffer.from("\nrow\n")]))
    const result = await runCli(["run", wide, "--chunks", "2", "--header", "1", "--exec", "echo ran"])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(lines(result.stderr)).toEqual([
      "s3split: --header 1: the first 1 line is longer than 1.0 MiB, the most a header may be (every task carries it)"
    ])
  })
})
