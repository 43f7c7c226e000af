/**
 * An in-memory `ObjectStore` for fast, deterministic tests. Objects are keyed by URI; every
 * request is logged; a fault plan decides, per request, whether to throttle, fail with a 5xx,
 * cut the body after k bytes, delay, or overwrite the object first. Bodies are delivered in
 * pieces of a chosen size to exercise readers on small reads. A put is one request made after
 * its body is read, retried by the store itself as S3's part uploads are (so a fault on a put
 * costs a repeated request, never a re-read body).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as Duration from "effect/Duration"
import type { ByteRange } from "./ByteRange.js"
import { CopyRangeUnsupportedError, ObjectChangedError, ObjectNotFoundError, TransientStoreError } from "./Errors.js"
import { retryingInStore } from "./Retry.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import { FileUri, S3Uri } from "./ObjectUri.js"
import type { ObjectUri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"

/** One request as the store saw it. `range` is set on ranged GETs only. */
export interface RequestRecord {
  readonly op: "head" | "get" | "put" | "compose" | "remove" | "list" | "removeAll"
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
  readonly contentType?: string
  readonly contentEncoding?: string
}

export interface MemoryObjectStore {
  readonly store: ObjectStore["Type"]
  /**
   * Puts an object directly, bypassing the log and the fault plan; `contentEncoding` is
   * answered by its HEAD and GETs (as S3 keeps the Content-Encoding given at PutObject).
   */
  readonly seed: (uri: ObjectUri, bytes: Uint8Array, options?: { readonly contentEncoding?: string }) => Effect.Effect<void>
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

    const write = (key: string, bytes: Uint8Array, contentType?: string, contentEncoding?: string) =>
      Ref.getAndUpdate(generation, (n) => n + 1).pipe(
        Effect.flatMap((n) =>
          Ref.update(objects, (map) =>
            new Map(map).set(key, {
              bytes,
              etag: `"mem-${n}-${bytes.length}"`,
              ...(contentType === undefined ? {} : { contentType }),
              ...(contentEncoding === undefined ? {} : { contentEncoding })
            }))
        )
      )

    /** The keys under `prefix`, sorted: a string prefix for S3, a directory for files. */
    const under = (prefix: ObjectUri) =>
      Effect.map(Ref.get(objects), (map) => {
        const start = prefix._tag === "FileUri" ? `${prefix.path.replace(/\/+$/, "")}/` : format(prefix)
        return [...map.entries()].filter(([key]) => key.startsWith(start)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      })

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
          Effect.map((found) =>
            new ObjectVersion({
              size: found.bytes.length,
              etag: found.etag,
              ...(found.contentType === undefined ? {} : { contentType: found.contentType }),
              ...(found.contentEncoding === undefined ? {} : { contentEncoding: found.contentEncoding })
            })
          )
        ),
      get: (uri, version, range, getOptions) =>
        Stream.unwrap(Effect.gen(function*() {
          const key = format(uri)
          const fault = yield* admit({ op: "get", uri: key, range })
          const found = yield* lookup(key)
          if (found.etag !== version.etag) {
            return yield* new ObjectChangedError({ uri: key, expectedEtag: version.etag, actualEtag: found.etag })
          }
          if (getOptions?.onAnswer !== undefined) yield* getOptions.onAnswer({ contentEncoding: found.contentEncoding })
          const limit = fault?._tag === "CutBody" ? range.start + fault.afterBytes : range.end
          const body = found.bytes.subarray(range.start, Math.min(range.end, limit, found.bytes.length))
          const pieces = Chunk.unsafeFromArray(
            Array.from({ length: Math.ceil(body.length / pieceSize) }, (_, i) =>
              body.subarray(i * pieceSize, (i + 1) * pieceSize))
          )
          return Stream.fromChunk(pieces)
        })),
      put: (uri, body, putOptions) =>
        Stream.runCollect(body).pipe(
          Effect.flatMap((pieces) =>
            retryingInStore(format(uri), admit({ op: "put", uri: format(uri) })).pipe(
              Effect.zipRight(write(format(uri), Buffer.concat(Chunk.toArray(pieces)), putOptions?.contentType))
            )
          )
        ),
      compose: (target, sources) =>
        admit({ op: "compose", uri: format(target) }).pipe(
          Effect.zipRight(Effect.forEach(sources, (source) =>
            Effect.flatMap(lookup(format(source.uri)), (found) =>
              source.etag !== undefined && source.etag !== found.etag
                ? Effect.fail(new ObjectChangedError({ uri: format(source.uri), expectedEtag: source.etag, actualEtag: found.etag }))
                : Effect.succeed(found)))),
          Effect.flatMap((found) => write(format(target), Buffer.concat(found.map((object) => object.bytes))))
        ),
      canCopyRange: () => false,
      copyRange: () => Effect.fail(new CopyRangeUnsupportedError({ reason: "the in-memory store streams every copy" })),
      list: (prefix) =>
        retryingInStore(format(prefix), admit({ op: "list", uri: format(prefix) })).pipe(
          Effect.zipRight(under(prefix)),
          Effect.map((found) =>
            found.map(([key, object]) => ({
              uri: prefix._tag === "FileUri" ? new FileUri({ path: key }) : new S3Uri({ bucket: prefix.bucket, key: key.slice(`s3://${prefix.bucket}/`.length) }),
              size: object.bytes.length,
              etag: object.etag
            }))
          )
        ),
      removeAll: (prefix) =>
        retryingInStore(format(prefix), admit({ op: "removeAll", uri: format(prefix) })).pipe(
          Effect.zipRight(under(prefix)),
          Effect.flatMap((found) =>
            Ref.update(objects, (map) => {
              const next = new Map(map)
              for (const [key] of found) next.delete(key)
              return next
            })
          )
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
      seed: (uri, bytes, seedOptions) => write(format(uri), bytes, undefined, seedOptions?.contentEncoding),
      read: (uri) => Effect.map(Ref.get(objects), (map) => map.get(format(uri))?.bytes),
      requests: Ref.get(log),
      keys: Effect.map(Ref.get(objects), (map) => [...map.keys()].sort())
    }
  })

/** A fresh, empty, fault-free in-memory store. */
export const layer = (options?: MemoryOptions) => Layer.effect(ObjectStore, Effect.map(make(options), (m) => m.store))
