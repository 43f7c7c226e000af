/**
 * The production `ObjectStore`: local paths go to the file store, `s3://` URIs to the S3
 * store, so a job may read from one and write to the other.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FileObjectStore from "./FileObjectStore.js"
import { ObjectStore } from "./ObjectStore.js"
import type { ObjectUri } from "./ObjectUri.js"
import * as S3ObjectStore from "./S3ObjectStore.js"

export const make = (settings: S3ObjectStore.S3Settings) =>
  Effect.gen(function*() {
    const file = yield* FileObjectStore.make
    const s3 = yield* S3ObjectStore.make(settings)
    const pick = (uri: ObjectUri) => (uri._tag === "FileUri" ? file : s3)
    return ObjectStore.of({
      head: (uri) => pick(uri).head(uri),
      get: (uri, version, range) => pick(uri).get(uri, version, range),
      put: (uri, body, options) => pick(uri).put(uri, body, options),
      compose: (target, sources, options) => pick(target).compose(target, sources, options),
      remove: (uri) => pick(uri).remove(uri),
      list: (prefix) => pick(prefix).list(prefix),
      removeAll: (prefix) => pick(prefix).removeAll(prefix)
    })
  })

/** Files and S3 (with `settings`); needs a `FileSystem`. The S3 client is released with the layer. */
export const layer = (settings: S3ObjectStore.S3Settings) => Layer.scoped(ObjectStore, make(settings))
