/**
 * No S3 request can hang: a server that accepts and never answers, and a body that stalls,
 * become transient faults naming the endpoint (retried; a body resumes from the next unread
 * byte), and interrupting a reader drops its connection at once. Small configured timeouts keep
 * the tests fast; they assert only that things end, and how, never how long they took.
 */
import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { ObjectStore, ObjectVersion } from "../src/ObjectStore.js"
import { format, S3Uri } from "../src/ObjectUri.js"
import { readRange, retrying, RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { Stats } from "../src/Stats.js"
import * as FaultyProxy from "./utils/FaultyProxy.js"
import { Fixture, fixture as bucketFixture, putObject, REGION, useTestCredentials } from "./utils/S3Server.js"

useTestCredentials()

const BUCKET = "s3split-timeouts"
const uri = (key: string) => new S3Uri({ bucket: BUCKET, key })

const fixture = bucketFixture(BUCKET)

/** Small timeouts so that faults surface quickly; `stall` large where a test must outwait nothing. */
const timeouts = (stall = Duration.millis(400)): S3ObjectStore.S3Timeouts => ({
  connect: Duration.seconds(1),
  firstByte: Duration.millis(400),
  stall
})

const storeAt = (endpoint: string, stall?: Duration.Duration) =>
  Layer.mergeAll(
    S3ObjectStore.layer({ endpoint: Option.some(endpoint), region: REGION, timeouts: timeouts(stall) }),
    Stats.layer,
    Layer.succeed(RetryPolicy, { maxAttempts: 3, baseDelay: Duration.millis(1), maxDelay: Duration.millis(5) })
  )

const collect = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Stream.runCollect(stream), (pieces) => Buffer.concat(Chunk.toArray(pieces)))

/** Waits (polling, within a generous bound) until `condition` holds. */
const eventually = (condition: () => boolean) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail("not yet" as const))).pipe(
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("20 seconds")))
  )

const bytes = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i}\n`).join(""))

layer(fixture, { excludeTestServices: true })("S3 timeouts", (it) => {
  it.scoped("a server that accepts connections and never answers: transient, naming the endpoint; the retried call ends", () =>
    Effect.gen(function*() {
      const silent = yield* FaultyProxy.silentScoped
      const source = uri("never/answered")
      const version = new ObjectVersion({ size: 100, etag: "\"x\"" })
      yield* Effect.gen(function*() {
        const store = yield* ObjectStore
        const once = yield* Effect.flip(store.head(source))
        expect(once).toMatchObject({ _tag: "TransientStoreError", endpoint: silent.endpoint })
        expect(once.message).toContain(silent.endpoint)
        const retried = yield* Effect.flip(retrying(format(source), store.head(source)))
        expect(retried).toMatchObject({ _tag: "RetriesExhaustedError", attempts: 3 })
        expect(retried.message).toContain(silent.endpoint)
        const read = yield* Effect.flip(collect(readRange(source, version, { start: 0, end: 100 })))
        expect(read).toMatchObject({ _tag: "RetriesExhaustedError", attempts: 3 })
        expect(read.message).toContain(silent.endpoint)
      }).pipe(Effect.provide(storeAt(silent.endpoint)))
      // 1 + 3 + 3 requests, each on a connection the client dropped when it gave up.
      expect(silent.accepted()).toBe(7)
      yield* eventually(() => silent.open() === 0)
    }))

  it.scoped("a body that stalls after 10 bytes is a transient fault; the read resumes and is exact", () =>
    Effect.gen(function*() {
      const { client, endpoint } = yield* Fixture
      yield* Effect.promise(() => putObject(client, BUCKET, "stall/resumed", bytes))
      const proxy = yield* FaultyProxy.scoped(endpoint, FaultyProxy.onGets((g) => (g === 0 ? { stallAfterBytes: 10 } : "pass")))
      const source = uri("stall/resumed")
      const got = yield* Effect.gen(function*() {
        const version = yield* Effect.flatMap(ObjectStore, (store) => store.head(source))
        return yield* collect(readRange(source, version, { start: 100, end: bytes.length }))
      }).pipe(Effect.provide(storeAt(proxy.endpoint)))
      expect(got.equals(bytes.subarray(100))).toBe(true)
      const gets = proxy.requests().filter((r) => r.method === "GET")
      // The second GET starts right after the 10 bytes the stalled one delivered.
      expect(gets.map((r) => r.range)).toEqual([`bytes=100-${bytes.length - 1}`, `bytes=110-${bytes.length - 1}`])
      yield* eventually(() => proxy.openStalls() === 0)
    }))

  it.scoped("a body that stalls on every attempt fails with RetriesExhaustedError naming the stall and the endpoint", () =>
    Effect.gen(function*() {
      const { client, endpoint } = yield* Fixture
      yield* Effect.promise(() => putObject(client, BUCKET, "stall/always", bytes))
      // Headers, then no byte at all: no progress, so the attempts are not renewed.
      const proxy = yield* FaultyProxy.scoped(endpoint, FaultyProxy.onGets(() => ({ stallAfterBytes: 0 })))
      const source = uri("stall/always")
      const error = yield* Effect.gen(function*() {
        const version = yield* Effect.flatMap(ObjectStore, (store) => store.head(source))
        return yield* Effect.flip(collect(readRange(source, version, { start: 0, end: bytes.length })))
      }).pipe(Effect.provide(storeAt(proxy.endpoint)))
      expect(error).toMatchObject({ _tag: "RetriesExhaustedError", attempts: 3 })
      expect(error.message).toContain("stalled")
      expect(error.message).toContain(proxy.endpoint)
      expect(proxy.stalls()).toBe(3)
      yield* eventually(() => proxy.openStalls() === 0)
    }))

  it.scoped("interrupting a fiber reading a stalled GET ends promptly and the server sees the socket closed", () =>
    Effect.gen(function*() {
      const { client, endpoint } = yield* Fixture
      yield* Effect.promise(() => putObject(client, BUCKET, "stall/interrupted", bytes))
      const proxy = yield* FaultyProxy.scoped(endpoint, FaultyProxy.onGets(() => ({ stallAfterBytes: 10 })))
      const source = uri("stall/interrupted")
      // A stall timeout far longer than the test: only the interruption can end the read.
      yield* Effect.gen(function*() {
        const store = yield* ObjectStore
        const version = yield* store.head(source)
        const reader = yield* Effect.fork(collect(store.get(source, version, { start: 0, end: bytes.length })))
        yield* eventually(() => proxy.openStalls() === 1)
        yield* Fiber.interrupt(reader)
        yield* eventually(() => proxy.openStalls() === 0)
        expect(proxy.stalls()).toBe(1)
      }).pipe(Effect.provide(storeAt(proxy.endpoint, Duration.minutes(10))))
    }))

  it.scoped("interrupting a request that never gets an answer drops its connection", () =>
    Effect.gen(function*() {
      const silent = yield* FaultyProxy.silentScoped
      const source = uri("never/answered")
      yield* Effect.gen(function*() {
        const store = yield* ObjectStore
        const version = new ObjectVersion({ size: 100, etag: "\"x\"" })
        const reader = yield* Effect.fork(collect(store.get(source, version, { start: 0, end: 100 })))
        yield* eventually(() => silent.open() === 1)
        yield* Fiber.interrupt(reader)
        yield* eventually(() => silent.open() === 0)
      }).pipe(
        Effect.provide(Layer.mergeAll(
          S3ObjectStore.layer({
            endpoint: Option.some(silent.endpoint),
            region: REGION,
            timeouts: { connect: Duration.seconds(1), firstByte: Duration.minutes(10), stall: Duration.minutes(10) }
          }),
          Stats.layer
        ))
      )
    }))
})
