/**
 * An in-memory `ObjectStore` for fast, deterministic tests. Objects are keyed by URI; every
 * request is logged; a fault plan decides, per request, whether to throttle, fail with a 5xx,
 * cut the body after k bytes, delay, or overwrite the object first. Bodies are delivered in
 * pieces of a chosen size to exercise readers on small reads.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as Duration from "effect/Duration"
import type { ByteRange } from "./ByteRange.js"
import { ObjectChangedError, ObjectNotFoundError, TransientStoreError } from "./Errors.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import type { ObjectUri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"

/** One request as the store saw it. `range` is set on ranged GETs only. */
export interface RequestRecord {
  readonly op: "head" | "get" | "put" | "compose" | "remove"
  readonly uri: string
  readonly range?: ByteRange
}

/** What to do to one request. */
export type Fault =
  | { readonly _tag: "Throttle" }
  | { readonly _tag: "ServerError"; readonly status: number }
  | { readonly _tag: "CutBody"; readonly afterBytes: number }
  | { readonly _tag: "Delay"; readonly duration: Duration.DurationInput }
  | { readonly _tag: "Overwrite"; readonly bytes: Uint8Array }

/** Decides the fault for the n-th request (0-based, all operations counted). */
export type FaultPlan = (request: RequestRecord, n: number) => Fault | undefined

export interface MemoryOptions {
  /** Size of the pieces a body is delivered in (default 64 KiB). */
  readonly pieceSize?: number
  readonly faults?: FaultPlan
}

interface Stored {
  readonly bytes: Uint8Array
  readonly etag: string
}

export interface MemoryObjectStore {
  readonly store: ObjectStore["Type"]
  /** Puts an object directly, bypassing the log and the fault plan. */
  readonly seed: (uri: ObjectUri, bytes: Uint8Array) => Effect.Effect<void>
  /** The stored bytes, if any. */
  readonly read: (uri: ObjectUri) => Effect.Effect<Uint8Array | undefined>
  /** Every request so far, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** The URIs of all stored objects. */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
}

export const make = (options: MemoryOptions = {}): Effect.Effect<MemoryObjectStore> =>
  Effect.gen(function*() {
    const objects = yield* Ref.make(new Map<string, Stored>())
    const log = yield* Ref.make<ReadonlyArray<RequestRecord>>([])
    const generation = yield* Ref.make(0)
    const pieceSize = options.pieceSize ?? 64 * 1024

    const write = (key: string, bytes: Uint8Array) =>
      Ref.getAndUpdate(generation, (n) => n + 1).pipe(
        Effect.flatMap((n) =>
          Ref.update(objects, (map) => new Map(map).set(key, { bytes, etag: `"mem-${n}-${bytes.length}"` }))
        )
      )

    /** Logs the request and applies its fault; fails for throttling and 5xx. */
    const admit = (request: RequestRecord) =>
      Effect.gen(function*() {
        const n = (yield* Ref.getAndUpdate(log, (all) => [...all, request])).length
        const fault = options.faults?.(request, n)
        switch (fault?._tag) {
          case "Throttle":
            return yield* new TransientStoreError({ uri: request.uri, reason: "503 SlowDown: please reduce your request rate" })
          case "ServerError":
            return yield* new TransientStoreError({ uri: request.uri, reason: `${fault.status} server error` })
          case "Delay":
            yield* Effect.sleep(fault.duration)
            return undefined
          case "Overwrite":
            yield* write(request.uri, fault.bytes)
            return undefined
          default:
            return fault
        }
      })

    const lookup = (key: string) =>
      Effect.flatMap(Ref.get(objects), (map) => {
        const found = map.get(key)
        return found === undefined ? Effect.fail(new ObjectNotFoundError({ uri: key })) : Effect.succeed(found)
      })

    const store = ObjectStore.of({
      head: (uri) =>
        admit({ op: "head", uri: format(uri) }).pipe(
          Effect.zipRight(lookup(format(uri))),
          Effect.map((found) => new ObjectVersion({ size: found.bytes.length, etag: found.etag }))
        ),
      get: (uri, version, range) =>
        Stream.unwrap(Effect.gen(function*() {
          const key = format(uri)
          const fault = yield* admit({ op: "get", uri: key, range })
          const found = yield* lookup(key)
          if (found.etag !== version.etag) {
            return yield* new ObjectChangedError({ uri: key, expectedEtag: version.etag, actualEtag: found.etag })
          }
          const limit = fault?._tag === "CutBody" ? range.start + fault.afterBytes : range.end
          const body = found.bytes.subarray(range.start, Math.min(range.end, limit, found.bytes.length))
          const pieces = Chunk.unsafeFromArray(
            Array.from({ length: Math.ceil(body.length / pieceSize) }, (_, i) =>
              body.subarray(i * pieceSize, (i + 1) * pieceSize))
          )
          return Stream.fromChunk(pieces)
        })),
      put: (uri, body) =>
        admit({ op: "put", uri: format(uri) }).pipe(
          Effect.zipRight(Stream.runCollect(body)),
          Effect.flatMap((pieces) => write(format(uri), Buffer.concat(Chunk.toArray(pieces))))
        ),
      compose: (target, sources) =>
        admit({ op: "compose", uri: format(target) }).pipe(
          Effect.zipRight(Effect.forEach(sources, (source) => lookup(format(source.uri)))),
          Effect.flatMap((found) => write(format(target), Buffer.concat(found.map((object) => object.bytes))))
        ),
      remove: (uri) =>
        admit({ op: "remove", uri: format(uri) }).pipe(
          Effect.zipRight(Ref.update(objects, (map) => {
            const next = new Map(map)
            next.delete(format(uri))
            return next
          }))
        )
    })

    return {
      store,
      seed: (uri, bytes) => write(format(uri), bytes),
      read: (uri) => Effect.map(Ref.get(objects), (map) => map.get(format(uri))?.bytes),
      requests: Ref.get(log),
      keys: Effect.map(Ref.get(objects), (map) => [...map.keys()].sort())
    }
  })

/** A fresh, empty, fault-free in-memory store. */
export const layer = (options?: MemoryOptions) => Layer.effect(ObjectStore, Effect.map(make(options), (m) => m.store))
