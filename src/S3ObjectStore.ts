/**
 * `ObjectStore` over Amazon S3 or any S3-compatible server, through `@aws-sdk/client-s3`.
 * The client lives in a scoped layer and makes one attempt per call (`maxAttempts: 1`: retries
 * are Effect's); every SDK error is classified here into the typed errors of `Errors.ts`.
 * Reads are pinned with `If-Match` (or `VersionId`) and the ETag of each response is compared
 * too, because not every server honours `If-Match`. No request can hang: each has a connect,
 * a first-byte and a body-stall timeout (the last two timers of `TimedIo`, no forked fibers),
 * so the abort signal fires and the connection is dropped; a timeout is a
 * `TransientStoreError` naming the endpoint.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand
} from "@aws-sdk/client-s3"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import { toHttpRange } from "./ByteRange.js"
import {
  AccessDeniedError,
  BucketNotFoundError,
  ComposeUnsupportedError,
  CopyRangeUnsupportedError,
  ObjectChangedError,
  ObjectNotFoundError,
  StoreError,
  TransientStoreError
} from "./Errors.js"
import type { ObjectStoreError, RetriesExhaustedError } from "./Errors.js"
import { asSdkError, transientNetworkCode, UNREACHABLE_CODES } from "./NetworkError.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import type { ComposeSource, GetOptions, ListedObject, PutOptions } from "./ObjectStore.js"
import { S3Uri } from "./ObjectUri.js"
import type { ObjectUri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"
import { retryingInStore } from "./Retry.js"
import { defaultTimeouts } from "./S3Settings.js"
import type { S3Settings, S3Timeouts } from "./S3Settings.js"
import * as S3Multipart from "./S3Multipart.js"
import { promiseWithin, readableWithStall } from "./TimedIo.js"

// The settings live in their own module so that reading them does not load the SDK.
export { defaultTimeouts, settingsConfig, timeoutsConfig } from "./S3Settings.js"
export type { S3Settings, S3Timeouts } from "./S3Settings.js"


const THROTTLING_NAMES = new Set(["SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestTimeout"])

const MiB = 1024 * 1024

/** How a 404 or a 412 reads for the request at hand. */
export interface ClassifyContext {
  /** What a 404 means (default: the object is missing). */
  readonly notFound?: () => ObjectStoreError
  /** The ETag the request was pinned to, named by a 412. */
  readonly expectedEtag?: string
}

/** Maps one SDK or network error to a typed store error. */
export const classify = (
  uri: S3Uri,
  endpoint: string,
  error: unknown,
  context: ClassifyContext = {}
): ObjectStoreError => {
  const where = format(uri)
  const e = asSdkError(error)
  const status = e.$metadata?.httpStatusCode
  const name = e.name ?? ""
  const message = e.message ?? name
  if (name === "NoSuchBucket") return new BucketNotFoundError({ bucket: uri.bucket })
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
    return context.notFound?.() ?? new ObjectNotFoundError({ uri: where })
  }
  if (name === "AccessDenied" || name === "Forbidden" || status === 403) {
    return new AccessDeniedError({ uri: where, detail: message === "" || message === "UnknownError" ? "HTTP 403" : message })
  }
  if (name === "PreconditionFailed" || status === 412) {
    return new ObjectChangedError({
      uri: where,
      expectedEtag: context.expectedEtag ?? "(unknown)",
      actualEtag: "(different: If-Match failed)"
    })
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

/**
 * What a connection (and so a GET's body, which inherits it) may buffer before it stops
 * reading the socket. Node's default is 16 KiB, so a body arrives in pieces of about one
 * socket read (64 KiB) and every stage downstream pays per piece; with 256 KiB a piece holds
 * what arrived since the last pull, up to about that. Measured on 1 GiB from the local S3
 * server (`split --out DIR`, N = 16): 7.5 CPU-s instead of 9.7-11.6, peak RSS unchanged;
 * 1 MiB saved a little more CPU but added 20-70 MB of peak RSS (289 MB for
 * `split --out s3://`).
 */
const SOCKET_HIGH_WATER_MARK = 256 * 1024

/** Builds the client as every AWS tool does, plus our rules for custom endpoints. */
const makeClient = (settings: S3Settings, timeouts: S3Timeouts) =>
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
    // The connect timeout is the SDK's (it destroys the socket and rejects); the others are
    // enforced in Effect, which fires the abort signal. No socket idle timeout: a GET body
    // paused by our own back-pressure is not a stall.
    requestHandler: {
      connectionTimeout: Duration.toMillis(timeouts.connect),
      httpAgent: { keepAlive: true, maxSockets: 64, highWaterMark: SOCKET_HIGH_WATER_MARK },
      httpsAgent: { keepAlive: true, maxSockets: 64, highWaterMark: SOCKET_HIGH_WATER_MARK }
    }
  })

/** The copy source header of `uri`, its key escaped as S3 wants. */
const copySource = (uri: S3Uri) => `${uri.bucket}/${encodeURIComponent(uri.key).replace(/%2F/g, "/")}`

/** Tries of one UploadPartCopy before a persistent fault counts as a refusal (then streaming). */
const COPY_ATTEMPTS = 3

/** One UploadPartCopy: a source (pinned to its ETag when known), whole or a half-open range of it. */
export interface PartCopy {
  readonly source: S3Uri
  readonly bytes: number
  readonly etag?: string
  readonly range?: { readonly start: number; readonly end: number }
}

/**
 * The part copies of a compose: every source in ranges of at most 5 GiB (a larger source in
 * equal ranges, each then over 2.5 GiB), empty sources skipped. Fails when a source but the
 * last is under 5 MiB, a source is not in S3, or the parts exceed 10,000.
 */
export const copyPlan = (
  sources: ReadonlyArray<ComposeSource>
): ReadonlyArray<PartCopy> | string => {
  const parts = sources.filter((source) => source.size > 0)
  if (parts.length === 0) return "there are no bytes to compose"
  const plan: Array<PartCopy> = []
  for (const [i, part] of parts.entries()) {
    if (part.uri._tag !== "S3Uri") return "every part must be an S3 object"
    if (i < parts.length - 1 && part.size < S3Multipart.MIN_PART_SIZE) return "every part but the last must be at least 5 MiB"
    const pieces = Math.ceil(part.size / S3Multipart.MAX_PART_SIZE)
    const etag = part.etag === undefined ? {} : { etag: part.etag }
    if (pieces === 1) {
      plan.push({ source: part.uri, bytes: part.size, ...etag })
      continue
    }
    const each = Math.ceil(part.size / pieces)
    for (let k = 0; k < pieces; k++) {
      const range = { start: k * each, end: Math.min(part.size, (k + 1) * each) }
      plan.push({ source: part.uri, bytes: range.end - range.start, ...etag, range })
    }
  }
  if (plan.length > S3Multipart.MAX_PARTS) return `${plan.length} parts exceed S3's limit of 10,000`
  return plan
}

export const make = (settings: S3Settings) =>
  Effect.gen(function*() {
    const timeouts = settings.timeouts ?? defaultTimeouts
    const client = yield* Effect.acquireRelease(Effect.sync(() => makeClient(settings, timeouts)), (client) =>
      Effect.sync(() => client.destroy()))
    const endpoint = Option.getOrElse(settings.endpoint, () => `https://s3.${settings.region}.amazonaws.com`)
    // One budget for every upload of this store (one store per process, or per worker thread).
    const budget = yield* S3Multipart.makeBudget(settings.partBudget ?? S3Multipart.DEFAULT_PART_BUDGET)

    /**
     * One request: interruptible (interruption aborts it), bounded by the first-byte timeout
     * plus `allowance`, every failure classified.
     */
    const send = <A>(
      uri: S3Uri,
      run: (signal: AbortSignal) => Promise<A>,
      options: ClassifyContext & { readonly allowance?: Duration.Duration } = {}
    ) => {
      const limit = Duration.sum(timeouts.firstByte, options.allowance ?? Duration.zero)
      return promiseWithin(
        run,
        Duration.toMillis(limit),
        (): ObjectStoreError =>
          new TransientStoreError({ uri: format(uri), reason: `no response within ${Duration.format(limit)}`, endpoint }),
        (error) => classify(uri, endpoint, error, options)
      )
    }
    /** `stall` for every `per` bytes of `bytes`: the time a transfer or a server-side copy may take. */
    const allowance = (bytes: number, per: number) => Duration.times(timeouts.stall, bytes / per)

    /** After a 404 on HEAD (which has no body to say why): is it the bucket or the key? */
    const whichIsMissing = (uri: S3Uri) =>
      send(uri, (abortSignal) => client.send(new HeadBucketCommand({ Bucket: uri.bucket }), { abortSignal }), {
        notFound: () => new BucketNotFoundError({ bucket: uri.bucket })
      }).pipe(Effect.zipRight(Effect.fail(new ObjectNotFoundError({ uri: format(uri) }))))

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
          ...(response.VersionId === undefined ? {} : { versionId: response.VersionId }),
          ...(response.ContentType === undefined ? {} : { contentType: response.ContentType }),
          ...(response.ContentEncoding === undefined ? {} : { contentEncoding: response.ContentEncoding })
        })
      })

    const get = (uri: ObjectUri, version: ObjectVersion, range: { start: number; end: number }, options: GetOptions = {}) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const s3 = yield* s3Of(uri)
        const where = format(uri)
        // The request itself is interruptible; the finalizer that destroys its body is
        // registered in the same uninterruptible step that receives it, so no body can leak.
        const response = yield* Effect.uninterruptibleMask((restore) =>
          restore(send(s3, (abortSignal) =>
            client.send(
              new GetObjectCommand({
                Bucket: s3.bucket,
                Key: s3.key,
                Range: toHttpRange(range),
                ...(version.versionId === undefined ? { IfMatch: version.etag } : { VersionId: version.versionId })
              }),
              { abortSignal }
            ), { expectedEtag: version.etag })).pipe(
              Effect.tap((response) =>
                Effect.addFinalizer(() => Effect.sync(() => (response.Body as Readable | undefined)?.destroy()))
              )
            )
        )
        if (response.ETag !== undefined && response.ETag !== version.etag) {
          return yield* new ObjectChangedError({ uri: where, expectedEtag: version.etag, actualEtag: response.ETag })
        }
        // A server that ignores Range answers 200 with the whole object: never take those bytes.
        const expected = `bytes ${range.start}-${range.end - 1}/`
        if (response.ContentRange !== undefined ? !response.ContentRange.startsWith(expected) : range.start !== 0 || range.end !== version.size) {
          return yield* new StoreError({ uri: where, reason: `the server answered range ${response.ContentRange ?? "(none)"} for ${toHttpRange(range)}` })
        }
        if (options.onAnswer !== undefined) yield* options.onAnswer({ contentEncoding: response.ContentEncoding })
        // Measured per pull: time the consumer takes between pulls is not a stall.
        return readableWithStall<ObjectStoreError>(
          response.Body as Readable,
          Duration.toMillis(timeouts.stall),
          () =>
            new TransientStoreError({
              uri: where,
              reason: `the body stalled: no byte for ${Duration.format(timeouts.stall)} (range ${toHttpRange(range)})`,
              endpoint
            }),
          (error) => classify(s3, endpoint, error, { expectedEtag: version.etag })
        )
      }))

    /** A multipart upload's own requests, each retried on its own; the abort bounded and awaited. */
    const multipartRequests = (s3: S3Uri, options: PutOptions): S3Multipart.MultipartRequests<ObjectStoreError | RetriesExhaustedError> => {
      const target = format(s3)
      const contentType = options.contentType === undefined ? {} : { ContentType: options.contentType }
      const Bucket = s3.bucket
      const Key = s3.key
      return {
        putObject: (bytes) =>
          retryingInStore(target, send(s3, (abortSignal) =>
            client.send(new PutObjectCommand({ Bucket, Key, Body: bytes, ContentLength: bytes.length, ...contentType }), { abortSignal }), {
            allowance: allowance(bytes.length, MiB)
          })).pipe(Effect.asVoid),
        create: retryingInStore(target, send(s3, (abortSignal) =>
          client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...contentType }), { abortSignal }))).pipe(
            Effect.flatMap((response) =>
              response.UploadId === undefined
                ? Effect.fail(new StoreError({ uri: target, reason: "CreateMultipartUpload returned no UploadId" }))
                : Effect.succeed(response.UploadId)
            )
          ),
        uploadPart: (UploadId, PartNumber, bytes) =>
          retryingInStore(`${target} (part ${PartNumber})`, send(s3, (abortSignal) =>
            client.send(
              new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: bytes, ContentLength: bytes.length }),
              { abortSignal }
            ), { allowance: allowance(bytes.length, MiB) })).pipe(Effect.map((response) => response.ETag ?? "")),
        complete: (UploadId, Parts) =>
          retryingInStore(target, send(s3, (abortSignal) =>
            client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [...Parts] } }), {
              abortSignal
            }), { allowance: Duration.times(timeouts.stall, 1 + Parts.length / 100) })).pipe(Effect.asVoid),
        abort: (UploadId) => abortUpload(s3, UploadId),
        tooLarge: (bytes) =>
          new StoreError({ uri: target, reason: `the body exceeds what 10,000 parts hold (at least ${bytes} bytes)` })
      }
    }

    /** Aborts one multipart upload: retried with the policy (so bounded), its failure ignored. */
    const abortUpload = (s3: S3Uri, UploadId: string) =>
      Effect.ignore(retryingInStore(`${format(s3)} (abort upload)`, send(s3, (abortSignal) =>
        client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: s3.key, UploadId }), { abortSignal }))))

    const put = <E>(uri: ObjectUri, body: Stream.Stream<Uint8Array, E>, options: PutOptions = {}) =>
      Effect.flatMap(s3Of(uri), (s3) => S3Multipart.upload(multipartRequests(s3, options), body, budget, options.sizeHint))

    const remove = (uri: ObjectUri) =>
      Effect.flatMap(s3Of(uri), (s3) =>
        send(s3, (abortSignal) =>
          client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: s3.key }), { abortSignal })).pipe(
            Effect.asVoid
          ))

    /**
     * Multipart upload whose parts are server-side copies of the sources. Each copy is tried at
     * most 3 times: a fault that persists (a 500 from a server that lacks UploadPartCopy, say),
     * like any refusal (501, 400, 403), is `ComposeUnsupportedError`, so the caller streams
     * instead of retrying work that streaming would finish. A changed source stays
     * `ObjectChangedError`. The upload is aborted (and awaited) on any failure or interruption.
     */
    const compose = (target: ObjectUri, sources: ReadonlyArray<ComposeSource>, options?: { readonly contentType?: string | undefined }) =>
      Effect.gen(function*() {
        const s3 = yield* s3Of(target)
        const where = format(target)
        const plan = copyPlan(sources)
        if (typeof plan === "string") return yield* new ComposeUnsupportedError({ reason: plan })
        const unsupported = (error: { readonly message: string }) =>
          Effect.fail(new ComposeUnsupportedError({ reason: `the server refused UploadPartCopy: ${error.message}` }))
        yield* Effect.scoped(Effect.gen(function*() {
          const uploadId = yield* Effect.uninterruptibleMask((restore) =>
            restore(retryingInStore(where, send(s3, (abortSignal) =>
              client.send(
                new CreateMultipartUploadCommand({
                  Bucket: s3.bucket,
                  Key: s3.key,
                  ...(options?.contentType === undefined ? {} : { ContentType: options.contentType })
                }),
                { abortSignal }
              )))).pipe(
                Effect.tap((created) =>
                  Effect.addFinalizer((exit) =>
                    exit._tag === "Failure" && created.UploadId !== undefined ? abortUpload(s3, created.UploadId) : Effect.void
                  )
                )
              )
          ).pipe(Effect.map((created) => created.UploadId!))
          const copied = yield* Effect.forEach(plan, (part, i) => {
            const PartNumber = i + 1
            const request = send(part.source, (abortSignal) =>
              client.send(
                new UploadPartCopyCommand({
                  Bucket: s3.bucket,
                  Key: s3.key,
                  UploadId: uploadId,
                  PartNumber,
                  CopySource: copySource(part.source),
                  ...(part.etag === undefined ? {} : { CopySourceIfMatch: part.etag }),
                  ...(part.range === undefined ? {} : { CopySourceRange: toHttpRange(part.range) })
                }),
                { abortSignal }
              ), { allowance: allowance(part.bytes, 64 * MiB), ...(part.etag === undefined ? {} : { expectedEtag: part.etag }) })
            return retryingInStore(`${where} (part copy ${PartNumber})`, request, { maxAttempts: COPY_ATTEMPTS }).pipe(
              Effect.catchIf((error) => error._tag !== "ObjectChangedError", unsupported),
              Effect.map((response) => ({ PartNumber, ETag: response.CopyPartResult?.ETag }))
            )
          }, { concurrency: 8 })
          yield* retryingInStore(where, send(s3, (abortSignal) =>
            client.send(
              new CompleteMultipartUploadCommand({
                Bucket: s3.bucket,
                Key: s3.key,
                UploadId: uploadId,
                MultipartUpload: { Parts: copied }
              }),
              { abortSignal }
            ), { allowance: Duration.times(timeouts.stall, 1 + copied.length / 100) })).pipe(
              // A server that accepted the copies but refuses to assemble them (EntityTooSmall, say).
              Effect.catchTag("StoreError", unsupported)
            )
        }))
      })

    /** Every page of ListObjectsV2 under `prefix`, each page retried on its own. */
    const list = (prefix: ObjectUri) =>
      Effect.gen(function*() {
        const s3 = yield* s3Of(prefix)
        const found: Array<ListedObject> = []
        let token: string | undefined
        do {
          const page = yield* retryingInStore(format(s3), send(s3, (abortSignal) =>
            client.send(
              new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: s3.key, ...(token === undefined ? {} : { ContinuationToken: token }) }),
              { abortSignal }
            ), { notFound: () => new BucketNotFoundError({ bucket: s3.bucket }) }))
          for (const object of page.Contents ?? []) {
            if (object.Key === undefined) continue
            found.push({ uri: new S3Uri({ bucket: s3.bucket, key: object.Key }), size: object.Size ?? 0, etag: object.ETag ?? "" })
          }
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined
        } while (token !== undefined)
        return found
      })

    /**
     * The incomplete multipart uploads under `prefix`. A server that cannot list them (s3rver
     * answers 501 NotImplemented) keeps none we could find: an empty list.
     */
    const incompleteUploads = (s3: S3Uri) =>
      Effect.gen(function*() {
        const found: Array<{ key: string; uploadId: string }> = []
        let keyMarker: string | undefined
        let uploadIdMarker: string | undefined
        do {
          const page = yield* retryingInStore(format(s3), send(s3, (abortSignal) =>
            client.send(
              new ListMultipartUploadsCommand({
                Bucket: s3.bucket,
                Prefix: s3.key,
                ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
                ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker })
              }),
              { abortSignal }
            ), { notFound: () => new BucketNotFoundError({ bucket: s3.bucket }) }))
          for (const upload of page.Uploads ?? []) {
            if (upload.Key !== undefined && upload.UploadId !== undefined) found.push({ key: upload.Key, uploadId: upload.UploadId })
          }
          const more = page.IsTruncated === true
          keyMarker = more ? page.NextKeyMarker : undefined
          uploadIdMarker = more ? page.NextUploadIdMarker : undefined
        } while (keyMarker !== undefined)
        return found
      }).pipe(
        Effect.catchIf(
          (error) => error._tag === "StoreError" && error.reason.startsWith("NotImplemented"),
          () => Effect.succeed([])
        )
      )

    const removeAll = (prefix: ObjectUri) =>
      Effect.gen(function*() {
        const s3 = yield* s3Of(prefix)
        const uploads = yield* incompleteUploads(s3)
        yield* Effect.forEach(uploads, (upload) => abortUpload(new S3Uri({ bucket: s3.bucket, key: upload.key }), upload.uploadId), {
          concurrency: 8,
          discard: true
        })
        const objects = yield* list(prefix)
        yield* Effect.forEach(objects, (object) => retryingInStore(format(object.uri), remove(object.uri)), {
          concurrency: 16,
          discard: true
        })
      })

    return ObjectStore.of({
      head,
      get,
      put,
      compose,
      // UploadPartCopy could copy a range server-side; until then S3 parts are streamed.
      canCopyRange: () => false,
      copyRange: () => Effect.fail(new CopyRangeUnsupportedError({ reason: "S3 parts are streamed" })),
      remove,
      list,
      removeAll
    })
  })

/** The S3 store with explicit settings; the client is destroyed when the layer is released. */
export const layer = (settings: S3Settings) => Layer.scoped(ObjectStore, make(settings))
