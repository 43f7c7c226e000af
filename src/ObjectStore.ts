/**
 * The object store: the only door to bytes at rest. Implementations map every foreign failure
 * to the typed errors in `Errors.ts` once, here at the boundary; nothing above sees an AWS or
 * file-system type. Single-request calls (`head`, `get`, `remove`) make exactly one attempt:
 * retries belong to `Retry`. Calls made of many requests (`put`, `compose`, `list`,
 * `removeAll`) retry each of their requests on their own with the caller's `RetryPolicy`
 * (`Retry.retryingInStore`), so a transient fault repeats one request, never the whole call;
 * they fail with `RetriesExhaustedError` when one request's attempts are spent.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { ByteRange } from "./ByteRange.js"
import type { ComposeUnsupportedError, CopyRangeUnsupportedError, ObjectStoreError, RetriesExhaustedError } from "./Errors.js"
import type { ObjectUri } from "./ObjectUri.js"

/** The version of an object recorded by one HEAD at plan time; every read is pinned to it. */
export class ObjectVersion extends Schema.Class<ObjectVersion>("ObjectVersion")({
  size: Schema.Number,
  etag: Schema.String,
  versionId: Schema.optional(Schema.String),
  /** The object's media type where the store records one (S3's Content-Type; files have none). */
  contentType: Schema.optional(Schema.String),
  /** How the stored bytes are encoded where the store records it (S3's Content-Encoding; files have none). */
  contentEncoding: Schema.optional(Schema.String)
}) {}

/** What `get` tells of the answer before its body. */
export interface GetOptions {
  /**
   * Called once the answer's headers are in, before the first byte, with the object's
   * Content-Encoding (undefined when it has none). Stores that record no encoding (files) do
   * not call it. It must not fail.
   */
  readonly onAnswer?: ((answer: { readonly contentEncoding: string | undefined }) => Effect.Effect<void>) | undefined
}

/** How to write an object. */
export interface PutOptions {
  /** The media type to record with the object (S3's Content-Type); stores without one ignore it. */
  readonly contentType?: string
  /** The expected size in bytes, if known: lets a multipart upload choose large enough parts at once. */
  readonly sizeHint?: number
}

/** How to copy a range with `copyRange`. */
export interface CopyRangeOptions {
  /** The media type to record with the copy (stores without one ignore it). */
  readonly contentType?: string | undefined
  /**
   * Called with counts of bytes written to the target as the copy proceeds, every MiB or so
   * (their sum is the range's length when it succeeds). Called synchronously; it must not throw.
   */
  readonly progress?: ((bytes: number) => void) | undefined
}

/** One object found by `list`. */
export interface ListedObject {
  readonly uri: ObjectUri
  readonly size: number
  readonly etag: string
}

/** One source of `compose`: its size, and its ETag when known (the copy is pinned to it). */
export interface ComposeSource {
  readonly uri: ObjectUri
  readonly size: number
  readonly etag?: string
}

export class ObjectStore extends Context.Tag("s3split/ObjectStore")<ObjectStore, {
  /** The object's size and ETag (and VersionId, Content-Type and Content-Encoding where the store has them). One request. */
  readonly head: (uri: ObjectUri) => Effect.Effect<ObjectVersion, ObjectStoreError>
  /**
   * The bytes of the half-open `range` of the object, which must be non-empty and lie within
   * `[0, version.size)`. One request, pinned to `version`: a different version fails with
   * `ObjectChangedError`, before or during the body. A request that gets no answer or whose
   * body stalls fails with `TransientStoreError` (S3: after the configured timeouts).
   * Interrupting the stream aborts the request and releases the connection at once. The
   * stream may end early if the connection breaks; callers check the length. The bytes are
   * the stored bytes whatever their Content-Encoding (`options.onAnswer` tells it).
   */
  readonly get: (
    uri: ObjectUri,
    version: ObjectVersion,
    range: ByteRange,
    options?: GetOptions
  ) => Stream.Stream<Uint8Array, ObjectStoreError>
  /**
   * Writes `body` to `uri`, replacing any object there. The body is pulled in the caller's
   * fiber and streamed (S3: one PutObject when it fits in one part, otherwise a multipart
   * upload with at most two parts in memory); the object becomes visible only once the body is
   * complete. Each request is retried on its own; the body is never re-read. On failure or
   * interruption nothing is written, and a multipart upload is aborted and the abort awaited.
   * A failure of `body` itself is returned as is.
   */
  readonly put: <E>(
    uri: ObjectUri,
    body: Stream.Stream<Uint8Array, E>,
    options?: PutOptions
  ) => Effect.Effect<void, ObjectStoreError | RetriesExhaustedError | E>
  /**
   * Writes the concatenation of `sources` (in order) to `target` without moving the bytes
   * through this process: S3 composes them with a multipart upload of part copies (each at
   * most 5 GiB, a larger source copied in several ranges), which needs every source but the
   * last to be at least 5 MiB. Fails with `ComposeUnsupportedError` when the store, the sizes
   * or the server refuse it (a refusal that persists, 5xx from the copy included); the caller
   * then streams the bytes instead. A source whose ETag no longer matches fails with
   * `ObjectChangedError`. On any failure or interruption the upload is aborted and awaited.
   * `contentType`, when given, is the composed object's Content-Type.
   */
  readonly compose: (
    target: ObjectUri,
    sources: ReadonlyArray<ComposeSource>,
    options?: { readonly contentType?: string | undefined }
  ) => Effect.Effect<void, ObjectStoreError | RetriesExhaustedError | ComposeUnsupportedError>
  /**
   * Whether `copyRange(target, source, ...)` can be done by this store: answered from the
   * URIs alone, without I/O. When false, `copyRange` fails with `CopyRangeUnsupportedError`.
   */
  readonly canCopyRange: (target: ObjectUri, source: ObjectUri) => boolean
  /**
   * Writes the bytes of the half-open `range` of `source` (which must lie within
   * `[0, version.size)`, and may be empty) to `target`, replacing any object there, without
   * the bytes passing through Effect streams (files: fd to fd through one reused buffer). The
   * source is pinned to `version`: a source that is not that version before the copy, or is no
   * longer that version after it, fails with `ObjectChangedError`, and nothing is written. The
   * target becomes visible only once complete; on any failure or interruption nothing is left
   * behind. One attempt (retries belong to the caller). Stores that cannot (S3, memory, a
   * source and target in different stores) fail with `CopyRangeUnsupportedError`.
   */
  readonly copyRange: (
    target: ObjectUri,
    source: ObjectUri,
    version: ObjectVersion,
    range: ByteRange,
    options?: CopyRangeOptions
  ) => Effect.Effect<void, ObjectStoreError | CopyRangeUnsupportedError>
  /** Removes the object at `uri`; removing an absent object succeeds. One request. */
  readonly remove: (uri: ObjectUri) => Effect.Effect<void, ObjectStoreError>
  /**
   * Every object whose key starts with `prefix` (S3: a key prefix; files: every file under the
   * directory, recursively), in key order. A prefix with nothing under it (a missing directory
   * too) is an empty list.
   */
  readonly list: (prefix: ObjectUri) => Effect.Effect<ReadonlyArray<ListedObject>, ObjectStoreError | RetriesExhaustedError>
  /**
   * Removes every object under `prefix` (as `list` sees them) and, in S3, aborts every
   * incomplete multipart upload under it. Nothing under the prefix succeeds at once.
   */
  readonly removeAll: (prefix: ObjectUri) => Effect.Effect<void, ObjectStoreError | RetriesExhaustedError>
}>() {}
