/**
 * The endings of runs against a real S3-compatible server (s3rver on loopback, through a
 * recording proxy), through the real command line: a server that never answers, a body that
 * stalls, SIGINT during uploads, a compose the server refuses. Each asserts the exit status,
 * the one stderr line, and what is left: commands, multipart uploads, objects under the
 * work prefix.
 */
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3"
import type { S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { liveGroups, recordingGroup, waitForLines } from "./utils/Processes.js"
import { lines, runCli, startCli } from "./utils/RunCli.js"
import * as S3Server from "./utils/S3Server.js"

const BUCKET = "s3split-endings"
const SMALL = "small.log"
const LARGE = "large.log"
const SMALL_OBJECT = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `${i} small line ${"s".repeat(i % 37)}`).join("\n") + "\n")
/** 24 MiB: two chunks of 12 MiB, each a multipart upload of 8 MiB parts, and each output large enough to compose. */
const LARGE_OBJECT = Buffer.from(Array.from({ length: 24 * 1024 }, (_, i) => `${String(i).padStart(8, "0")} ${"x".repeat(1014)}`).join("\n") + "\n")

/** Short retries and timeouts, so the failure cases end quickly. */
const ENV = {
  ...S3Server.credentialsEnv,
  S3SPLIT_RETRY_ATTEMPTS: "3",
  S3SPLIT_RETRY_BASE_DELAY: "5 millis",
  S3SPLIT_RETRY_MAX_DELAY: "50 millis"
}

let server: S3Server.S3ServerHandle | undefined
let client: S3Client | undefined
const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-endings-s3-"))
let counter = 0
const fresh = (name: string) => {
  const dir = path.join(work, `${name}-${counter++}`)
  fs.mkdirSync(dir)
  return dir
}

beforeAll(async () => {
  server = await S3Server.start()
  client = S3Server.rawClient(server.endpoint)
  await S3Server.createBucket(client, BUCKET)
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: SMALL, Body: SMALL_OBJECT, ContentType: "text/x-log" }))
  await S3Server.putObject(client, BUCKET, LARGE, LARGE_OBJECT)
})

afterAll(async () => {
  client?.destroy()
  await server?.close()
  fs.rmSync(work, { recursive: true, force: true })
})

/** Length and SHA-256 of some bytes: a failed comparison of megabytes prints two lines, not a diff. */
const digest = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? "absent" : `${bytes.length} bytes, sha256 ${crypto.createHash("sha256").update(bytes).digest("hex")}`

const keys = (prefix: string) => S3Server.listKeys(client!, BUCKET, prefix)

/** A proxy for one test, closed afterwards. */
const withProxy = async <A>(plan: FaultyProxy.FaultPlan, use: (proxy: FaultyProxy.FaultyProxyHandle) => Promise<A>) => {
  const proxy = await FaultyProxy.start(server!.endpoint, plan)
  try {
    return await use(proxy)
  } finally {
    await proxy.close()
  }
}

/** Resolves once `ready()` holds. */
const until = async (ready: () => boolean | Promise<boolean>) => {
  while (!(await ready())) await new Promise((resolve) => setTimeout(resolve, 50))
}

describe("no request hangs", () => {
  it("an endpoint that accepts connections and never answers fails in one line naming it", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const silent = yield* FaultyProxy.silentScoped
      const result = yield* Effect.promise(() =>
        runCli(["split", `s3://${BUCKET}/${SMALL}`, "--chunks", "2", "--endpoint", silent.endpoint], {
          ...ENV,
          S3SPLIT_FIRST_BYTE_TIMEOUT: "500 millis"
        })
      )
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toHaveLength(1)
      expect(result.stderr).toMatch(/^s3split: gave up .* after 3 attempts/)
      expect(result.stderr).toContain(silent.endpoint)
      expect(silent.accepted()).toBe(3)
    }))))

  it("a body that stalls is retried from the next unread byte; the parts stay byte-exact", () =>
    withProxy(FaultyProxy.onGets((g) => (g === 0 ? { stallAfterBytes: 1000 } : "pass")), async (proxy) => {
      const out = fresh("stalled")
      const result = await runCli(
        ["split", `s3://${BUCKET}/${SMALL}`, "--chunks", "1", "--out", out, "--endpoint", proxy.endpoint],
        { ...ENV, S3SPLIT_STALL_TIMEOUT: "500 millis" }
      )
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(digest(fs.readFileSync(path.join(out, "part-00000")))).toBe(digest(SMALL_OBJECT))
      expect(proxy.stalls()).toBe(1)
      expect(proxy.requests().filter((r) => r.method === "GET").map((r) => r.range)).toEqual([
        `bytes=0-${SMALL_OBJECT.length - 1}`,
        `bytes=1000-${SMALL_OBJECT.length - 1}`
      ])
    }))

  it("a body that always stalls fails in one line saying so", () =>
    withProxy(() => ({ stallAfterBytes: 0 }), async (proxy) => {
      const result = await runCli(
        ["split", `s3://${BUCKET}/${SMALL}`, "--chunks", "1", "--out", fresh("never"), "--endpoint", proxy.endpoint],
        { ...ENV, S3SPLIT_STALL_TIMEOUT: "300 millis", S3SPLIT_FIRST_BYTE_TIMEOUT: "300 millis" }
      )
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toHaveLength(1)
      expect(result.stderr).toMatch(/^s3split: .*stall/)
    }))
})

describe("SIGINT during uploads: every multipart upload aborted, nothing left", () => {
  it("split --out s3://: status 130, one line, as many aborts as uploads started, no part left", () =>
    withProxy(() => "pass", async (proxy) => {
      const { child, result } = startCli(
        ["split", `s3://${BUCKET}/${LARGE}`, "--chunks", "2", "--out", `s3://${BUCKET}/interrupted-split/`, "--endpoint", proxy.endpoint],
        ENV
      )
      await until(() => FaultyProxy.partPuts(proxy.requests()) >= 1)
      child.kill("SIGINT")
      const ended = await result
      expect(ended.code).toBe(130)
      expect(lines(ended.stderr)).toEqual(["s3split: interrupted"])
      const requests = proxy.requests()
      expect(FaultyProxy.creates(requests)).toBeGreaterThan(0)
      expect(FaultyProxy.aborts(requests)).toBe(FaultyProxy.creates(requests))
      expect(await keys("interrupted-split/")).toEqual([])
    }))

  it("run --work-prefix s3://: status 130, no command left, no upload open, the work prefix empty", () =>
    withProxy(() => "pass", async (proxy) => {
      const groups = path.join(fresh("groups"), "groups")
      const { child, result } = startCli(
        [
          "run", `s3://${BUCKET}/${LARGE}`, "--chunks", "2", "--exec", recordingGroup(groups, "cat; sleep 30"),
          "--work-prefix", `s3://${BUCKET}/work-interrupted/`, "--out", `s3://${BUCKET}/never-merged.log`,
          "--endpoint", proxy.endpoint
        ],
        ENV
      )
      await waitForLines(groups, 2)
      await until(() => FaultyProxy.partPuts(proxy.requests()) >= 2)
      child.kill("SIGINT")
      const ended = await result
      expect(ended.code).toBe(130)
      expect(lines(ended.stderr)).toEqual(["s3split: interrupted"])
      expect(liveGroups(groups)).toEqual([])
      const requests = proxy.requests()
      expect(FaultyProxy.aborts(requests)).toBe(FaultyProxy.creates(requests))
      expect(await keys("work-interrupted/")).toEqual([])
      expect(await keys("never-merged")).toEqual([])
    }))
})

describe("a compose the server refuses falls back to streaming", () => {
  it("UploadPartCopy answered 500: the merged object is still written, and the work prefix is emptied", () =>
    withProxy((request) => (request.method === "PUT" && request.headers["x-amz-copy-source"] !== undefined ? "500" : "pass"), async (proxy) => {
      const result = await runCli(
        [
          "run", `s3://${BUCKET}/${LARGE}`, "--chunks", "2", "--exec", "cat",
          "--work-prefix", `s3://${BUCKET}/work-compose/`, "--out", `s3://${BUCKET}/merged.log`,
          "--endpoint", proxy.endpoint
        ],
        ENV
      )
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(digest(await S3Server.getObject(client!, BUCKET, "merged.log"))).toBe(digest(LARGE_OBJECT))
      const requests = proxy.requests()
      expect(requests.some((r) => r.fault === "500")).toBe(true)
      expect(await keys("work-compose/")).toEqual([])
    }))
})

describe("split --out leaves DEST holding exactly this run's set", () => {
  it("a DEST used before with a larger N ends with this run's parts and manifest only; the manifest is JSON, the parts keep the source's type", async () => {
    const args = (chunks: number) => ["split", `s3://${BUCKET}/${SMALL}`, "--chunks", String(chunks), "--out", `s3://${BUCKET}/reused/`, "--endpoint", server!.endpoint]
    expect((await runCli(args(12), ENV)).code).toBe(0)
    expect(await keys("reused/")).toHaveLength(13)
    const second = await runCli(args(3), ENV)
    expect(second.code).toBe(0)
    expect(await keys("reused/")).toEqual(["reused/_manifest.json", "reused/part-00000", "reused/part-00001", "reused/part-00002"])
    const parts = await Promise.all([0, 1, 2].map((i) => S3Server.getObject(client!, BUCKET, `reused/part-0000${i}`)))
    expect(digest(Buffer.concat(parts.map((part) => part!)))).toBe(digest(SMALL_OBJECT))
    const contentType = async (key: string) => (await client!.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ContentType
    expect(await contentType("reused/_manifest.json")).toBe("application/json")
    expect(await contentType("reused/part-00001")).toBe("text/x-log")
  })
})
