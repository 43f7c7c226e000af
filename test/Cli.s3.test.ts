/**
 * The real command line (a child process) against a real S3-compatible server on loopback:
 * boundaries and parts equal GNU `split -n l/N`, faults on the wire change nothing, and every
 * failure is one line on stderr with nothing committed.
 */
import type { S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { plan } from "../src/Planner.js"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { gnuSplit } from "./utils/Reference.js"
import { lines, runCli } from "./utils/RunCli.js"
import type { CliResult } from "./utils/RunCli.js"
import * as S3Server from "./utils/S3Server.js"

const BUCKET = "s3split-cli"
const KEY = "logs/object.log"
const SOURCE = `s3://${BUCKET}/${KEY}`

/** Lines of many lengths, CRLF and bytes that are not UTF-8, one line longer than a chunk, no final newline. */
const OBJECT = Buffer.concat([
  ...Array.from({ length: 4000 }, (_, i) =>
    Buffer.concat([
      Buffer.from(`${i},${"w".repeat((i * 53) % 97)}${i % 5 === 0 ? "\r" : ""}`, "latin1"),
      i % 11 === 0 ? Buffer.from([0x00, 0xfe, 0xe2, 0x82]) : Buffer.alloc(0),
      Buffer.from(i === 2000 ? `${"L".repeat(90_000)}\n` : "\n")
    ])),
  Buffer.from("last line without newline")
])
const CHUNKS = 5
const GNU_PARTS = gnuSplit(OBJECT, CHUNKS)

/** Short retries, so the failure cases end quickly. */
const ENV = {
  ...S3Server.credentialsEnv,
  S3SPLIT_RETRY_ATTEMPTS: "6",
  S3SPLIT_RETRY_BASE_DELAY: "5 millis",
  S3SPLIT_RETRY_MAX_DELAY: "50 millis"
}

let server: S3Server.S3ServerHandle | undefined
let client: S3Client | undefined
const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-cli-s3-"))

beforeAll(async () => {
  server = await S3Server.start()
  client = S3Server.rawClient(server.endpoint)
  await S3Server.createBucket(client, BUCKET)
  await S3Server.putObject(client, BUCKET, KEY, OBJECT)
})

afterAll(async () => {
  client?.destroy()
  await server?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

const endpoint = () => server!.endpoint
const s3 = () => client!
const split = (args: ReadonlyArray<string>, via = endpoint(), env: Record<string, string> = {}) =>
  runCli(["split", ...args, "--endpoint", via], { ...ENV, ...env })

const partName = (i: number) => `part-${String(i).padStart(5, "0")}`
const expectedKeys = (prefix: string) =>
  [...Array.from({ length: CHUNKS }, (_, i) => `${prefix}${partName(i)}`), `${prefix}_manifest.json`].sort()

/** Exit code 1, nothing on stdout, exactly one line on stderr, "s3split: ..." matching `pattern`. */
const expectOneLineError = (result: CliResult, pattern: RegExp) => {
  expect(result.code).toBe(1)
  expect(result.stdout).toBe("")
  expect(lines(result.stderr)).toHaveLength(1)
  expect(result.stderr).toMatch(/^s3split: /)
  expect(result.stderr).toMatch(pattern)
}

/** The faults of the proxy tests: every third GET throttled, GETs 0 and 4 cut after some bytes. */
const faults = () =>
  FaultyProxy.onGets((g) => {
    if (g % 3 === 2) return "slowdown"
    if (g === 0 || g === 4) return { cutAfterBytes: 2000 + 1000 * g }
    return "pass"
  })

describe("split s3://... against s3rver", () => {
  it("--json prints each chunk's range, and the bytes of each range are GNU split's part", async () => {
    const result = await split([SOURCE, "--chunks", String(CHUNKS), "--json"])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const rows = lines(result.stdout).map((line) => JSON.parse(line))
    const approx = plan(OBJECT.length, { _tag: "Chunks", chunks: CHUNKS })
    expect(rows).toHaveLength(CHUNKS)
    rows.forEach((row, i) => {
      expect(row.index).toBe(i)
      expect([row.approxStart, row.approxEnd]).toEqual([approx[i]!.start, approx[i]!.end])
      expect(Buffer.from(OBJECT.subarray(row.start, row.end))).toEqual(GNU_PARTS[i])
    })
  })

  it("--out s3://bucket/prefix/ writes GNU split's parts and then the manifest", async () => {
    const result = await split([SOURCE, "--chunks", String(CHUNKS), "--out", `s3://${BUCKET}/out/`])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(await S3Server.listKeys(s3(), BUCKET, "out/")).toEqual(expectedKeys("out/"))
    for (let i = 0; i < CHUNKS; i++) {
      expect(await S3Server.getObject(s3(), BUCKET, `out/${partName(i)}`)).toEqual(GNU_PARTS[i])
    }
    const manifest = JSON.parse((await S3Server.getObject(s3(), BUCKET, "out/_manifest.json"))!.toString("utf8"))
    expect(manifest).toMatchObject({ source: SOURCE, size: OBJECT.length, chunks: CHUNKS })
    expect(manifest.parts.map((part: { name: string; bytes: number }) => [part.name, part.bytes])).toEqual(
      GNU_PARTS.map((bytes, i) => [partName(i), bytes.length])
    )
  })

  it("--out to a directory through throttling and cut bodies still writes GNU split's parts", async () => {
    const proxy = await FaultyProxy.start(endpoint(), faults())
    try {
      const out = path.join(work, "through-faults")
      const result = await split(
        [SOURCE, "--chunks", String(CHUNKS), "--out", out, "--lookahead", "4096", "--concurrency", "2"],
        proxy.endpoint
      )
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      for (let i = 0; i < CHUNKS; i++) {
        expect(fs.readFileSync(path.join(out, partName(i)))).toEqual(GNU_PARTS[i])
      }
      expect(fs.existsSync(path.join(out, "_manifest.json"))).toBe(true)
      // The faults were met: some GETs throttled, and GET 0 (a chunk's first, far longer than the cut) resumed.
      expect(FaultyProxy.slowdowns(proxy.requests())).toBeGreaterThan(0)
      expect(FaultyProxy.resumedCuts(proxy.requests())).toBeGreaterThan(0)
    } finally {
      await proxy.close()
    }
  })

  it("--out to an S3 prefix survives a SlowDown on writes: the first part PUT and the manifest DELETE are retried", async () => {
    let puts = 0
    let deletes = 0
    const proxy = await FaultyProxy.start(endpoint(), (request) =>
      (request.method === "PUT" && puts++ === 0) || (request.method === "DELETE" && deletes++ === 0) ? "slowdown" : "pass")
    try {
      const result = await split([SOURCE, "--chunks", String(CHUNKS), "--out", `s3://${BUCKET}/retried/`], proxy.endpoint)
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(FaultyProxy.slowdowns(proxy.requests())).toBe(2)
      for (let i = 0; i < CHUNKS; i++) {
        expect(await S3Server.getObject(s3(), BUCKET, `retried/${partName(i)}`)).toEqual(GNU_PARTS[i])
      }
      expect(await S3Server.listKeys(s3(), BUCKET, "retried/")).toEqual(expectedKeys("retried/"))
    } finally {
      await proxy.close()
    }
  })

  it("a missing bucket is one line naming the bucket, exit code 1", async () => {
    expectOneLineError(
      await split([`s3://no-such-bucket/${KEY}`, "--chunks", "3"]),
      /^s3split: bucket not found: no-such-bucket$/m
    )
  })

  it("a missing key is one line naming the object, exit code 1", async () => {
    expectOneLineError(
      await split([`s3://${BUCKET}/no/such/key`, "--chunks", "3"]),
      new RegExp(`^s3split: object not found: s3://${BUCKET}/no/such/key$`, "m")
    )
  })

  it("credentials the server refuses are one line saying access denied, exit code 1", async () => {
    expectOneLineError(
      await split([SOURCE, "--chunks", "3"], endpoint(), { AWS_ACCESS_KEY_ID: "NOT-A-KEY" }),
      new RegExp(`^s3split: access denied: s3://${BUCKET}/${KEY}`, "m")
    )
  })

  it("an unreachable endpoint gives up after the configured attempts, in one line naming the endpoint", async () => {
    const closed = `http://127.0.0.1:${await S3Server.closedPort()}`
    const result = await split([SOURCE, "--chunks", "3"], closed, { S3SPLIT_RETRY_ATTEMPTS: "3" })
    expect(result.code).not.toBe(0)
    expect(result.stdout).toBe("")
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/^s3split: /)
    expect(result.stderr).toContain(closed)
    expect(result.stderr).toContain("after 3 attempts")
  }, 60_000)

  it("a failed --out run leaves no manifest in the destination, not even one from an earlier run", async () => {
    let failing = false
    const proxy = await FaultyProxy.start(endpoint(), (request) => failing && request.method === "GET" ? "500" : "pass")
    try {
      const args = [SOURCE, "--chunks", String(CHUNKS), "--out", `s3://${BUCKET}/rerun/`]
      const first = await split(args, proxy.endpoint)
      expect(first.code).toBe(0)
      expect(await S3Server.listKeys(s3(), BUCKET, "rerun/")).toContain("rerun/_manifest.json")
      failing = true
      const second = await split(args, proxy.endpoint, { S3SPLIT_RETRY_ATTEMPTS: "2" })
      expectOneLineError(second, /after 2 attempts.*InternalError/)
      expect(await S3Server.listKeys(s3(), BUCKET, "rerun/")).not.toContain("rerun/_manifest.json")
    } finally {
      await proxy.close()
    }
  })
})
