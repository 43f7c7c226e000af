/**
 * Many objects as one source through the real command line on the local file store: random
 * object sets (empty, no final newline, one long line, gzip of one or two members) and random
 * N give `split --out` parts and `run --exec cat` output equal to `cat` of the objects
 * (gunzipped) in key order, each part the lines its manifest's pieces name; several SOURCEs are
 * read in the order given; a source that names nothing, or an object rewritten after the
 * listing, is one line on stderr.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Zlib from "node:zlib"
import { objectSets, oracle } from "./utils/ObjectSets.js"
import type { TestObject } from "./utils/ObjectSets.js"
import { lines, runCli } from "./utils/RunCli.js"
import type { CliResult } from "./utils/RunCli.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-multi-cli-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))
let counter = 0
const fresh = (name: string) => path.join(work, `${name}-${counter++}`)

/** A fresh directory holding `objects`; its path with a trailing `/`. */
const writeObjects = (objects: ReadonlyArray<TestObject>) => {
  const dir = fresh("objects")
  fs.mkdirSync(dir)
  for (const object of objects) fs.writeFileSync(path.join(dir, object.name), object.stored)
  return `${dir}/`
}

const readParts = (dir: string) =>
  fs.readdirSync(dir).filter((name) => name.startsWith("part-")).sort().map((name) => fs.readFileSync(path.join(dir, name)))

const expectOneLineError = (result: CliResult, pattern: RegExp) => {
  expect(result.code).not.toBe(0)
  expect(result.stdout).toBe("")
  expect(lines(result.stderr)).toHaveLength(1)
  expect(result.stderr).toMatch(/^s3split: /)
  expect(result.stderr).toMatch(pattern)
}

interface ManifestPiece {
  readonly object: number
  readonly start: number
  readonly end: number
  readonly compressed: boolean
}

/** The lines of `bytes` whose first byte lies in `[start, end)` (the last line may lack its newline). */
const linesStartingIn = (bytes: Buffer, start: number, end: number) => {
  const owned: Array<Buffer> = []
  for (let at = 0; at < bytes.length;) {
    const newline = bytes.indexOf(0x0a, at)
    const next = newline === -1 ? bytes.length : newline + 1
    if (at >= start && at < end) owned.push(bytes.subarray(at, next))
    at = next
  }
  return Buffer.concat(owned)
}

/** A part as its manifest's pieces describe it: each piece the lines whose first byte lies in its range. */
const partFromPieces = (objects: ReadonlyArray<TestObject>, pieces: ReadonlyArray<ManifestPiece>) =>
  Buffer.concat(pieces.map((piece) => {
    const object = objects[piece.object]!
    return piece.compressed ? object.content : linesStartingIn(object.stored, piece.start, piece.end)
  }))

describe("many objects on the local file store", () => {
  it("split --out parts equal cat of the objects, each part the lines its manifest's pieces name, for random objects and N", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(objectSets(8), FastCheck.integer({ min: 1, max: 11 }), async (objects, chunks) => {
        const dir = writeObjects(objects)
        const out = fresh("parts")
        const split = await runCli(["split", dir, "--chunks", String(chunks), "--out", out, "--lookahead", "5"])
        expect(split.stderr).toBe("")
        expect(split.code).toBe(0)
        const parts = readParts(out)
        expect(parts).toHaveLength(chunks)
        expect(Buffer.concat(parts).equals(oracle(objects))).toBe(true)
        const manifest = JSON.parse(fs.readFileSync(path.join(out, "_manifest.json"), "utf8"))
        expect(manifest.size).toBe(oracle(objects).length)
        expect(manifest.objects.map((object: { uri: string }) => path.basename(object.uri))).toEqual(objects.map((object) => object.name))
        manifest.parts.forEach((part: { pieces: Array<ManifestPiece>; bytes: number }, i: number) => {
          expect(partFromPieces(objects, part.pieces).equals(parts[i]!)).toBe(true)
          expect(part.bytes).toBe(parts[i]!.length)
        })
        expect(fs.readdirSync(out)).not.toContain("_objects.ndjson")
      }),
      { numRuns: 3 }
    ), 300_000)

  it("run --exec cat gives the bytes of cat (binary-safe, through --out), for random objects and N", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(objectSets(8), FastCheck.integer({ min: 1, max: 11 }), async (objects, chunks) => {
        const dir = writeObjects(objects)
        const target = `${fresh("merged")}.out`
        const run = await runCli(["run", dir, "--chunks", String(chunks), "--exec", "cat", "--out", target, "--lookahead", "3"])
        expect(run.stderr).toBe("")
        expect(run.code).toBe(0)
        expect(fs.readFileSync(target).equals(oracle(objects))).toBe(true)
      }),
      { numRuns: 3 }
    ), 300_000)

  it("several SOURCEs (a glob, an object, a directory) are read in the order given, on fibers and on threads", async () => {
    const objects: Array<TestObject> = [
      { name: "a.log", stored: Buffer.from("a1\na2\n"), content: Buffer.from("a1\na2\n") },
      { name: "b.csv", stored: Buffer.from("b1\nb2"), content: Buffer.from("b1\nb2") },
      { name: "c.log.gz", stored: Zlib.gzipSync("c1\nc2\n"), content: Buffer.from("c1\nc2\n") }
    ]
    const dir = writeObjects(objects)
    const sources = [`${dir}*.log*`, `${dir}b.csv`, dir]
    const expected = Buffer.concat([objects[0]!.content, objects[2]!.content, objects[1]!.content, ...objects.map((o) => o.content)])
    for (const backend of ["local", "threads"]) {
      const target = `${fresh("merged")}.out`
      const run = await runCli(["run", ...sources, "--chunks", "4", "--exec", "cat", "--backend", backend, "--out", target])
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(fs.readFileSync(target).equals(expected)).toBe(true)
    }
    // --decompress none: the gzip object's stored bytes.
    const raw = await runCli(["run", `${dir}c.log.gz`, `${dir}a.log`, "--chunks", "2", "--exec", "cat", "--decompress", "none", "--out", `${dir}raw`])
    expect(raw.code).toBe(0)
    expect(fs.readFileSync(`${dir}raw`).equals(Buffer.concat([objects[2]!.stored, objects[0]!.content]))).toBe(true)
  })

  it("a single gzip object is gunzipped; split without --out reports ranges over the stored bytes", async () => {
    const content = Buffer.from(Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(""))
    const dir = writeObjects([
      { name: "one.log.gz", stored: Zlib.gzipSync(content), content },
      { name: "two.log", stored: content, content }
    ])
    const run = await runCli(["run", `${dir}one.log.gz`, "--chunks", "3", "--exec", "wc -l"])
    expect(run.code).toBe(0)
    // Three chunks, the gzip object whole in the first: 200 lines, then two empty chunks.
    expect(lines(run.stdout).map((line) => line.trim())).toEqual(["200", "0", "0"])
    const split = await runCli(["split", dir, "--chunks", "4", "--json"])
    expect(split.code).toBe(0)
    const rows = lines(split.stdout).map((line) => JSON.parse(line))
    const gz = fs.statSync(`${dir}one.log.gz`).size
    const total = gz + content.length
    expect(rows.at(-1).end).toBe(total)
    rows.forEach((row: { start: number; end: number; bytes: number }, i: number) => {
      if (i > 0) expect(row.start).toBe(rows[i - 1].end)
      // A chunk starts at an object's start or right after a newline of a plain object.
      if (row.start > gz && row.start < total) expect(content[row.start - gz - 1]).toBe(0x0a)
      if (row.start > 0 && row.start < gz) throw new Error(`chunk ${i} starts inside the gzip object`)
    })
  })

  it("the object list: a chunk of many small objects names them in the list, which is removed afterwards", async () => {
    const objects = Array.from({ length: 120 }, (_, i): TestObject => {
      const content = Buffer.from(i % 7 === 0 ? `no newline ${i}` : `object ${i}\n`)
      return { name: `small-${String(i).padStart(4, "0")}.log`, stored: content, content }
    })
    const dir = writeObjects(objects)
    const tmp = fresh("tmp")
    fs.mkdirSync(tmp)
    const run = await runCli(["run", dir, "--chunks", "3", "--exec", "cat"], { TMPDIR: tmp })
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(oracle(objects).toString("latin1"))
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith("s3split-"))).toEqual([])
    const out = fresh("parts")
    const split = await runCli(["split", dir, "--chunks", "2", "--out", out])
    expect(split.code).toBe(0)
    expect(Buffer.concat(readParts(out)).equals(oracle(objects))).toBe(true)
    expect(fs.readdirSync(out).sort()).toEqual(["_manifest.json", "part-00000", "part-00001"])
  })

  it("an empty directory, a glob that matches nothing, a directory without its /: one line, non-zero exit", async () => {
    const empty = fresh("empty")
    fs.mkdirSync(empty)
    expectOneLineError(await runCli(["run", `${empty}/`, "--chunks", "2", "--exec", "cat"]), /no objects under .*empty-\d+\/$/m)
    expectOneLineError(await runCli(["split", `${empty}/*.log`, "--chunks", "2"]), /no object matches .*\*\.log$/m)
    const dir = writeObjects([{ name: "a.log", stored: Buffer.from("a\n"), content: Buffer.from("a\n") }])
    expectOneLineError(await runCli(["split", dir.slice(0, -1), `${dir}a.log`, "--chunks", "2"]), /it is a directory \(end it with \//)
    expectOneLineError(await runCli(["run", dir, "--header", "1", "--chunks", "2", "--exec", "cat"]), /--header needs SOURCE to be one object/)
  })

  it("an object rewritten after the listing fails the run with ObjectChanged, in one line", async () => {
    const dir = writeObjects([
      { name: "a.log", stored: Buffer.from("a\n".repeat(50)), content: Buffer.alloc(0) },
      { name: "b.log", stored: Buffer.from("b\n".repeat(50)), content: Buffer.alloc(0) }
    ])
    // One worker at a time: chunk 0 (a.log) rewrites b.log before chunk 1 reads it.
    const result = await runCli([
      "run",
      dir,
      "--chunks",
      "2",
      "--concurrency",
      "1",
      "--exec",
      `if [ "$S3SPLIT_CHUNK" = 0 ]; then printf 'B\\n' >> '${dir}b.log'; fi; cat`
    ])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/^s3split: object changed during the run: .*b\.log/)
  })
})
