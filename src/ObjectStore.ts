/**
 * The object store: the only door to bytes at rest. Implementations map every foreign failure
 * to the typed errors in `Errors.ts` once, here at the boundary; nothing above sees an AWS or
 * file-system type. Stores make exactly one attempt per call: retries belong to `Retry`.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { ByteRange } from "./ByteRange.js"
import type { ComposeUnsupportedError, ObjectStoreError } from "./Errors.js"
import type { ObjectUri } from "./ObjectUri.js"

/** The version of an object recorded by one HEAD at plan time; every read is pinned to it. */
export class ObjectVersion extends Schema.Class<ObjectVersion>("ObjectVersion")({
  size: Schema.Number,
  etag: Schema.String,
  versionId: Schema.optional(Schema.String)
}) {}

export class ObjectStore extends Context.Tag("s3split/ObjectStore")<ObjectStore, {
  /** The object's size and ETag (and VersionId where the store has one). One request. */
  readonly head: (uri: ObjectUri) => Effect.Effect<ObjectVersion, ObjectStoreError>
  /**
   * The bytes of the half-open `range` of the object, which must be non-empty and lie within
   * `[0, version.size)`. One request, pinned to `version`: a different version fails with
   * `ObjectChangedError`, before or during the body. Interrupting the stream releases the
   * connection. The stream may end early if the connection breaks; callers check the length.
   */
  readonly get: (
    uri: ObjectUri,
    version: ObjectVersion,
    range: ByteRange
  ) => Stream.Stream<Uint8Array, ObjectStoreError>
  /**
   * Writes `body` to `uri`, replacing any object there. Streamed (multipart where the store
   * has it); the object becomes visible only once the body is complete.
   */
  readonly put: <E>(uri: ObjectUri, body: Stream.Stream<Uint8Array, E>) => Effect.Effect<void, ObjectStoreError | E>
  /**
   * Writes the concatenation of `sources` (in order) to `target` without moving the bytes
   * through this process: S3 composes them with a multipart upload of part copies, which
   * needs every source but the last to be at least 5 MiB. Fails with
   * `ComposeUnsupportedError` when the store or the sizes do not allow it; the caller then
   * streams the bytes instead.
   */
  readonly compose: (
    target: ObjectUri,
    sources: ReadonlyArray<{ readonly uri: ObjectUri; readonly size: number }>
  ) => Effect.Effect<void, ObjectStoreError | ComposeUnsupportedError>
  /** Removes the object at `uri`; removing an absent object succeeds. */
  readonly remove: (uri: ObjectUri) => Effect.Effect<void, ObjectStoreError>
}>() {}
