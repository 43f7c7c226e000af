/**
 * `S3ObjectStore` through the real AWS SDK against a real S3-compatible server (s3rver on
 * loopback), and the reader and `split` over it with faults injected by a proxy. Every test
 * runs on the live clock (`excludeTestServices`): real sockets need real timeouts.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import * as Boundary from "../src/Boundary.js"
import * as Executor from "../src/Executor.js"
import { ObjectStore } from "../src/ObjectStore.js"
import { format, S3Uri } from "../src/ObjectUri.js"
import { plan } from "../src/Planner.js"
import { retrying, RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { split } from "../src/Split.js"
import { snapshot, Stats } from "../src/Stats.js"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { referenceChunks } from "./utils/Reference.js"
import { closedPort, Fixture, fixture as bucketFixture, getObject, listKeys, putObject, REGION, seedObjects, useTestCredentials } from "./utils/S3Server.js"

// The store under test builds its client with the default credential chain, which reads these.
useTestCredentials()

const BUCKET = "s3split-store"

/** The server, a raw client on it, and the test bucket. */
const fixture = bucketFixture(BUCKET)

const uri = (key: string, bucket = BUCKET) => new S3Uri({ bucket, key })

const storeLayer = (endpoint: string) => S3ObjectStore.layer({ endpoint: Option.some(endpoint), region: REGION })

/** The store under test, on the fixture's server. */
const fixtureStore = Layer.unwrapEffect(Effect.map(Fixture, ({ endpoint }) => storeLayer(endpoint)))

const fastRetries = (maxAttempts: number) =>
  Layer.succeed(RetryPolicy, { maxAttempts, baseDelay: Duration.millis(1), maxDelay: Duration.millis(5) })

/** Store, counters, reader and local executor over the S3 store at `endpoint`. */
const jobLayer = (endpoint: string, maxAttempts: number) => {
  const base = Layer.merge(storeLayer(endpoint), Stats.layer)
  return Executor.localLayer.pipe(
    Layer.provideMerge(Layer.provide(Boundary.layer, base)),
    Layer.provideMerge(base),
    Layer.provideMerge(fastRetries(maxAttempts))
  )
}

const put = (key: string, bytes: Uint8Array) =>
  Effect.flatMap(Fixture, ({ client }) => Effect.promise(() => putObject(client, BUCKET, key, bytes)))
const read = (key: string) => Effect.flatMap(Fixture, ({ client }) => Effect.promise(() => getObject(client, BUCKET, key)))

const collect = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Stream.runCollect(stream), (pieces) => Buffer.concat(Chunk.toArray(pieces)))

/** Where two byte arrays first differ (-1 if equal), with their lengths: cheap to diff when large. */
const sameBytes = (actual: Uint8Array | undefined, expected: Uint8Array) => {
  const a = actual ?? new Uint8Array(0)
  let first = 0
  while (first < Math.min(a.length, expected.length) && a[first] === expected[first]) first++
  return { length: actual === undefined ? "absent" : a.length, firstDifference: first === a.length && first === expected.length ? -1 : first }
}
const identical = (expected: Uint8Array) => ({ length: expected.length, firstDifference: -1 })

/** Deterministic bytes that are not text: every value 0..255 occurs. */
const noise = (size: number, seed = 1) => {
  const bytes = Buffer.alloc(size)
  let state = seed
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) >>> 0
    bytes[i] = state >>> 24
  }
  return bytes
}

/**
 * Lines of many lengths with CRLF, NUL and invalid UTF-8 bytes, and one line of 300 KB (longer
 * than a chunk, so one chunk is empty and the reader's windows must keep doubling).
 */
const linesObject = () => {
  const parts: Array<Buffer> = []
  for (let i = 0; i < 6000; i++) {
    parts.push(Buffer.from(`${i}\t${"v".repeat((i * 37) % 211)}${i % 7 === 0 ? "\r" : ""}`, "latin1"))
    if (i % 13 === 0) parts.push(Buffer.from([0x00, 0xff, 0xc3]))
    parts.push(Buffer.from("\n"))
    if (i === 3000) parts.push(Buffer.alloc(300_000, 0x78), Buffer.from("\n"))
  }
  parts.push(Buffer.from("no trailing newline"))
  return Buffer.concat(parts)
}

/**
 * The faults of the proxy tests: of the first 40 GETs every third is throttled, and GETs 0, 4,
 * 10 and 16 lose their connection after some bytes of the body. Later GETs pass, so a run ends.
 */
const faults = () =>
  FaultyProxy.onGets((g) => {
    if (g >= 40) return "pass"
    if (g % 3 === 2) return "slowdown"
    if (g === 0 || g === 4 || g === 10 || g === 16) return { cutAfterBytes: 1000 + 977 * g }
    return "pass"
  })

/**
 * The faults were met and each cost a retry: some GETs throttled, and at least one cut body
 * resumed (GET 0 is some chunk's first request, which needs far more bytes than it gets).
 */
const expectFaultsRetried = (requests: ReadonlyArray<FaultyProxy.RecordedRequest>, retries: number) => {
  const slowdowns = FaultyProxy.slowdowns(requests)
  const resumedCuts = FaultyProxy.resumedCuts(requests)
  expect(slowdowns).toBeGreaterThan(0)
  expect(resumedCuts).toBeGreaterThan(0)
  expect(retries).toBeGreaterThanOrEqual(slowdowns + resumedCuts)
}

layer(fixture, { excludeTestServices: true })("S3ObjectStore against s3rver", (it) => {
  it.effect("head returns the size and the ETag the server gave the object", () =>
    Effect.gen(function*() {
      const bytes = noise(1234)
      const etag = yield* put("head/object", bytes)
      const version = yield* Effect.flatMap(ObjectStore, (store) => store.head(uri("head/object"))).pipe(
        Effect.provide(fixtureStore)
      )
      expect(version.size).toBe(1234)
      expect(version.etag).toBe(etag)
    }))

  it.effect("head and get tell the Content-Encoding given at PutObject; get's bytes are the stored ones", () =>
    Effect.gen(function*() {
      const { endpoint } = yield* Fixture
      const stored = Buffer.from("not really gzip, as stored\n")
      yield* Effect.promise(() => seedObjects(endpoint, BUCKET, [{ key: "encoded/object", body: stored, contentEncoding: "gzip" }]))
      yield* put("encoded/plain", stored)
      const store = yield* ObjectStore
      const version = yield* store.head(uri("encoded/object"))
      expect(version.contentEncoding).toBe("gzip")
      expect((yield* store.head(uri("encoded/plain"))).contentEncoding).toBeUndefined()
      const answers: Array<string | undefined> = []
      const onAnswer = (answer: { readonly contentEncoding: string | undefined }) => Effect.sync(() => void answers.push(answer.contentEncoding))
      const got = yield* collect(store.get(uri("encoded/object"), version, { start: 3, end: stored.length }, { onAnswer }))
      expect(Buffer.from(got).equals(stored.subarray(3))).toBe(true)
      const plainVersion = yield* store.head(uri("encoded/plain"))
      yield* collect(store.get(uri("encoded/plain"), plainVersion, { start: 0, end: stored.length }, { onAnswer }))
      expect(answers).toEqual(["gzip", undefined])
    }).pipe(Effect.provide(fixtureStore)))

  it.effect("head of a missing key is ObjectNotFoundError, of a missing bucket BucketNotFoundError", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore
      const noKey = yield* Effect.flip(store.head(uri("head/absent")))
      expect(noKey._tag).toBe("ObjectNotFoundError")
      expect(noKey.message).toBe(`object not found: s3://${BUCKET}/head/absent`)
      const noBucket = yield* Effect.flip(store.head(uri("key", "no-such-bucket")))
      expect(noBucket._tag).toBe("BucketNotFoundError")
      expect(noBucket.message).toBe("bucket not found: no-such-bucket")
    }).pipe(Effect.provide(fixtureStore)))

  it.effect("get of a half-open range returns exactly those bytes", () =>
    Effect.gen(function*() {
      const bytes = noise(100_000, 7)
      yield* put("get/object", bytes)
      const store = yield* ObjectStore
      const version = yield* store.head(uri("get/object"))
      for (const range of [{ start: 0, end: 2 }, { start: 99, end: 4321 }, { start: 65_536, end: 100_000 }, { start: 99_999, end: 100_000 }]) {
        const got = yield* collect(store.get(uri("get/object"), version, range))
        expect(sameBytes(got, bytes.subarray(range.start, range.end))).toEqual(identical(bytes.subarray(range.start, range.end)))
      }
    }).pipe(Effect.provide(fixtureStore)))

  it.effect("a server answering a ranged get with other bytes is refused, never read as the range", () =>
    Effect.gen(function*() {
      yield* put("get/tiny-range", Buffer.from("abcdef\n"))
      const store = yield* ObjectStore
      const version = yield* store.head(uri("get/tiny-range"))
      // s3rver 3.7.1 reads `bytes=0-0` as `bytes=0-` and sends the whole object (a 206 for 0-6/7).
      const error = yield* Effect.flip(collect(store.get(uri("get/tiny-range"), version, { start: 0, end: 1 })))
      expect(error._tag).toBe("StoreError")
      expect(error.message).toContain("bytes 0-6/7")
    }).pipe(Effect.provide(fixtureStore)))

  it.effect("a get pinned to an ETag that was overwritten fails with ObjectChangedError", () =>
    Effect.gen(function*() {
      const { client } = yield* Fixture
      const before = yield* put("changed/object", Buffer.from("first version\n"))
      const store = yield* ObjectStore
      const version = yield* store.head(uri("changed/object"))
      const after = yield* put("changed/object", Buffer.from("second version, longer\n"))
      expect(after).not.toBe(before)
      // The premise: s3rver ignores If-Match, so only the comparison of the response's ETag can catch this.
      const unpinned = yield* Effect.promise(() =>
        client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "changed/object", IfMatch: before! }))
      )
      const body = unpinned.Body as Readable | undefined
      body?.destroy()
      expect(unpinned.ETag).toBe(after)
      const error = yield* Effect.flip(collect(store.get(uri("changed/object"), version, { start: 0, end: 5 })))
      expect(error).toMatchObject({ _tag: "ObjectChangedError", expectedEtag: before, actualEtag: after })
    }).pipe(Effect.provide(fixtureStore)))

  it.scoped("put of a stream larger than one part goes multipart and round-trips byte for byte", () =>
    Effect.gen(function*() {
      const { endpoint } = yield* Fixture
      // Through a pass-through proxy, to see the requests the SDK makes.
      const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
      const bytes = noise(2 * 8 * 1024 * 1024 + 777_777, 3)
      // Uneven pieces, so part boundaries fall inside them.
      const pieces = Array.from({ length: Math.ceil(bytes.length / 999_983) }, (_, i) =>
        bytes.subarray(i * 999_983, (i + 1) * 999_983))
      yield* Effect.flatMap(ObjectStore, (store) => store.put(uri("put/large"), Stream.fromIterable(pieces))).pipe(
        Effect.provide(storeLayer(proxy.endpoint))
      )
      expect(sameBytes(yield* read("put/large"), bytes)).toEqual(identical(bytes))
      const requests = proxy.requests()
      expect(requests.filter((r) => r.method === "POST" && r.url.includes("uploads"))).toHaveLength(1)
      expect(requests.filter((r) => r.method === "PUT" && r.url.includes("partNumber=")).length).toBeGreaterThan(1)
    }))

  it.scoped("compose on a server without UploadPartCopy fails with ComposeUnsupportedError and writes nothing", () =>
    Effect.gen(function*() {
      const { endpoint } = yield* Fixture
      const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
      const first = Buffer.alloc(5 * 1024 * 1024, 0x61)
      yield* put("compose/first", first)
      yield* put("compose/second", Buffer.from("tail\n"))
      const error = yield* Effect.flatMap(ObjectStore, (store) =>
        store.compose(uri("compose/target"), [
          { uri: uri("compose/first"), size: first.length },
          { uri: uri("compose/second"), size: 5 }
        ])).pipe(Effect.provide(storeLayer(proxy.endpoint)), Effect.flip)
      expect(error._tag).toBe("ComposeUnsupportedError")
      expect(yield* read("compose/target")).toBeUndefined()
      // The multipart upload it began was aborted.
      expect(proxy.requests().filter((r) => r.method === "DELETE" && r.url.includes("uploadId="))).toHaveLength(1)
    }))

  it.scoped("a small put is one PutObject, and HEAD reports the content type it was given", () =>
    Effect.gen(function*() {
      const { endpoint } = yield* Fixture
      const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
      const version = yield* Effect.gen(function*() {
        const store = yield* ObjectStore
        yield* store.put(uri("put/small.json"), Stream.make(Buffer.from("{\"a\":"), Buffer.from("1}\n")), {
          contentType: "application/json"
        })
        return yield* store.head(uri("put/small.json"))
      }).pipe(Effect.provide(storeLayer(proxy.endpoint)))
      expect(yield* read("put/small.json")).toEqual(Buffer.from("{\"a\":1}\n"))
      expect(version.contentType).toBe("application/json")
      const writes = proxy.requests().filter((r) => r.method === "PUT" || r.method === "POST")
      expect(writes).toHaveLength(1)
      expect(FaultyProxy.creates(proxy.requests())).toBe(0)
    }))

  it.scoped("a transient UploadPart failure retries that part only: the body is pulled once", () =>
    Effect.gen(function*() {
      const { endpoint } = yield* Fixture
      let partPuts = 0
      const proxy = yield* FaultyProxy.scoped(endpoint, (request) =>
        request.method === "PUT" && request.url.includes("partNumber=") && partPuts++ === 1 ? "500" : "pass")
      const bytes = noise(2 * 8 * 1024 * 1024 + 12_345, 5)
      let pulls = 0
      const body = Stream.suspend(() => {
        pulls++
        return Stream.fromIterable(Array.from({ length: Math.ceil(bytes.length / 65_536) }, (_, i) => bytes.subarray(i * 65_536, (i + 1) * 65_536)))
      })
      yield* Effect.flatMap(ObjectStore, (store) => store.put(uri("put/part-retried"), body)).pipe(
        Effect.provide(storeLayer(proxy.endpoint)),
        Effect.provide(fastRetries(4))
      )
      expect(sameBytes(yield* read("put/part-retried"), bytes)).toEqual(identical(bytes))
      expect(pulls).toBe(1)
      // Three parts, one of them sent twice.
      expect(FaultyProxy.partPuts(proxy.requests())).toBe(4)
      expect(FaultyProxy.creates(proxy.requests())).toBe(1)
      expect(FaultyProxy.aborts(proxy.requests())).toBe(0)
    }))

  it.scoped("an interrupted multipart put aborts its upload, and the abort is done when the interruption returns", () =>
    Effect.gen(function*() {
      const { endpoint, client } = yield* Fixture
      const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
      // Two parts' worth, then a body that never ends.
      const body = Stream.concat(Stream.make(noise(9 * 1024 * 1024, 9)), Stream.never)
      yield* Effect.gen(function*() {
        const store = yield* ObjectStore
        const fiber = yield* Effect.fork(store.put(uri("put/interrupted"), body))
        yield* Effect.suspend(() => FaultyProxy.partPuts(proxy.requests()) === 1 ? Effect.void : Effect.fail("not yet")).pipe(
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("20 seconds")))
        )
        yield* Fiber.interrupt(fiber)
        expect(FaultyProxy.creates(proxy.requests())).toBe(1)
        expect(FaultyProxy.aborts(proxy.requests())).toBe(1)
      }).pipe(Effect.provide(storeLayer(proxy.endpoint)))
      expect(yield* Effect.promise(() => listKeys(client, BUCKET, "put/interrupted"))).toEqual([])
    }))

  it.scoped("a put whose body fails aborts its upload and fails with the body's error", () =>
    Effect.gen(function*() {
      const { endpoint } = yield* Fixture
      const proxy = yield* FaultyProxy.scoped(endpoint, () => "pass")
      const body = Stream.concat(Stream.make(noise(9 * 1024 * 1024, 11)), Stream.fail("the command failed" as const))
      const error = yield* Effect.flatMap(ObjectStore, (store) => store.put(uri("put/body-failed"), body)).pipe(
        Effect.provide(storeLayer(proxy.endpoint)),
        Effect.flip
      )
      expect(error).toBe("the command failed")
      expect(yield* read("put/body-failed")).toBeUndefined()
      expect(FaultyProxy.creates(proxy.requests())).toBe(1)
      expect(FaultyProxy.aborts(proxy.requests())).toBe(1)
    }))

  for (const answer of ["500", "501"] as const) {
    it.scoped(`compose whose UploadPartCopy is answered ${answer} is unsupported, its upload aborted`, () =>
      Effect.gen(function*() {
        const { endpoint } = yield* Fixture
        const pins: Array<string | undefined> = []
        const proxy = yield* FaultyProxy.scoped(endpoint, (request) => {
          if (!(request.method === "PUT" && request.url.includes("partNumber=") && "x-amz-copy-source" in request.headers)) return "pass"
          pins.push(request.headers["x-amz-copy-source-if-match"] as string | undefined)
          return answer
        })
        const first = Buffer.alloc(5 * 1024 * 1024, 0x62)
        const firstEtag = yield* put(`compose-${answer}/first`, first)
        yield* put(`compose-${answer}/second`, Buffer.from("tail\n"))
        const error = yield* Effect.flatMap(ObjectStore, (store) =>
          store.compose(uri(`compose-${answer}/target`), [
            { uri: uri(`compose-${answer}/first`), size: first.length, etag: firstEtag! },
            { uri: uri(`compose-${answer}/second`), size: 5 }
          ])).pipe(Effect.provide(storeLayer(proxy.endpoint)), Effect.flip)
        expect(error._tag).toBe("ComposeUnsupportedError")
        expect(yield* read(`compose-${answer}/target`)).toBeUndefined()
        const requests = proxy.requests()
        expect(FaultyProxy.creates(requests)).toBe(1)
        expect(FaultyProxy.aborts(requests)).toBe(1)
        // A 500 is tried 3 times per copy before it counts as a refusal; a 501 once.
        expect(requests.filter((r) => r.method === "PUT" && r.url.includes("partNumber=")).length).toBeLessThanOrEqual(answer === "500" ? 6 : 2)
        // The first source's copy is pinned to the ETag it had.
        expect(pins).toContain(firstEtag)
      }))
  }

  it.effect("list finds every object under a prefix in key order; removeAll removes exactly those", () =>
    Effect.gen(function*() {
      for (const key of ["tree/b", "tree/a/2", "tree/a/1", "treetop", "other/x"]) yield* put(key, Buffer.from(key))
      const store = yield* ObjectStore
      const listed = yield* store.list(uri("tree/"))
      expect(listed.map((object) => format(object.uri))).toEqual(
        ["tree/a/1", "tree/a/2", "tree/b"].map((key) => `s3://${BUCKET}/${key}`)
      )
      expect(listed.map((object) => object.size)).toEqual([8, 8, 6])
      expect(listed.every((object) => object.etag.startsWith("\""))).toBe(true)
      expect(yield* store.list(uri("nothing-here/"))).toEqual([])
      // s3rver answers ListMultipartUploads with 501: removeAll carries on with the objects.
      yield* store.removeAll(uri("tree/"))
      expect(yield* store.list(uri("tree/"))).toEqual([])
      expect(yield* read("treetop")).toEqual(Buffer.from("treetop"))
      expect(yield* read("other/x")).toEqual(Buffer.from("other/x"))
      yield* store.removeAll(uri("tree/"))
    }).pipe(Effect.provide(fixtureStore)))

  it.effect("remove deletes the object; removing an absent object succeeds", () =>
    Effect.gen(function*() {
      yield* put("remove/object", Buffer.from("x\n"))
      const store = yield* ObjectStore
      yield* store.remove(uri("remove/object"))
      expect(yield* read("remove/object")).toBeUndefined()
      expect((yield* Effect.flip(store.head(uri("remove/object"))))._tag).toBe("ObjectNotFoundError")
      yield* store.remove(uri("remove/object"))
      yield* store.remove(uri("remove/never-existed"))
    }).pipe(Effect.provide(fixtureStore)))

  it.effect("an unreachable endpoint is a TransientStoreError naming it, RetriesExhaustedError after the retries", () =>
    Effect.gen(function*() {
      const endpoint = `http://127.0.0.1:${yield* Effect.promise(closedPort)}`
      const source = uri("any/key")
      yield* Effect.gen(function*() {
        const store = yield* ObjectStore
        const once = yield* Effect.flip(store.head(source))
        expect(once).toMatchObject({ _tag: "TransientStoreError", endpoint })
        expect(once.message).toContain(endpoint)
        const retried = yield* Effect.flip(retrying(format(source), store.head(source)))
        expect(retried).toMatchObject({ _tag: "RetriesExhaustedError", uri: `s3://${BUCKET}/any/key`, attempts: 3 })
        expect(retried.message).toContain(endpoint)
        const stats = yield* snapshot
        expect(stats.requests).toBe(3)
        expect(stats.retries).toBe(2)
      }).pipe(Effect.provide(Layer.mergeAll(storeLayer(endpoint), Stats.layer, fastRetries(3))))
    }))

  it.scoped("readChunk through throttling and cut bodies still equals the sequential reference", () =>
    Effect.gen(function*() {
      const bytes = linesObject()
      yield* put("faults/read", bytes)
      const { endpoint } = yield* Fixture
      const proxy = yield* FaultyProxy.scoped(endpoint, faults())
      const approx = plan(bytes.length, { _tag: "Chunks", chunks: 9 })
      const { parts, stats } = yield* Effect.gen(function*() {
        const boundary = yield* Boundary.Boundary
        const version = yield* Effect.flatMap(ObjectStore, (store) => store.head(uri("faults/read")))
        const parts = yield* Effect.forEach(
          approx,
          (range) => collect(boundary.readChunk(uri("faults/read"), version, range, { lookahead: 4096 })),
          { concurrency: 3 }
        )
        return { parts, stats: yield* snapshot }
      }).pipe(Effect.provide(jobLayer(proxy.endpoint, 10)))
      const expected = referenceChunks(bytes, approx)
      parts.forEach((part, i) => expect(sameBytes(part, expected[i]!), `chunk ${i}`).toEqual(identical(expected[i]!)))
      expect(parts.some((part) => part.length === 0)).toBe(true)
      expectFaultsRetried(proxy.requests(), stats.retries)
    }))

  it.scoped("a split to an S3 prefix through throttling and cut bodies writes exactly the reference chunks", () =>
    Effect.gen(function*() {
      const bytes = linesObject()
      yield* put("faults/split", bytes)
      const { endpoint } = yield* Fixture
      const proxy = yield* FaultyProxy.scoped(endpoint, faults())
      const chunks = 7
      const stats = yield* Effect.gen(function*() {
        const version = yield* Effect.flatMap(ObjectStore, (store) => store.head(uri("faults/split")))
        yield* split({
          source: uri("faults/split"),
          spec: { _tag: "Chunks", chunks },
          out: uri("faults/out/"),
          concurrency: 4,
          lookahead: 4096
        }, version)
        return yield* snapshot
      }).pipe(Effect.provide(jobLayer(proxy.endpoint, 10)))
      const expected = referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks }))
      for (const [i, chunk] of expected.entries()) {
        const part = yield* read(`faults/out/part-${String(i).padStart(5, "0")}`)
        expect(sameBytes(part, chunk), `part ${i}`).toEqual(identical(chunk))
      }
      const manifest = JSON.parse((yield* read("faults/out/_manifest.json"))!.toString("utf8"))
      expect(manifest.parts).toHaveLength(chunks)
      expectFaultsRetried(proxy.requests(), stats.retries)
    }))
})

describe("S3 request shapes", () => {
  it("a 412 names the ETag the request was pinned to", () => {
    const error = S3ObjectStore.classify(uri("k"), "http://127.0.0.1:1", { name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } }, {
      expectedEtag: "\"abc\""
    })
    expect(error).toMatchObject({ _tag: "ObjectChangedError", expectedEtag: "\"abc\"" })
    expect(error.message).toContain("\"abc\"")
  })

  it("compose copies a source over 5 GiB in contiguous ranges of at most 5 GiB, each pinned to its ETag", () => {
    const GiB = 1024 * 1024 * 1024
    const plan = S3ObjectStore.copyPlan([
      { uri: uri("a"), size: 12 * GiB + 3, etag: "\"a\"" },
      { uri: uri("empty"), size: 0 },
      { uri: uri("b"), size: 10 }
    ])
    if (typeof plan === "string") throw new Error(plan)
    expect(plan.map((part) => part.source.key)).toEqual(["a", "a", "a", "b"])
    const ranges = plan.slice(0, 3).map((part) => part.range!)
    expect(ranges[0]!.start).toBe(0)
    expect(ranges.every((range, i) => i === 0 || range.start === ranges[i - 1]!.end)).toBe(true)
    expect(ranges.at(-1)!.end).toBe(12 * GiB + 3)
    expect(ranges.every((range) => range.end - range.start <= 5 * GiB && range.end - range.start >= 5 * 1024 * 1024)).toBe(true)
    expect(plan.slice(0, 3).every((part) => part.etag === "\"a\"")).toBe(true)
    expect(plan[3]).toEqual({ source: uri("b"), bytes: 10 })
  })

  it("compose refuses sources under 5 MiB but the last, and more than 10,000 parts", () => {
    expect(S3ObjectStore.copyPlan([{ uri: uri("a"), size: 100 }, { uri: uri("b"), size: 10 }])).toMatch(/at least 5 MiB/)
    const many = Array.from({ length: 10_001 }, (_, i) => ({ uri: uri(`p${i}`), size: 5 * 1024 * 1024 }))
    expect(S3ObjectStore.copyPlan(many)).toMatch(/10,000/)
  })
})
