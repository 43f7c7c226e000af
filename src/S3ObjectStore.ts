/**
 * `ObjectStore` over Amazon S3 or any S3-compatible server, through `@aws-sdk/client-s3`.
 * The client lives in a scoped layer and makes one attempt per call (`maxAttempts: 1`: retries
 * are Effect's); every SDK error is classified here into the typed errors of `Errors.ts`.
 * Reads are pinned with `If-Match` (or `VersionId`) and the ETag of each response is compared
 * too, because not every server honours `If-Match`.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  UploadPartCopyCommand
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import { toHttpRange } from "./ByteRange.js"
import {
  AccessDeniedError,
  BucketNotFoundError,
  ComposeUnsupportedError,
  ObjectChangedError,
  ObjectNotFoundError,
  StoreError,
  TransientStoreError
} from "./Errors.js"
import type { ObjectStoreError } from "./Errors.js"
import { asSdkError, transientNetworkCode, UNREACHABLE_CODES } from "./NetworkError.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import type { ObjectUri, S3Uri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"

export interface S3Settings {
  /** A custom endpoint (S3-compatible server); path-style addressing is used with it. */
  readonly endpoint: Option.Option<string>
  readonly region: string
}

/** S3's smallest part in a multipart upload, the last part excepted. */
const MIN_PART_SIZE = 5 * 1024 * 1024

const THROTTLING_NAMES = new Set(["SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestTimeout"])

/** Maps one SDK or network error to a typed store error. `notFound` decides what a 404 means. */
export const classify = (
  uri: S3Uri,
  endpoint: string,
  error: unknown,
  notFound: () => ObjectStoreError = () => new ObjectNotFoundError({ uri: format(uri) })
): ObjectStoreError => {
  const where = format(uri)
  const e = asSdkError(error)
  const status = e.$metadata?.httpStatusCode
  const name = e.name ?? ""
  const message = e.message ?? name
  if (name === "NoSuchBucket") return new BucketNotFoundError({ bucket: uri.bucket })
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) return notFound()
  if (name === "AccessDenied" || name === "Forbidden" || status === 403) {
    return new AccessDeniedError({ uri: where, detail: message === "" || message === "UnknownError" ? "HTTP 403" : message })
  }
  if (name === "PreconditionFailed" || status === 412) {
    return new ObjectChangedError({ uri: where, expectedEtag: "(pinned)", actualEtag: "(different: If-Match failed)" })
  }
  if (name === "NotImplemented" || status === 501) {
    return new StoreError({ uri: where, reason: `NotImplemented: ${message}` })
  }
  if (THROTTLING_NAMES.has(name) || status === 429 || status === 503) {
    return new TransientStoreError({ uri: where, reason: `throttled (${status ?? "?"} ${name}): ${message}` })
  }
  if (status !== undefined && status >= 500) {
    return new TransientStoreError({ uri: where, reason: `server error ${status} ${name}: ${message}` })
  }
  const code = transientNetworkCode(e)
  if (code !== undefined) {
    return UNREACHABLE_CODES.has(code)
      ? new TransientStoreError({ uri: where, reason: `${code} ${message}`, endpoint })
      : new TransientStoreError({ uri: where, reason: `connection broken (${code})` })
  }
  if (name === "TimeoutError") return new TransientStoreError({ uri: where, reason: `timed out: ${message}`, endpoint })
  if (message === "aborted" || name === "AbortError") return new TransientStoreError({ uri: where, reason: "connection broken (aborted)" })
  return new StoreError({ uri: where, reason: `${name === "" ? "" : `${name}: `}${message}` })
}

const s3Of = (uri: ObjectUri): Effect.Effect<S3Uri, StoreError> =>
  uri._tag === "S3Uri"
    ? Effect.succeed(uri)
    : Effect.fail(new StoreError({ uri: format(uri), reason: "the S3 store cannot reach local files" }))

/** Builds the client as every AWS tool does, plus our rules for custom endpoints. */
const makeClient = (settings: S3Settings) =>
  new S3Client({
    region: settings.region,
    maxAttempts: 1,
    ...Option.match(settings.endpoint, {
      onNone: () => ({}),
      onSome: (endpoint) => ({
        endpoint,
        forcePathStyle: true,
        requestChecksumCalculation: "WHEN_REQUIRED" as const,
        responseChecksumValidation: "WHEN_REQUIRED" as const
      })
    }),
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000, httpAgent: { keepAlive: true, maxSockets: 64 }, httpsAgent: { keepAlive: true, maxSockets: 64 } }
  })

export const make = (settings: S3Settings) =>
  Effect.gen(function*() {
    const client = yield* Effect.acquireRelease(Effect.sync(() => makeClient(settings)), (client) =>
      Effect.sync(() => client.destroy()))
    const endpoint = Option.getOrElse(settings.endpoint, () => `https://s3.${settings.region}.amazonaws.com`)

    const send = <A>(uri: S3Uri, run: (signal: AbortSignal) => Promise<A>, notFound?: () => ObjectStoreError) =>
      Effect.tryPromise({ try: run, catch: (error) => classify(uri, endpoint, error, notFound) })

    /** After a 404 on HEAD (which has no body to say why): is it the bucket or the key? */
    const whichIsMissing = (uri: S3Uri) =>
      send(uri, (abortSignal) => client.send(new HeadBucketCommand({ Bucket: uri.bucket }), { abortSignal }), () =>
        new BucketNotFoundError({ bucket: uri.bucket })).pipe(
          Effect.zipRight(Effect.fail(new ObjectNotFoundError({ uri: format(uri) })))
        )

    const head = (uri: ObjectUri) =>
      Effect.gen(function*() {
        const s3 = yield* s3Of(uri)
        const response = yield* send(s3, (abortSignal) =>
          client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: s3.key }), { abortSignal })).pipe(
            Effect.catchTag("ObjectNotFoundError", () => whichIsMissing(s3))
          )
        return new ObjectVersion({
          size: response.ContentLength ?? 0,
          etag: response.ETag ?? "",
          ...(response.VersionId === undefined ? {} : { versionId: response.VersionId })
        })
      })

    const get = (uri: ObjectUri, version: ObjectVersion, range: { start: number; end: number }) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const s3 = yield* s3Of(uri)
        const where = format(uri)
        const response = yield* Effect.acquireRelease(
          send(s3, (abortSignal) =>
            client.send(
              new GetObjectCommand({
                Bucket: s3.bucket,
                Key: s3.key,
                Range: toHttpRange(range),
                ...(version.versionId === undefined ? { IfMatch: version.etag } : { VersionId: version.versionId })
              }),
              { abortSignal }
            )),
          (response) => Effect.sync(() => (response.Body as Readable | undefined)?.destroy())
        )
        if (response.ETag !== undefined && response.ETag !== version.etag) {
          return yield* new ObjectChangedError({ uri: where, expectedEtag: version.etag, actualEtag: response.ETag })
        }
        // A server that ignores Range answers 200 with the whole object: never take those bytes.
        const expected = `bytes ${range.start}-${range.end - 1}/`
        if (response.ContentRange !== undefined ? !response.ContentRange.startsWith(expected) : range.start !== 0 || range.end !== version.size) {
          return yield* new StoreError({ uri: where, reason: `the server answered range ${response.ContentRange ?? "(none)"} for ${toHttpRange(range)}` })
        }
        return NodeStream.fromReadable<ObjectStoreError>(
          () => response.Body as Readable,
          (error) => classify(s3, endpoint, error)
        )
      }))

    const put = <E>(uri: ObjectUri, body: Stream.Stream<Uint8Array, E>) =>
      Effect.gen(function*() {
        const s3 = yield* s3Of(uri)
        // The body's own failure is kept aside so it surfaces typed, not as an SDK error.
        const bodyFailure = yield* Ref.make(Option.none<E>())
        const readable = yield* NodeStream.toReadable(
          body.pipe(Stream.tapError((error) => Ref.set(bodyFailure, Option.some(error))))
        )
        const upload = new Upload({
          client,
          params: { Bucket: s3.bucket, Key: s3.key, Body: readable },
          partSize: 8 * 1024 * 1024,
          queueSize: 4
        })
        yield* Effect.tryPromise({
          try: () => upload.done(),
          catch: (error) => error
        }).pipe(
          Effect.onInterrupt(() => Effect.promise(() => upload.abort().catch(() => undefined))),
          Effect.catchAll((error) =>
            Effect.flatMap(Ref.get(bodyFailure), (failure) =>
              Effect.fail<ObjectStoreError | E>(Option.getOrElse(failure, () => classify(s3, endpoint, error)))))
        )
      })

    const remove = (uri: ObjectUri) =>
      Effect.flatMap(s3Of(uri), (s3) =>
        send(s3, (abortSignal) =>
          client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: s3.key }), { abortSignal })).pipe(
            Effect.asVoid
          ))

    /** Multipart upload whose parts are server-side copies of the sources; aborted on any failure. */
    const compose = (target: ObjectUri, sources: ReadonlyArray<{ readonly uri: ObjectUri; readonly size: number }>) =>
      Effect.gen(function*() {
        const s3 = yield* s3Of(target)
        const parts = sources.filter((source) => source.size > 0)
        const copyable = parts.length > 0 && parts.length <= 10_000 &&
          parts.every((part, i) => part.uri._tag === "S3Uri" && (i === parts.length - 1 || part.size >= MIN_PART_SIZE))
        if (!copyable) {
          return yield* new ComposeUnsupportedError({ reason: "parts must be S3 objects of at least 5 MiB but the last" })
        }
        const created = yield* send(s3, (abortSignal) =>
          client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: s3.key }), { abortSignal }))
        const uploadId = created.UploadId!
        const abort = Effect.ignore(send(s3, (abortSignal) =>
          client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: s3.key, UploadId: uploadId }), { abortSignal })))
        yield* Effect.gen(function*() {
          const copied = yield* Effect.forEach(parts, (part, i) => {
            const source = part.uri as S3Uri
            return send(s3, (abortSignal) =>
              client.send(
                new UploadPartCopyCommand({
                  Bucket: s3.bucket,
                  Key: s3.key,
                  UploadId: uploadId,
                  PartNumber: i + 1,
                  CopySource: `${source.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, "/")}`
                }),
                { abortSignal }
              )).pipe(Effect.map((response) => ({ PartNumber: i + 1, ETag: response.CopyPartResult?.ETag })))
          }, { concurrency: 8 })
          yield* send(s3, (abortSignal) =>
            client.send(
              new CompleteMultipartUploadCommand({
                Bucket: s3.bucket,
                Key: s3.key,
                UploadId: uploadId,
                MultipartUpload: { Parts: copied }
              }),
              { abortSignal }
            ))
        }).pipe(
          Effect.onError(() => abort),
          Effect.catchIf(
            (error) => error._tag === "StoreError" && /NotImplemented/.test(error.reason),
            () => Effect.fail(new ComposeUnsupportedError({ reason: "the server does not implement UploadPartCopy" }))
          )
        )
      })

    return ObjectStore.of({ head, get, put, compose, remove })
  })

/** The S3 settings from the environment: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `AWS_REGION`. */
export const settingsConfig: Config.Config<S3Settings> = Config.all({
  endpoint: Config.option(Config.string("AWS_ENDPOINT_URL_S3")).pipe(
    Config.zipWith(Config.option(Config.string("AWS_ENDPOINT_URL")), (specific, generic) =>
      Option.orElse(specific, () => generic))
  ),
  region: Config.string("AWS_REGION").pipe(Config.withDefault("us-east-1"))
})

/** The S3 store with explicit settings; the client is destroyed when the layer is released. */
export const layer = (settings: S3Settings) => Layer.scoped(ObjectStore, make(settings))
