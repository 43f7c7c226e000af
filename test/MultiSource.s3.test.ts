/**
 * A many-object source through the real AWS SDK on a local S3 server (s3rver), behind a
 * proxy that records every request: a prefix of 2,345 objects (plain, gzip, empty, no final
 * newline, a few large ones) lists in one request per page of 1,000 keys with no HEAD, in key
 * order, and reads back equal to `cat` of the objects (gunzipped) with one GET per piece; a
 * glob of 1,000 of them still does with throttled requests.
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
import { format } from "../src/ObjectUri.js"
import { readPieces } from "../src/PieceReader.js"
import { RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { parseSpecs, resolve } from "../src/SourceSet.js"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { Fixture, fixture as bucketFixture, REGION, seedObjects, useTestCredentials } from "./utils/S3Server.js"

useTestCredentials()

const BUCKET = "s3split-multi"
// More than two pages of ListObjectsV2 (1,000 keys each). s3rver 3.7.1 makes its continuation
// tokens with DES, which OpenSSL 3 refuses (a 500 InternalError to any truncated listing) unless
// Node runs with --openssl-legacy-provider: vitest.config.ts gives the test processes that flag.
const COUNT = 2345
const PAGE = 1000

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
// `logs/obj-00*`: objects 0 to 999.
const GLOBBED = 1000
const globOracle = Buffer.concat(objects.slice(0, GLOBBED).map((object) => object.content))

const workerLayer = (endpoint: string) =>
  Layers.workerLayer(
    S3ObjectStore.layer({ endpoint: Option.some(endpoint), region: REGION }),
    Layer.succeed(RetryPolicy, { maxAttempts: 8, baseDelay: Duration.millis(1), maxDelay: Duration.millis(5) })
  )

/** Lists the prefix and reads it in `chunks` chunks; the chunks concatenated. */
const readAll = (spec: string, chunks: number) =>
  Effect.gen(function*() {
    const sources = yield* resolve(Either.getOrThrow(parseSpecs([spec])))
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
    yield* Effect.promise(() => seedObjects(fixture.endpoint, BUCKET, objects.map((object) => ({ key: object.key, body: object.stored }))))
    seededOnce = true
  }
  return fixture
})

describe("many objects on a local S3 server", () => {
  layer(bucketFixture(BUCKET), { excludeTestServices: true })((it) => {
    it.scoped("a prefix of 2,345 objects: one LIST per page of 1,000 keys, no HEAD, key order, one GET per piece, the bytes of cat", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* seeded
        const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
        const { bytes, pieces, sources } = yield* readAll(`s3://${BUCKET}/logs/`, 7).pipe(Effect.provide(workerLayer(proxy.endpoint)))
        // Complete and in key order (seeded 32 at a time, in no order).
        expect(sources.map((source) => format(source.uri))).toEqual(objects.map((object) => `s3://${BUCKET}/${object.key}`))
        expect(bytes.equals(oracle)).toBe(true)
        const requests = proxy.requests()
        const lists = requests.filter((r) => r.method === "GET" && r.url.includes("list-type=2"))
        expect(lists).toHaveLength(Math.ceil(COUNT / PAGE))
        // The first page starts the listing, every later one continues it.
        expect(lists.map((r) => r.url.includes("continuation-token="))).toEqual([false, true, true])
        expect(requests.filter((r) => r.method === "HEAD")).toHaveLength(0)
        const gets = requests.filter((r) => r.method === "GET" && !r.url.includes("list-type=2"))
        expect(gets).toHaveLength(pieces)
      }))

    it.scoped("a glob of 1,000 objects with throttled requests (every 7th a SlowDown): retried, the same bytes", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* seeded
        const proxy = yield* FaultyProxy.scoped(endpoint, (request) => (request.n % 7 === 3 ? "slowdown" : "pass"))
        const { bytes, sources } = yield* readAll(`s3://${BUCKET}/logs/obj-00*`, 13).pipe(Effect.provide(workerLayer(proxy.endpoint)))
        expect(sources).toHaveLength(GLOBBED)
        expect(bytes.equals(globOracle)).toBe(true)
        expect(FaultyProxy.slowdowns(proxy.requests())).toBeGreaterThan(0)
      }))
  })
})
