import { afterAll, describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { plan } from "../src/Planner.js"
import { adversarialBytes, gnuSplit, referenceChunks } from "./utils/Reference.js"
import { lines, runCli, startCli } from "./utils/RunCli.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-cli-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))
let counter = 0
const fresh = (name: string) => path.join(work, `${name}-${counter++}`)

const writeObject = (bytes: Uint8Array) => {
  const file = fresh("object")
  fs.writeFileSync(file, bytes)
  return file
}

const readParts = (dir: string, chunks: number) =>
  Array.from({ length: chunks }, (_, i) => fs.readFileSync(path.join(dir, `part-${String(i).padStart(5, "0")}`)))

/** Exactly one line on stderr, starting with "s3split:", matching `pattern`; nothing on stdout. */
const expectOneLineError = (result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) => {
  expect(result.code).not.toBe(0)
  expect(result.stdout).toBe("")
  expect(lines(result.stderr)).toHaveLength(1)
  expect(result.stderr).toMatch(/^s3split: /)
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/)
}

describe("split on the local file store", () => {
  it("prints a table of half-open ranges with totals", async () => {
    const file = writeObject(Buffer.from("alpha\nbeta\ngamma\ndelta\n"))
    const result = await runCli(["split", file, "--chunks", "2"])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/index\s+start\s+end\s+bytes/)
    // q = 11: byte 10 is the newline after "beta", so chunk 1 starts right after it.
    expect(result.stdout).toMatch(/^\s*0\s+0\s+11\s+11$/m)
    expect(result.stdout).toMatch(/^\s*1\s+11\s+23\s+12$/m)
    expect(result.stdout).toMatch(/^total\s+0\s+23\s+23$/m)
  })

  it("--json prints one object per chunk in index order, ranges equal to GNU split's parts", async () => {
    const bytes = Buffer.from(Array.from({ length: 500 }, (_, i) => `${i},${"v".repeat(i % 23)}\r\n`).join(""))
    const file = writeObject(bytes)
    const result = await runCli(["split", pathToFileURL(file).href, "--chunks", "7", "--json"])
    expect(result.code).toBe(0)
    const rows = lines(result.stdout).map((line) => JSON.parse(line))
    const approx = plan(bytes.length, { _tag: "Chunks", chunks: 7 })
    const gnu = gnuSplit(bytes, 7)
    rows.forEach((row, i) => {
      expect(row.index).toBe(i)
      expect([row.approxStart, row.approxEnd]).toEqual([approx[i]!.start, approx[i]!.end])
      expect(Buffer.from(bytes.subarray(row.start, row.end))).toEqual(gnu[i])
      expect(row.bytes).toBe(row.end - row.start)
    })
  })

  it("--chunk-size takes units and plans ceil(S/B) chunks", async () => {
    const bytes = Buffer.from("x\n".repeat(3000))
    const result = await runCli(["split", writeObject(bytes), "--chunk-size", "1KiB", "--json"])
    expect(result.code).toBe(0)
    const rows = lines(result.stdout).map((line) => JSON.parse(line))
    expect(rows).toHaveLength(Math.ceil(6000 / 1024))
    expect(rows.at(-1).end).toBe(6000)
  })

  it("--out writes parts equal to GNU split and the reference, then the manifest", () =>
    FastCheck.assert(FastCheck.asyncProperty(adversarialBytes, FastCheck.integer({ min: 1, max: 12 }), async (bytes, chunks) => {
      const out = fresh("out")
      const result = await runCli(["split", writeObject(bytes), "--chunks", String(chunks), "--out", out, "--lookahead", "3"])
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      const parts = readParts(out, chunks)
      expect(parts).toEqual(gnuSplit(bytes, chunks).map((part) => Buffer.from(part)))
      expect(parts).toEqual(referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks })).map((p) => Buffer.from(p)))
      const manifest = JSON.parse(fs.readFileSync(path.join(out, "_manifest.json"), "utf8"))
      expect(manifest.size).toBe(bytes.length)
      expect(manifest.chunks).toBe(chunks)
      expect(manifest.parts.map((part: { bytes: number }) => part.bytes)).toEqual(parts.map((part) => part.length))
      expect(fs.readdirSync(out).sort()).toEqual(["_manifest.json", ...parts.map((_, i) => `part-${String(i).padStart(5, "0")}`)].sort())
    }), { numRuns: 6 }))

  it("ships a sample that the README's quick start splits", async () => {
    const result = await runCli(["split", "samples/access.log", "--chunks", "4"])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^total\s+0\s+144531\s+144531$/m)
  })
})

describe("bad input: one line on stderr, non-zero exit, nothing written", () => {
  const object = writeObject(Buffer.from("a\nb\n"))

  for (const bad of ["0", "-3", "1.5", "ten", ""]) {
    it(`rejects --chunks "${bad}"`, async () => {
      expectOneLineError(await runCli(["split", object, "--chunks", bad]), /--chunks/)
    })
  }

  it("rejects a bad --chunk-size", async () => {
    expectOneLineError(await runCli(["split", object, "--chunk-size", "12 parsecs"]), /--chunk-size/)
  })

  it("names a missing file", async () => {
    expectOneLineError(await runCli(["split", path.join(work, "missing.txt"), "--chunks", "2"]), /not found: .*missing\.txt/)
  })

  it("refuses a directory", async () => {
    expectOneLineError(await runCli(["split", work, "--chunks", "2"]), /is a directory/)
  })

  it("refuses an unknown scheme", async () => {
    expectOneLineError(await runCli(["split", "gs://bucket/key", "--chunks", "2"]), /unknown scheme "gs:\/\/"/)
  })

  it("refuses s3://bucket without a key", async () => {
    expectOneLineError(await runCli(["split", "s3://bucket", "--chunks", "2"]), /names no object key/)
  })

  it("leaves no manifest when the source is missing", async () => {
    const out = fresh("out")
    fs.mkdirSync(out)
    fs.writeFileSync(path.join(out, "_manifest.json"), "{}")
    expectOneLineError(await runCli(["split", path.join(work, "missing.txt"), "--chunks", "2", "--out", out]), /not found/)
    expect(fs.readdirSync(out)).toEqual(["_manifest.json"])
  })
})

/** The run's own temporary directories under `tmp` (tsx keeps a cache there too). */
const workDirs = (tmp: string) => fs.readdirSync(tmp).filter((name) => name.startsWith("s3split-"))

describe("run on the local file store", () => {
  const text = Array.from({ length: 3000 }, (_, i) => `${i}\t${i % 5 === 0 ? "ERROR" : "INFO"}\tmsg ${i}`).join("\n") + "\n"
  const object = writeObject(Buffer.from(text))

  it("--exec cat writes the source to stdout in chunk order", async () => {
    const result = await runCli(["run", object, "--chunks", "6", "--exec", "cat"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(text)
  })

  it("--backend threads gives the same bytes and the same parts as the default fibers", async () => {
    const result = await runCli(["run", object, "--chunks", "6", "--concurrency", "2", "--backend", "threads", "--exec", "cat"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(text)
    const dir = fresh("threads-parts")
    const split = await runCli(["split", object, "--chunks", "5", "--backend", "threads", "--out", dir])
    expect(split.code).toBe(0)
    expect(readParts(dir, 5)).toEqual(gnuSplit(Buffer.from(text), 5).map((part) => Buffer.from(part)))
  })

  it("--out writes the merged output to a file; a failing chunk commits nothing and leaves no temporary files", async () => {
    const tmp = fresh("tmp")
    fs.mkdirSync(tmp)
    const target = path.join(work, `merged-${counter++}.txt`)
    const ok = await runCli(["run", object, "--chunks", "4", "--exec", "grep ERROR", "--out", target], { TMPDIR: tmp })
    expect(ok.code).toBe(0)
    expect(fs.readFileSync(target, "utf8")).toBe(text.split("\n").filter((line) => line.includes("ERROR")).map((l) => `${l}\n`).join(""))
    const failedTarget = path.join(work, `never-${counter++}.txt`)
    const failed = await runCli(["run", object, "--chunks", "4", "--exec", "grep -q '^2[0-9][0-9][0-9]\t' && exit 9; cat", "--out", failedTarget], { TMPDIR: tmp })
    expectOneLineError(failed, /^s3split: chunk \d: command exited with code 9/)
    expect(fs.existsSync(failedTarget)).toBe(false)
    expect(fs.readdirSync(path.dirname(failedTarget)).filter((name) => name.startsWith(path.basename(failedTarget)))).toEqual([])
    expect(workDirs(tmp)).toEqual([])
  })

  it("SIGINT stops the workers, commits nothing and removes the temporary outputs", async () => {
    const tmp = fresh("tmp")
    fs.mkdirSync(tmp)
    const target = path.join(work, `interrupted-${counter++}.txt`)
    const { child, result } = startCli(["run", object, "--chunks", "3", "--exec", "cat; sleep 30", "--out", target], { TMPDIR: tmp })
    // Wait until the run has made its work directory, then interrupt it.
    while (workDirs(tmp).length === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    child.kill("SIGINT")
    const ended = await result
    expect(ended.code).not.toBe(0)
    expect(fs.existsSync(target)).toBe(false)
    expect(workDirs(tmp)).toEqual([])
  })
})
