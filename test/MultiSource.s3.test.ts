/**
 * A many-object source through the real AWS SDK on a local S3 server (s3rver), behind a
 * proxy that records every request: a prefix of 900 objects (plain, gzip, empty, no final
 * newline, a few large ones) lists in one request with no HEAD, reads back equal to `cat` of the
 * objects (gunzipped) with one GET per piece, and still does with throttled requests.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Zlib from "node:zlib"
import * as Layers from "../src/Layers.js"
import { planObjects } from "../src/MultiPlan.js"
import { readPieces } from "../src/PieceReader.js"
import { RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { parseSpecs, resolve } from "../src/SourceSet.js"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { Fixture, fixture as bucketFixture, putObject, REGION, useTestCredentials } from "./utils/S3Server.js"

useTestCredentials()

const BUCKET = "s3split-multi"
// s3rver 3.7.1 answers 500 InternalError to any ListObjectsV2 whose answer would be truncated
// (more keys than MaxKeys), so a prefix here stays below one page of 1,000 keys.
const COUNT = 900

/** Object i: its key, stored bytes and what `cat` / `gzip -dc` of it gives. */
const objectAt = (i: number) => {
  const name = `logs/obj-${String(i).padStart(5, "0")}`
  const lines = (n: number) => Buffer.from(Array.from({ length: n }, (_, k) => `object ${i} line ${k} ${"x".repeat((i * 7 + k) % 40)}\n`).join(""))
  if (i % 5 === 0) {
    const content = Buffer.concat([lines(3 + (i % 11)), lines(2)])
    return { key: `${name}.log.gz`, stored: Buffer.concat([Zlib.gzipSync(content.subarray(0, 40)), Zlib.gzipSync(content.subarray(40))]), content }
  }
  const content = i % 97 === 0 ? Buffer.alloc(0) : i % 13 === 0 ? Buffer.from(`object ${i} without final newline`) : i % 250 === 1 ? lines(4000) : lines(1 + (i % 9))
  return { key: `${name}.log`, stored: content, content }
}

const objects = Array.from({ length: COUNT }, (_, i) => objectAt(i))
const oracle = Buffer.concat(objects.map((object) => object.content))

const workerLayer = (endpoint: string) =>
  Layers.workerLayer(
    S3ObjectStore.layer({ endpoint: Option.some(endpoint), region: REGION }),
    Layer.succeed(RetryPolicy, { maxAttempts: 8, baseDelay: Duration.millis(1), maxDelay: Duration.millis(5) })
  )

/** Lists the prefix and reads it in `chunks` chunks; the chunks concatenated. */
const readAll = (chunks: number) =>
  Effect.gen(function*() {
    const sources = yield* resolve(Either.getOrThrow(parseSpecs([`s3://${BUCKET}/logs/`])))
    const { pieces } = planObjects(sources, { _tag: "Chunks", chunks })
    const parts = yield* Effect.forEach(pieces, (chunk) =>
      readPieces(sources, chunk, { lookahead: 64 * 1024 }).pipe(
        Stream.runCollect,
        Effect.map((bytes) => Buffer.concat(Chunk.toArray(bytes)))
      ), { concurrency: 4 })
    return { bytes: Buffer.concat(parts), sources, pieces: pieces.flat().length }
  })

/** The fixture, with the objects put once for the tests that share it (whichever runs first). */
let seededOnce = false
const seeded = Effect.gen(function*() {
  const fixture = yield* Fixture
  if (!seededOnce) {
    yield* Effect.forEach(objects, (object) => Effect.promise(() => putObject(fixture.client, BUCKET, object.key, object.stored)), {
      concurrency: 16,
      discard: true
    })
    seededOnce = true
  }
  return fixture
})

describe("many objects on a local S3 server", () => {
  layer(bucketFixture(BUCKET), { excludeTestServices: true })((it) => {
    it.scoped("a prefix of 900 objects: one LIST, no HEAD, one GET per piece, the bytes of cat", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* seeded
        const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
        const { bytes, pieces, sources } = yield* readAll(7).pipe(Effect.provide(workerLayer(proxy.endpoint)))
        expect(sources).toHaveLength(COUNT)
        expect(bytes.equals(oracle)).toBe(true)
        const requests = proxy.requests()
        expect(requests.filter((r) => r.method === "GET" && r.url.includes("list-type=2"))).toHaveLength(1)
        expect(requests.filter((r) => r.method === "HEAD")).toHaveLength(0)
        const gets = requests.filter((r) => r.method === "GET" && !r.url.includes("list-type=2"))
        expect(gets).toHaveLength(pieces)
      }))

    it.scoped("throttled requests (every 7th a SlowDown) are retried and give the same bytes", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* seeded
        const proxy = yield* FaultyProxy.scoped(endpoint, (request) => (request.n % 7 === 3 ? "slowdown" : "pass"))
        const { bytes } = yield* readAll(13).pipe(Effect.provide(workerLayer(proxy.endpoint)))
        expect(bytes.equals(oracle)).toBe(true)
        expect(FaultyProxy.slowdowns(proxy.requests())).toBeGreaterThan(0)
      }))
  })
})
