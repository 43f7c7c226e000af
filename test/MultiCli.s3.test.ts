/**
 * Many objects as one source through the real command line against a local S3 server
 * (s3rver), behind a proxy that records every request: random prefixes (empty objects, no
 * final newline, one long line, gzip) read back equal to `cat` of the objects (gunzipped) in
 * key order, by `split --out` and `run --exec cat`; planning is one LIST and a HEAD per object
 * a cut point falls into (its Content-Encoding, under `--decompress auto`), reading
 * one GET per piece; throttling and cut bodies change nothing; an object rewritten after the
 * LIST is `ObjectChanged`, in one line.
 */
import type { S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Zlib from "node:zlib"
import { straddling } from "../src/MultiPlan.js"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { objectSets, oracle } from "./utils/ObjectSets.js"
import type { TestObject } from "./utils/ObjectSets.js"
import { lines, runCli } from "./utils/RunCli.js"
import * as S3Server from "./utils/S3Server.js"

const BUCKET = "s3split-multi-cli"
const ROOT = path.resolve(import.meta.dirname, "..")

/** Short retries, so that the failure cases end quickly. */
const ENV = {
  ...S3Server.credentialsEnv,
  S3SPLIT_RETRY_ATTEMPTS: "8",
  S3SPLIT_RETRY_BASE_DELAY: "2 millis",
  S3SPLIT_RETRY_MAX_DELAY: "20 millis"
}

let server: S3Server.S3ServerHandle | undefined
let client: S3Client | undefined
const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-multi-cli-s3-"))
let counter = 0
const fresh = (name: string) => path.join(work, `${name}-${counter++}`)

beforeAll(async () => {
  server = await S3Server.start()
  client = S3Server.rawClient(server.endpoint)
  await S3Server.createBucket(client, BUCKET)
})

afterAll(async () => {
  client?.destroy()
  await server?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

/** Puts `objects` under a fresh prefix; its `s3://` URI (with the trailing `/`). */
const putObjects = async (objects: ReadonlyArray<TestObject>) => {
  const prefix = `set-${counter++}/`
  for (const object of objects) await S3Server.putObject(client!, BUCKET, `${prefix}${object.name}`, object.stored)
  return { prefix, uri: `s3://${BUCKET}/${prefix}` }
}

const cli = (args: ReadonlyArray<string>, via: string, env: Record<string, string> = {}) =>
  runCli([...args, "--endpoint", via], { ...ENV, ...env })

const withProxy = async <A>(plan: FaultyProxy.FaultPlan, body: (proxy: FaultyProxy.FaultyProxyHandle) => Promise<A>) => {
  const proxy = await FaultyProxy.start(server!.endpoint, plan)
  try {
    return await body(proxy)
  } finally {
    await proxy.close()
  }
}

/** The requests for the source: LISTs, HEADs, and GETs of keys under `prefix`. */
const sourceRequests = (requests: ReadonlyArray<FaultyProxy.RecordedRequest>, prefix: string) => ({
  lists: requests.filter((r) => r.method === "GET" && r.url.includes("list-type=2")).length,
  heads: requests.filter((r) => r.method === "HEAD").length,
  gets: requests.filter((r) => r.method === "GET" && !r.url.includes("list-type=2") && r.url.includes(`/${BUCKET}/${prefix}`)).length
})

/** How many objects the plan of N = `chunks` cuts: the HEADs of `--decompress auto`. */
const cutObjects = (objects: ReadonlyArray<TestObject>, chunks: number) =>
  straddling(objects.map((object) => ({ size: object.stored.length, compressed: object.name.endsWith(".gz") })), { _tag: "Chunks", chunks })
    .length

const readParts = (dir: string) =>
  fs.readdirSync(dir).filter((name) => name.startsWith("part-")).sort().map((name) => fs.readFileSync(path.join(dir, name)))

describe("many objects on a local S3 server, through the command line", () => {
  it("split --out and run --exec cat equal cat of the prefix; one LIST, a HEAD per cut object, a GET per piece at least", () =>
    FastCheck.assert(
      FastCheck.asyncProperty(objectSets(7), FastCheck.integer({ min: 1, max: 10 }), async (objects, chunks) => {
        const { prefix, uri } = await putObjects(objects)
        await withProxy(() => "pass", async (proxy) => {
          const out = fresh("parts")
          const split = await cli(["split", uri, "--chunks", String(chunks), "--out", out, "--lookahead", "7"], proxy.endpoint)
          expect(split.stderr).toBe("")
          expect(split.code).toBe(0)
          expect(Buffer.concat(readParts(out)).equals(oracle(objects))).toBe(true)
          const manifest = JSON.parse(fs.readFileSync(path.join(out, "_manifest.json"), "utf8"))
          const pieces = manifest.parts.reduce((sum: number, part: { pieces: Array<unknown> }) => sum + part.pieces.length, 0)
          const counts = sourceRequests(proxy.requests(), prefix)
          expect(counts.lists).toBe(1)
          // A HEAD for each object a cut point falls into (its Content-Encoding), no other.
          expect(counts.heads).toBe(cutObjects(objects, chunks))
          // A short lookahead may need a second window for a line that crosses a cut.
          expect(counts.gets).toBeGreaterThanOrEqual(pieces)
        })
        const target = `${fresh("merged")}.out`
        const run = await cli(["run", uri, "--chunks", String(chunks), "--exec", "cat", "--out", target], server!.endpoint)
        expect(run.stderr).toBe("")
        expect(run.code).toBe(0)
        expect(fs.readFileSync(target).equals(oracle(objects))).toBe(true)
      }),
      { numRuns: 3 }
    ), 300_000)

  it("a prefix of 300 objects: one LIST, a HEAD per cut object, exactly one GET per piece; parts to S3 equal cat", async () => {
    const objects = Array.from({ length: 300 }, (_, i): TestObject => {
      const content = i % 41 === 0
        ? Buffer.alloc(0)
        : Buffer.from(Array.from({ length: i % 60 === 1 ? 3000 : 1 + (i % 5) }, (_, k) => `${i} ${k} ${"x".repeat(k % 30)}\n`).join(""))
      const gz = i % 6 === 0
      return { name: `obj-${String(i).padStart(4, "0")}.log${gz ? ".gz" : ""}`, stored: gz ? Zlib.gzipSync(content) : content, content }
    })
    const { prefix, uri } = await putObjects(objects)
    await withProxy(() => "pass", async (proxy) => {
      const target = `${fresh("merged")}.out`
      const run = await cli(["run", uri, "--chunks", "9", "--exec", "cat", "--out", target], proxy.endpoint)
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(fs.readFileSync(target).equals(oracle(objects))).toBe(true)
      const out = fresh("parts")
      const split = await cli(["split", uri, "--chunks", "9", "--out", out], server!.endpoint)
      expect(split.code).toBe(0)
      const manifest = JSON.parse(fs.readFileSync(path.join(out, "_manifest.json"), "utf8"))
      const pieces = manifest.parts.reduce((sum: number, part: { pieces: Array<unknown> }) => sum + part.pieces.length, 0)
      expect(sourceRequests(proxy.requests(), prefix)).toEqual({ lists: 1, heads: cutObjects(objects, 9), gets: pieces })
    })
    // The parts written to an S3 prefix by the workers.
    const split = await cli(["split", uri, "--chunks", "4", "--out", `s3://${BUCKET}/parts-of-300/`], server!.endpoint)
    expect(split.stderr).toBe("")
    expect(split.code).toBe(0)
    const keys = await S3Server.listKeys(client!, BUCKET, "parts-of-300/")
    expect(keys).toEqual(["_manifest.json", "part-00000", "part-00001", "part-00002", "part-00003"].map((k) => `parts-of-300/${k}`))
    const parts = await Promise.all(keys.slice(1).map((key) => S3Server.getObject(client!, BUCKET, key)))
    expect(Buffer.concat(parts.map((part) => part!)).equals(oracle(objects))).toBe(true)
  })

  it("Content-Encoding: gzip without .gz: whole objects by their GET, cut ones by a HEAD; the bytes of gzip -dc, or as stored with --decompress none", async () => {
    // Every third object is stored gzip with Content-Encoding: gzip under a plain name; the
    // large ones (a tenth) are where the cut points of N = 6 fall.
    const objects = Array.from({ length: 30 }, (_, i): TestObject & { readonly encoded: boolean } => {
      const content = Buffer.from(Array.from({ length: i % 10 === 4 ? 2000 : 3 + (i % 4) }, (_, k) => `${i}:${k}:${(k * 7919 + i) % 1000003}\n`).join(""))
      const encoded = i % 3 === 1
      return { name: `e-${String(i).padStart(3, "0")}.log`, stored: encoded ? Zlib.gzipSync(content) : content, content, encoded }
    })
    const prefix = `encoded-${counter++}/`
    await S3Server.seedObjects(server!.endpoint, BUCKET, objects.map((object) => ({
      key: `${prefix}${object.name}`,
      body: object.stored,
      ...(object.encoded ? { contentEncoding: "gzip" } : {})
    })))
    const uri = `s3://${BUCKET}/${prefix}`
    const sizes = objects.map((object) => ({ size: object.stored.length, compressed: false }))
    const cut = straddling(sizes, { _tag: "Chunks", chunks: 6 })
    // The premise: some object a cut falls into is gzip, and some is not.
    expect(cut.some((j) => objects[j]!.encoded)).toBe(true)
    expect(cut.some((j) => !objects[j]!.encoded)).toBe(true)
    await withProxy(() => "pass", async (proxy) => {
      const target = `${fresh("merged")}.out`
      const run = await cli(["run", uri, "--chunks", "6", "--exec", "cat", "--out", target], proxy.endpoint)
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(fs.readFileSync(target).equals(oracle(objects))).toBe(true)
      const counts = sourceRequests(proxy.requests(), prefix)
      expect(counts.lists).toBe(1)
      expect(counts.heads).toBe(cut.length)
      expect(counts.heads).toBeLessThanOrEqual(5)
      // One GET per object but the cut plain ones, which take one per piece (and may take a second window).
      expect(counts.gets).toBeGreaterThanOrEqual(objects.length)
    })
    // One such object named alone: gunzipped whole (its HEAD tells), by split and by run.
    const single = objects.find((object) => object.encoded && object.content.length > 10_000)!
    const singleOut = fresh("single")
    const singleSplit = await cli(["split", `${uri}${single.name}`, "--chunks", "3", "--out", singleOut], server!.endpoint)
    expect(singleSplit.stderr).toBe("")
    expect(Buffer.concat(readParts(singleOut)).equals(single.content)).toBe(true)
    const singleRun = await cli(["run", `${uri}${single.name}`, "--chunks", "3", "--exec", "cat"], server!.endpoint)
    expect(singleRun.code).toBe(0)
    expect(singleRun.stdout).toBe(single.content.toString("utf8"))
    await withProxy(() => "pass", async (proxy) => {
      const out = fresh("parts")
      const split = await cli(["split", uri, "--chunks", "6", "--out", out], proxy.endpoint)
      expect(split.stderr).toBe("")
      expect(split.code).toBe(0)
      expect(Buffer.concat(readParts(out)).equals(oracle(objects))).toBe(true)
      expect(sourceRequests(proxy.requests(), prefix).heads).toBe(cut.length)
    })
    await withProxy(() => "pass", async (proxy) => {
      const target = `${fresh("merged")}.out`
      const run = await cli(["run", uri, "--chunks", "6", "--exec", "cat", "--out", target, "--decompress", "none"], proxy.endpoint)
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(fs.readFileSync(target).equals(Buffer.concat(objects.map((object) => object.stored)))).toBe(true)
      expect(sourceRequests(proxy.requests(), prefix).heads).toBe(0)
    })
  })

  it("throttling and cut bodies change nothing; the threads backend gives the same bytes", async () => {
    const objects = Array.from({ length: 40 }, (_, i): TestObject => {
      const content = Buffer.from(Array.from({ length: 200 + i }, (_, k) => `${i}:${k}\n`).join(""))
      return i % 4 === 0
        ? { name: `f-${String(i).padStart(3, "0")}.gz`, stored: Zlib.gzipSync(content), content }
        : { name: `f-${String(i).padStart(3, "0")}.txt`, stored: content, content }
    })
    const { uri } = await putObjects(objects)
    const plan = FaultyProxy.onGets((g) => g % 5 === 3 ? "slowdown" : g % 7 === 2 ? { cutAfterBytes: 300 } : "pass")
    await withProxy(plan, async (proxy) => {
      for (const backend of ["local", "threads"]) {
        const target = `${fresh("merged")}.out`
        const run = await cli(
          ["run", uri, "--chunks", "5", "--concurrency", "2", "--backend", backend, "--exec", "cat", "--out", target],
          proxy.endpoint
        )
        expect(run.stderr).toBe("")
        expect(run.code).toBe(0)
        expect(fs.readFileSync(target).equals(oracle(objects))).toBe(true)
      }
      expect(FaultyProxy.slowdowns(proxy.requests())).toBeGreaterThan(0)
    })
  })

  it("an empty prefix and a glob that matches nothing are one line each", async () => {
    for (const source of [`s3://${BUCKET}/nothing-here/`, `s3://${BUCKET}/set-*/*.zst`]) {
      const result = await cli(["run", source, "--chunks", "2", "--exec", "cat"], server!.endpoint)
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toEqual([
        source.includes("*") ? `s3split: no object matches ${source}` : `s3split: no objects under ${source}`
      ])
    }
  })

  it("an object overwritten after the LIST stops the run with ObjectChanged, in one line", async () => {
    const objects = ["a", "b"].map((name): TestObject => {
      const content = Buffer.from(`${name}\n`.repeat(100))
      return { name: `${name}.log`, stored: content, content }
    })
    const { prefix, uri } = await putObjects(objects)
    // Chunk 0 (a.log) rewrites b.log with a raw client before chunk 1 (one worker at a time) reads it.
    const script = path.join(work, "overwrite.cjs")
    fs.writeFileSync(
      script,
      `const { S3Client, PutObjectCommand } = require(${JSON.stringify(path.join(ROOT, "node_modules/@aws-sdk/client-s3"))})
const client = new S3Client({ endpoint: process.argv[2], region: ${JSON.stringify(S3Server.REGION)}, forcePathStyle: true,
  requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" })
client.send(new PutObjectCommand({ Bucket: process.argv[3], Key: process.argv[4], Body: "rewritten\\n" })).then(() => client.destroy())
`
    )
    const command = `if [ "$S3SPLIT_CHUNK" = 0 ]; then '${process.execPath}' '${script}' '${server!.endpoint}' ${BUCKET} '${prefix}b.log' >&2; fi; cat`
    const result = await cli(["run", uri, "--chunks", "2", "--concurrency", "1", "--exec", command], server!.endpoint)
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(new RegExp(`^s3split: object changed during the run: s3://${BUCKET}/${prefix}b\\.log`))
  })
})
