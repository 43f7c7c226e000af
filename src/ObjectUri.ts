/**
 * Where an object lives: a local file (`/path`, `./path`, `file:///path`) or an S3 object
 * (`s3://bucket/key`). Parsing is pure; URIs are schema classes so they travel inside tasks.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { UsageError } from "./Errors.js"

export class FileUri extends Schema.TaggedClass<FileUri>()("FileUri", {
  /** An absolute path. */
  path: Schema.String
}) {}

export class S3Uri extends Schema.TaggedClass<S3Uri>()("S3Uri", {
  bucket: Schema.String,
  /** The object key; for a prefix (a destination "directory") it is empty or ends with `/`. */
  key: Schema.String
}) {}

export const ObjectUri = Schema.Union(FileUri, S3Uri)
export type ObjectUri = typeof ObjectUri.Type

/** The URI as a person would type it: a plain absolute path or `s3://bucket/key`. */
export const format = (uri: ObjectUri): string =>
  uri._tag === "FileUri" ? uri.path : `s3://${uri.bucket}/${uri.key}`

const parseLocation = (text: string): Either.Either<ObjectUri, UsageError> => {
  if (text.trim() === "") return Either.left(new UsageError({ reason: "the source or destination is empty" }))
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase()
  if (scheme === undefined) return Either.right(new FileUri({ path: NodePath.resolve(text) }))
  if (scheme === "file") {
    try {
      return Either.right(new FileUri({ path: fileURLToPath(text) }))
    } catch {
      return Either.left(new UsageError({ reason: `not a valid file URL: ${text}` }))
    }
  }
  if (scheme === "s3") {
    const rest = text.slice("s3://".length)
    const slash = rest.indexOf("/")
    const bucket = slash === -1 ? rest : rest.slice(0, slash)
    const key = slash === -1 ? "" : rest.slice(slash + 1)
    if (bucket === "") return Either.left(new UsageError({ reason: `no bucket in ${text}` }))
    return Either.right(new S3Uri({ bucket, key }))
  }
  return Either.left(
    new UsageError({ reason: `unknown scheme "${scheme}://" in ${text} (use a path, file://, or s3://)` })
  )
}

/** Parses the URI of one object: an S3 URI must name a key. */
export const parseObject = (text: string): Either.Either<ObjectUri, UsageError> =>
  Either.flatMap(parseLocation(text), (uri) =>
    uri._tag === "S3Uri" && (uri.key === "" || uri.key.endsWith("/"))
      ? Either.left(new UsageError({ reason: `${text} names no object key (expected s3://bucket/key)` }))
      : Either.right(uri))

/** Parses a destination directory: a local directory or an S3 prefix (a trailing `/` is implied). */
export const parseDirectory = (text: string): Either.Either<ObjectUri, UsageError> =>
  Either.map(parseLocation(text), (uri) =>
    uri._tag === "S3Uri" && uri.key !== "" && !uri.key.endsWith("/")
      ? new S3Uri({ bucket: uri.bucket, key: `${uri.key}/` })
      : uri)

/** The object called `name` inside the directory or prefix `dir`. */
export const child = (dir: ObjectUri, name: string): ObjectUri =>
  dir._tag === "FileUri"
    ? new FileUri({ path: NodePath.join(dir.path, name) })
    : new S3Uri({ bucket: dir.bucket, key: `${dir.key}${name}` })

/** The name of `uri` inside the directory or prefix `dir` (the inverse of `child`), if it is a direct child. */
export const nameIn = (dir: ObjectUri, uri: ObjectUri): string | undefined => {
  const name = dir._tag === "FileUri" && uri._tag === "FileUri"
    ? NodePath.relative(dir.path, uri.path)
    : dir._tag === "S3Uri" && uri._tag === "S3Uri" && dir.bucket === uri.bucket && uri.key.startsWith(dir.key)
    ? uri.key.slice(dir.key.length)
    : undefined
  return name === undefined || name === "" || name.startsWith("..") || name.includes("/") ? undefined : name
}
