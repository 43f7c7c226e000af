/**
 * The production `ObjectStore`: local paths go to the file store, `s3://` URIs to the S3
 * store, so a job may read from one and write to the other. A range is copied directly
 * (`copyRange`) only from a file to a file.
 *
 * The S3 store (and with it the AWS SDK, most of the CLI's start-up) is loaded and built on
 * the first `s3://` URI only: a job on local files never imports it. Once built it is shared by
 * every later call, and its client is released with this layer's scope.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CopyRangeUnsupportedError } from "./Errors.js"
import * as FileObjectStore from "./FileObjectStore.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectUri } from "./ObjectUri.js"
import type { S3Settings } from "./S3Settings.js"

export const make = (settings: S3Settings) =>
  Effect.gen(function*() {
    const file = yield* FileObjectStore.make
    const scope = yield* Effect.scope
    // Memoized: the first caller imports the module and builds the store in this layer's
    // scope (not the caller's, which may be one chunk's); every later caller gets the same store.
    const s3 = yield* Effect.cached(
      Effect.promise(() => import("./S3ObjectStore.js")).pipe(
        Effect.flatMap((module) => module.make(settings)),
        Scope.extend(scope)
      )
    )
    const pick = (uri: ObjectUri) => (uri._tag === "FileUri" ? Effect.succeed(file) : s3)
    return ObjectStore.of({
      head: (uri) => Effect.flatMap(pick(uri), (store) => store.head(uri)),
      get: (uri, version, range, options) =>
        uri._tag === "FileUri"
          ? file.get(uri, version, range, options)
          : Stream.unwrap(Effect.map(s3, (store) => store.get(uri, version, range, options))),
      put: (uri, body, options) => Effect.flatMap(pick(uri), (store) => store.put(uri, body, options)),
      compose: (target, sources, options) => Effect.flatMap(pick(target), (store) => store.compose(target, sources, options)),
      // File to file only: bytes between a file and S3 are streamed by the caller.
      canCopyRange: (target, source) =>
        target._tag === "FileUri" && source._tag === "FileUri" && file.canCopyRange(target, source),
      copyRange: (target, source, version, range, options) =>
        target._tag === "FileUri" && source._tag === "FileUri"
          ? file.copyRange(target, source, version, range, options)
          : Effect.fail(new CopyRangeUnsupportedError({ reason: "the source and the target are not both local files" })),
      remove: (uri) => Effect.flatMap(pick(uri), (store) => store.remove(uri)),
      list: (prefix) => Effect.flatMap(pick(prefix), (store) => store.list(prefix)),
      removeAll: (prefix) => Effect.flatMap(pick(prefix), (store) => store.removeAll(prefix))
    })
  })

/**
 * Files and S3 (with `settings`); needs a `FileSystem`. The S3 store is built on the first
 * `s3://` URI; its client is released with the layer.
 */
export const layer = (settings: S3Settings) => Layer.scoped(ObjectStore, make(settings))
