/**
 * A source made of many objects: an S3 prefix (`s3://bucket/prefix/`), a key glob
 * (`s3://bucket/logs/2026-11-*\/*.log.gz`), a local directory or glob, or a single object, one
 * or several taken in the order given. Parsing a spec is pure; resolving it asks the store for
 * one paginated listing per prefix (sizes and ETags come from the listing, no HEAD per object)
 * or one HEAD for a single object, and yields the ordered list of objects to read.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import type { ReadError } from "./Errors.js"
import { InvalidSourceError, ObjectChangedError, UsageError } from "./Errors.js"
import { straddling } from "./MultiPlan.js"
import type { PlanSpec } from "./Planner.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import type { ListedObject } from "./ObjectStore.js"
import { FileUri, format, ObjectUri, parseObject, S3Uri } from "./ObjectUri.js"
import { retrying } from "./Retry.js"
import type { Stats } from "./Stats.js"

/** One object of a source, as listed: every read of it is pinned to `etag`. */
export class SourceObject extends Schema.Class<SourceObject>("SourceObject")({
  uri: ObjectUri,
  size: Schema.Number,
  etag: Schema.String,
  versionId: Schema.optional(Schema.String),
  /**
   * Read whole and gunzipped: one unsplittable unit of the plan. Set when the key ends in
   * `.gz`, or when a HEAD (a single object's, or `detectCutEncodings`) says
   * `Content-Encoding: gzip`.
   */
  compressed: Schema.Boolean
}) {}

/**
 * The version every read of `object` is pinned to. Built without validation (once per piece
 * read): its fields come from a `SourceObject`, already of the types `ObjectVersion` requires.
 */
export const versionOf = (object: SourceObject): ObjectVersion =>
  new ObjectVersion({
    size: object.size,
    etag: object.etag,
    ...(object.versionId === undefined ? {} : { versionId: object.versionId })
  }, true)

/** A prefix or glob that named no object: one line naming it. Local to the coordinator. */
export class NoSourceObjectsError extends Schema.TaggedError<NoSourceObjectsError>()("NoSourceObjectsError", {
  spec: Schema.String,
  kind: Schema.Literal("prefix", "directory", "glob")
}) {
  override get message() {
    return this.kind === "glob" ? `no object matches ${this.spec}` : `no objects under ${this.spec}`
  }
}

/**
 * What one source argument asks for:
 * - `Single`: one object, read with one HEAD (a local path may turn out to be a directory);
 * - `Prefix`: every object under an S3 key prefix or a local directory, in key order;
 * - `Glob`: every object under `listFrom` whose key (or absolute path) matches `pattern`.
 */
export type SourceSpec =
  | { readonly _tag: "Single"; readonly text: string; readonly uri: ObjectUri }
  | { readonly _tag: "Prefix"; readonly text: string; readonly prefix: ObjectUri }
  | { readonly _tag: "Glob"; readonly text: string; readonly listFrom: ObjectUri; readonly pattern: RegExp }

/** How compressed objects are read: `auto` gunzips `.gz` keys, `none` reads every object as bytes. */
export type Decompress = "auto" | "none"

const WILDCARD = /[*?]/

/**
 * The glob as an anchored regular expression: `*` is any run of characters but `/`, `?` one
 * character but `/`; every other character stands for itself.
 */
export const globPattern = (glob: string): RegExp =>
  new RegExp(
    `^${
      Array.from(glob, (c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")
    }$`,
    "s"
  )

/** The text before the first wildcard of `text`. */
const literalHead = (text: string): string => {
  const at = text.search(WILDCARD)
  return at === -1 ? text : text.slice(0, at)
}

/**
 * Parses one source argument. S3: a key that is empty or ends in `/` is a prefix, a key with
 * `*` or `?` a glob (listed from the text before its first wildcard), any other key one
 * object (`s3://bucket` with no `/` is refused, as for one object). Local: a path with a
 * wildcard is a glob (listed from the directory that holds its first wildcard), a path ending
 * in `/` a directory, any other path one object (a directory named without its `/` is
 * refused when resolved). Fails with `UsageError` for an unknown scheme or a wildcard in a
 * bucket name.
 */
export const parseSpec = (text: string): Either.Either<SourceSpec, UsageError> => {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase()
  // An unknown scheme, or `s3://bucket` with no `/` after it: the one-object parser's error.
  if (scheme !== undefined && scheme !== "s3" && scheme !== "file" || scheme === "s3" && !text.slice(5).includes("/")) {
    return Either.map(parseObject(text), (uri): SourceSpec => ({ _tag: "Single", text, uri }))
  }
  if (scheme === "s3") {
    const rest = text.slice("s3://".length)
    const slash = rest.indexOf("/")
    const bucket = slash === -1 ? rest : rest.slice(0, slash)
    const key = slash === -1 ? "" : rest.slice(slash + 1)
    if (bucket === "") return Either.left(new UsageError({ reason: `no bucket in ${text}` }))
    if (WILDCARD.test(bucket)) return Either.left(new UsageError({ reason: `a bucket name cannot hold a wildcard: ${text}` }))
    if (WILDCARD.test(key)) {
      return Either.right({ _tag: "Glob", text, listFrom: new S3Uri({ bucket, key: literalHead(key) }), pattern: globPattern(key) })
    }
    if (key === "" || key.endsWith("/")) return Either.right({ _tag: "Prefix", text, prefix: new S3Uri({ bucket, key }) })
    return Either.right({ _tag: "Single", text, uri: new S3Uri({ bucket, key }) })
  }
  const local = /^file:\/\//i.test(text) ? Either.try({
    try: () => fileURLToPath(text.replace(/\*/g, "%2A").replace(/\?/g, "%3F")),
    catch: () => new UsageError({ reason: `not a valid file URL: ${text}` })
  }) : Either.right(text)
  return Either.flatMap(local, (path) => {
    if (!WILDCARD.test(path)) {
      return Either.map(parseObject(path), (uri): SourceSpec =>
        path.endsWith("/") || path.endsWith(NodePath.sep)
          ? { _tag: "Prefix", text, prefix: uri }
          : { _tag: "Single", text, uri })
    }
    const absolute = NodePath.resolve(path)
    const directory = NodePath.dirname(`${literalHead(absolute)}x`)
    return Either.right({ _tag: "Glob", text, listFrom: new FileUri({ path: directory }), pattern: globPattern(absolute) })
  })
}

/** Parses every source argument, in order; the first malformed one fails. */
export const parseSpecs = (texts: ReadonlyArray<string>): Either.Either<ReadonlyArray<SourceSpec>, UsageError> =>
  Either.all(texts.map(parseSpec))

/** The key (S3) or absolute path (files) a glob is matched against. */
const keyOf = (uri: ObjectUri): string => (uri._tag === "S3Uri" ? uri.key : uri.path)

/** True for a Content-Encoding that says gzip (`gzip` or `x-gzip`, any case). */
export const isGzipEncoding = (encoding: string | undefined): boolean =>
  encoding !== undefined && /^\s*(x-)?gzip\s*$/i.test(encoding)

/** True when the object is read gunzipped under `decompress`. */
export const isCompressed = (uri: ObjectUri, decompress: Decompress): boolean =>
  decompress === "auto" && keyOf(uri).toLowerCase().endsWith(".gz")

// Validation is off: the fields come typed from the store, and validating costs about 0.2 ms
// an object, 20 s for a prefix of 100,000 objects.
const fromListed = (decompress: Decompress) => (listed: ListedObject): SourceObject =>
  new SourceObject({ uri: listed.uri, size: listed.size, etag: listed.etag, compressed: isCompressed(listed.uri, decompress) }, true)

/** S3 "folder" markers (`key/`, created by consoles) are not objects of a source. */
const isObject = (listed: ListedObject): boolean => !(listed.uri._tag === "S3Uri" && listed.uri.key.endsWith("/"))

/**
 * The objects of one spec, in key order. A prefix and a glob are one listing each (paginated
 * by the store, each page retried on its own), a single object one HEAD (retried). Fails with
 * `NoSourceObjectsError` when a prefix, directory or glob yields nothing, with the store's
 * errors otherwise (a single object that does not exist is `ObjectNotFoundError`).
 */
export const resolveSpec = (
  spec: SourceSpec,
  options: { readonly decompress?: Decompress } = {}
): Effect.Effect<ReadonlyArray<SourceObject>, ReadError | NoSourceObjectsError, ObjectStore | Stats> =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const decompress = options.decompress ?? "auto"
    const listing = (prefix: ObjectUri, kind: "prefix" | "directory" | "glob", keep: (listed: ListedObject) => boolean) =>
      Effect.flatMap(store.list(prefix), (listed) => {
        const objects = listed.filter((object) => isObject(object) && keep(object)).map(fromListed(decompress))
        return objects.length === 0 ? Effect.fail(new NoSourceObjectsError({ spec: spec.text, kind })) : Effect.succeed(objects)
      })
    switch (spec._tag) {
      case "Prefix":
        return yield* listing(spec.prefix, spec.prefix._tag === "FileUri" ? "directory" : "prefix", () => true)
      case "Glob":
        return yield* listing(spec.listFrom, "glob", (object) => spec.pattern.test(keyOf(object.uri)))
      case "Single": {
        const single = retrying(format(spec.uri), store.head(spec.uri)).pipe(
          Effect.map((version) => [
            new SourceObject({
              uri: spec.uri,
              size: version.size,
              etag: version.etag,
              ...(version.versionId === undefined ? {} : { versionId: version.versionId }),
              // The HEAD is made anyway: its Content-Encoding counts too.
              compressed: isCompressed(spec.uri, decompress) || decompress === "auto" && isGzipEncoding(version.contentEncoding)
            })
          ])
        )
        // A directory is read whole only when named with a trailing `/`, as an S3 prefix is.
        return yield* Effect.catchTag(single, "InvalidSourceError", (error) =>
          Effect.fail(
            error.reason === "it is a directory"
              ? new InvalidSourceError({ uri: error.uri, reason: `it is a directory (end it with / to read every file under it)` })
              : error
          ))
      }
    }
  })

/**
 * The objects of every spec, spec after spec in the order given, each in key order (an object
 * named twice is read twice, as `cat a a` would). Specs are resolved with bounded concurrency;
 * errors as `resolveSpec`.
 */
export const resolve = (
  specs: ReadonlyArray<SourceSpec>,
  options: { readonly decompress?: Decompress; readonly concurrency?: number } = {}
): Effect.Effect<ReadonlyArray<SourceObject>, ReadError | NoSourceObjectsError, ObjectStore | Stats> =>
  Effect.map(
    Effect.forEach(specs, (spec) => resolveSpec(spec, options), { concurrency: options.concurrency ?? 8 }),
    (lists) => lists.flat()
  )

/**
 * The objects with those that a cut point falls inside (`MultiPlan.straddling` under `spec`,
 * at most N - 1) checked with one HEAD each (`concurrency` at a time, each retried): any whose
 * Content-Encoding is gzip becomes `compressed`, one unit of the plan, so that the plan made
 * from the result never cuts a gzip stream. The listing does not carry Content-Encoding;
 * objects read whole learn it from their GET (`PieceReader`, `decompress: "auto"`), so no
 * other object is HEADed; local files (which have no Content-Encoding) never are. Fails with `ObjectChangedError` when a HEAD finds another ETag than
 * the listing's, with the store's errors otherwise. Use under `decompress: "auto"` only.
 */
export const detectCutEncodings = (
  objects: ReadonlyArray<SourceObject>,
  spec: PlanSpec,
  options: { readonly concurrency?: number } = {}
): Effect.Effect<ReadonlyArray<SourceObject>, ReadError, ObjectStore | Stats> =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    // Files record no Content-Encoding: only objects of a store that does are asked.
    const cut = straddling(objects, spec).filter((j) => objects[j]!.uri._tag === "S3Uri")
    if (cut.length === 0) return objects
    const gzip = yield* Effect.forEach(cut, (j) => {
      const object = objects[j]!
      return Effect.flatMap(retrying(format(object.uri), store.head(object.uri)), (version) =>
        version.etag !== object.etag
          ? Effect.fail(new ObjectChangedError({ uri: format(object.uri), expectedEtag: object.etag, actualEtag: version.etag }))
          : Effect.succeed(isGzipEncoding(version.contentEncoding)))
    }, { concurrency: options.concurrency ?? 8 })
    if (!gzip.includes(true)) return objects
    const marked = objects.slice()
    for (const [k, j] of cut.entries()) {
      if (gzip[k]) marked[j] = new SourceObject({ ...objects[j]!, compressed: true }, true)
    }
    return marked
  })
