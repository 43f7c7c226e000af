/**
 * `ObjectStore` over the local file system (`@effect/platform` FileSystem): the embedded
 * default. A file's "ETag" is its size, modification time and inode, so a file rewritten
 * during a run is reported as `ObjectChangedError`. Puts write a temporary file beside the
 * target and rename it, so a reader never sees a half-written object; `copyRange` does the same
 * in one Effect, its bytes moved fd to fd by `FileRangeCopy.copyIntoPlace` (node:fs directly,
 * outside the `FileSystem` service, which has no positional I/O), and a small `get` (a
 * boundary window) is one positional read into one buffer, without a stream. Both check the
 * version on the file they opened (`fstat`), not with a separate `stat` of its path. A prefix
 * is a directory: `list` and `removeAll` cover every file under it, recursively. Content types
 * are not kept.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { isPlatformError } from "@effect/platform/Error"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { ByteRange } from "./ByteRange.js"
import {
  AccessDeniedError,
  ComposeUnsupportedError,
  CopyRangeUnsupportedError,
  InvalidSourceError,
  ObjectChangedError,
  ObjectNotFoundError,
  StoreError
} from "./Errors.js"
import type { ObjectStoreError } from "./Errors.js"
import { copyIntoPlace, temporaryFor } from "./FileRangeCopy.js"
import type { FileCopyError } from "./FileRangeCopy.js"
import { ObjectStore, ObjectVersion } from "./ObjectStore.js"
import type { CopyRangeOptions } from "./ObjectStore.js"
import { FileUri } from "./ObjectUri.js"
import type { ObjectUri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"

const toStoreError = (uri: ObjectUri) => (error: PlatformError): ObjectStoreError => {
  const where = format(uri)
  if (error._tag === "SystemError") {
    if (error.reason === "NotFound") return new ObjectNotFoundError({ uri: where })
    if (error.reason === "PermissionDenied") return new AccessDeniedError({ uri: where, detail: error.message })
  }
  return new StoreError({ uri: where, reason: error.message })
}

/** The same classification as `toStoreError`, for a system call made outside `FileSystem`. */
const fromCopyError = (uri: ObjectUri) => (error: FileCopyError): ObjectStoreError => {
  const where = format(uri)
  if (error.code === "ENOENT") return new ObjectNotFoundError({ uri: where })
  if (error.code === "EACCES") return new AccessDeniedError({ uri: where, detail: error.reason })
  return new StoreError({ uri: where, reason: error.reason })
}

/** The same classification again, for an errno exception of node:fs. */
const fromErrno = (uri: ObjectUri) => (error: NodeJS.ErrnoException): ObjectStoreError => {
  const where = format(uri)
  if (error.code === "ENOENT") return new ObjectNotFoundError({ uri: where })
  if (error.code === "EACCES") return new AccessDeniedError({ uri: where, detail: error.message })
  return new StoreError({ uri: where, reason: error.message })
}

/** Ranges up to this size are read by `get` with one positional read (the rest are streamed). */
export const SMALL_READ = 1024 * 1024

/** A file's "ETag": its size, modification time (ms) and inode. */
const etagOf = (size: number, mtimeMs: number, inode: number) => `"${size}-${mtimeMs}-${inode}"`

/** The ETag of a file from `fstat` or `stat` of node:fs (the same one `head` gives). */
const etagOfStats = (stats: NodeFs.Stats) => etagOf(stats.size, stats.mtime.getTime(), stats.ino)

/**
 * The bytes `[range.start, range.end)` of the file at `path`, pinned to `version`, in one
 * buffer: opened, checked with `fstat` (another version fails with `ObjectChangedError`), read
 * with positional reads until the range is full or the file ends (then fewer bytes), closed.
 * A queued file operation cannot be taken back: interruption lets it finish and closes the file.
 */
const readSmall = (uri: ObjectUri, path: string, version: ObjectVersion, range: ByteRange) =>
  Effect.async<Uint8Array, ObjectStoreError>((resume) => {
    NodeFs.open(path, "r", (error, fd) => {
      if (error !== null) return resume(Effect.fail(fromErrno(uri)(error)))
      const finish = (result: Effect.Effect<Uint8Array, ObjectStoreError>) => NodeFs.close(fd, () => resume(result))
      NodeFs.fstat(fd, (error, stats) => {
        if (error !== null) return finish(Effect.fail(fromErrno(uri)(error)))
        const etag = etagOfStats(stats)
        if (etag !== version.etag) {
          return finish(Effect.fail(new ObjectChangedError({ uri: format(uri), expectedEtag: version.etag, actualEtag: etag })))
        }
        const buffer = Buffer.allocUnsafe(range.end - range.start)
        let filled = 0
        const step = () =>
          NodeFs.read(fd, buffer, filled, buffer.length - filled, range.start + filled, (error, bytes) => {
            if (error !== null) return finish(Effect.fail(fromErrno(uri)(error)))
            filled += bytes
            // A file shorter than the range ends the bytes early, as a broken stream would.
            if (bytes === 0 || filled === buffer.length) return finish(Effect.succeed(buffer.subarray(0, filled)))
            step()
          })
        step()
      })
    })
  })

const pathOf = (uri: ObjectUri): Effect.Effect<string, StoreError> =>
  uri._tag === "FileUri"
    ? Effect.succeed((uri as FileUri).path)
    : Effect.fail(new StoreError({ uri: format(uri), reason: "the local file store cannot reach S3 objects" }))

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem

  const head = (uri: ObjectUri) =>
    Effect.gen(function*() {
      const path = yield* pathOf(uri)
      const info = yield* fs.stat(path).pipe(Effect.mapError(toStoreError(uri)))
      if (info.type === "Directory") return yield* new InvalidSourceError({ uri: path, reason: "it is a directory" })
      if (info.type !== "File") return yield* new InvalidSourceError({ uri: path, reason: `it is not a regular file (${info.type})` })
      const mtime = Option.match(info.mtime, { onNone: () => 0, onSome: (date) => date.getTime() })
      const inode = Option.getOrElse(info.ino, () => 0)
      return new ObjectVersion({ size: Number(info.size), etag: etagOf(Number(info.size), mtime, inode) })
    })

  /** The names under `directory` (recursively or not), relative to it; none if it does not exist. */
  const entries = (prefix: ObjectUri, directory: string, recursive = true) =>
    fs.readDirectory(directory, { recursive }).pipe(
      Effect.catchIf((error) => error._tag === "SystemError" && error.reason === "NotFound", () => Effect.succeed([])),
      Effect.mapError(toStoreError(prefix))
    )

  const copyRange = (target: ObjectUri, source: ObjectUri, version: ObjectVersion, range: ByteRange, options?: CopyRangeOptions) =>
    Effect.gen(function*() {
      const from = yield* pathOf(source)
      const to = yield* pathOf(target)
      yield* copyIntoPlace(from, to, range, { progress: options?.progress, version: { etag: version.etag, etagOf: etagOfStats } }).pipe(
        Effect.mapError((error): ObjectStoreError =>
          error.changedTo !== undefined
            ? new ObjectChangedError({ uri: format(source), expectedEtag: version.etag, actualEtag: error.changedTo })
            : error.endedAt !== undefined
            ? new StoreError({ uri: format(source), reason: error.reason })
            : fromCopyError(error.side === "source" ? source : target)(error)
        )
      )
    })

  return ObjectStore.of({
    head,
    get: (uri, version, range) =>
      // A small range is one Effect (its version checked on the open file), a larger one a stream.
      range.end - range.start <= SMALL_READ
        ? Stream.fromEffect(Effect.flatMap(pathOf(uri), (path) => readSmall(uri, path, version, range))).pipe(
          Stream.filter((bytes) => bytes.length > 0)
        )
        : Stream.unwrap(Effect.gen(function*() {
          const current = yield* head(uri)
          if (current.etag !== version.etag) {
            return yield* new ObjectChangedError({ uri: format(uri), expectedEtag: version.etag, actualEtag: current.etag })
          }
          const path = yield* pathOf(uri)
          return fs.stream(path, {
            offset: FileSystem.Size(range.start),
            bytesToRead: FileSystem.Size(range.end - range.start),
            chunkSize: FileSystem.Size(256 * 1024)
          }).pipe(Stream.mapError(toStoreError(uri)))
        })),
    put: (uri, body) =>
      Effect.gen(function*() {
        const path = yield* pathOf(uri)
        yield* fs.makeDirectory(NodePath.dirname(path), { recursive: true }).pipe(Effect.mapError(toStoreError(uri)))
        const temporary = temporaryFor(path)
        yield* Stream.run(body, fs.sink(temporary)).pipe(
          Effect.catchIf(isPlatformError, (error) => Effect.fail(toStoreError(uri)(error))),
          Effect.zipRight(fs.rename(temporary, path).pipe(Effect.mapError(toStoreError(uri)))),
          Effect.onExit((exit) => exit._tag === "Failure" ? Effect.ignore(fs.remove(temporary)) : Effect.void)
        )
      }),
    compose: () => Effect.fail(new ComposeUnsupportedError({ reason: "local files are concatenated by streaming" })),
    canCopyRange: (target, source) => target._tag === "FileUri" && source._tag === "FileUri",
    copyRange: (target, source, version, range, options) =>
      target._tag === "FileUri" && source._tag === "FileUri"
        ? copyRange(target, source, version, range, options)
        : Effect.fail(new CopyRangeUnsupportedError({ reason: "the local file store cannot reach S3 objects" })),
    remove: (uri) =>
      Effect.flatMap(pathOf(uri), (path) =>
        fs.remove(path, { force: true }).pipe(Effect.mapError(toStoreError(uri)))),
    list: (prefix) =>
      Effect.gen(function*() {
        const directory = yield* pathOf(prefix)
        const names = yield* entries(prefix, directory)
        const found = yield* Effect.forEach(names, (name) => {
          const uri = new FileUri({ path: NodePath.join(directory, name) })
          return fs.stat(uri.path).pipe(
            Effect.map((info) => {
              if (info.type !== "File") return []
              const mtime = Option.match(info.mtime, { onNone: () => 0, onSome: (date) => date.getTime() })
              const inode = Option.getOrElse(info.ino, () => 0)
              return [{ uri, size: Number(info.size), etag: etagOf(Number(info.size), mtime, inode) }]
            }),
            // A file removed between the listing and its stat is simply not there.
            Effect.catchIf((error) => error._tag === "SystemError" && error.reason === "NotFound", () => Effect.succeed([])),
            Effect.mapError(toStoreError(uri))
          )
        }, { concurrency: 16 })
        return found.flat().sort((a, b) => (a.uri.path < b.uri.path ? -1 : a.uri.path > b.uri.path ? 1 : 0))
      }),
    removeAll: (prefix) =>
      Effect.gen(function*() {
        const directory = yield* pathOf(prefix)
        const names = yield* entries(prefix, directory, false)
        yield* Effect.forEach(
          names,
          (name) => fs.remove(NodePath.join(directory, name), { recursive: true, force: true }).pipe(Effect.mapError(toStoreError(prefix))),
          { concurrency: 16, discard: true }
        )
      })
  })
})

/** The local file store; needs a `FileSystem` (`NodeFileSystem.layer` in production). */
export const layer = Layer.effect(ObjectStore, make)
