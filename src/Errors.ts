/**
 * The typed errors of s3split. Every error a worker can meet is a `Schema.TaggedError`, so it
 * can cross a process or Lambda boundary and be decoded as the very same type on the other
 * side. Each carries what a person needs to act on it, and renders as one line (`message`).
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

/** The object (or local file) does not exist. */
export class ObjectNotFoundError extends Schema.TaggedError<ObjectNotFoundError>()("ObjectNotFoundError", {
  uri: Schema.String
}) {
  override get message() {
    return `object not found: ${this.uri}`
  }
}

/** The S3 bucket does not exist. */
export class BucketNotFoundError extends Schema.TaggedError<BucketNotFoundError>()("BucketNotFoundError", {
  bucket: Schema.String
}) {
  override get message() {
    return `bucket not found: ${this.bucket}`
  }
}

/** The credentials in use may not read or write this object. */
export class AccessDeniedError extends Schema.TaggedError<AccessDeniedError>()("AccessDeniedError", {
  uri: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `access denied: ${this.uri} (${this.detail})`
  }
}

/** The source exists but cannot be split (a directory, a special file). */
export class InvalidSourceError extends Schema.TaggedError<InvalidSourceError>()("InvalidSourceError", {
  uri: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot read ${this.uri}: ${this.reason}`
  }
}

/** The object is no longer the version recorded at plan time (its ETag differs). */
export class ObjectChangedError extends Schema.TaggedError<ObjectChangedError>()("ObjectChangedError", {
  uri: Schema.String,
  expectedEtag: Schema.String,
  actualEtag: Schema.String
}) {
  override get message() {
    return `object changed during the run: ${this.uri} (ETag was ${this.expectedEtag}, now ${this.actualEtag})`
  }
}

/**
 * A fault worth retrying: throttling (503 SlowDown, 429), a 5xx, a broken or refused
 * connection, a body that ended early. `endpoint` is set when the server could not be reached.
 */
export class TransientStoreError extends Schema.TaggedError<TransientStoreError>()("TransientStoreError", {
  uri: Schema.String,
  reason: Schema.String,
  endpoint: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.endpoint === undefined
      ? `${this.reason} (${this.uri})`
      : `cannot reach ${this.endpoint}: ${this.reason}`
  }
}

/** The retry policy gave up: `attempts` requests were made, the last failed with `lastCause`. */
export class RetriesExhaustedError extends Schema.TaggedError<RetriesExhaustedError>()("RetriesExhaustedError", {
  uri: Schema.String,
  attempts: Schema.Number,
  lastCause: Schema.String
}) {
  override get message() {
    return `gave up on ${this.uri} after ${this.attempts} attempts; last cause: ${this.lastCause}`
  }
}

/** A compressed source object that is not valid gzip (or is cut short). Retrying will not fix it. */
export class DecompressError extends Schema.TaggedError<DecompressError>()("DecompressError", {
  uri: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot decompress ${this.uri}: ${this.reason}`
  }
}

/** Any other store failure that retrying will not fix. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  uri: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.uri}: ${this.reason}`
  }
}

/** A command-line argument or option is malformed. Never crosses a process boundary. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** The chunks did not add up to the object: a bug or a store that lies, never silently accepted. */
export class IntegrityError extends Schema.TaggedError<IntegrityError>()("IntegrityError", {
  uri: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `integrity check failed for ${this.uri}: ${this.reason}`
  }
}

/**
 * A worker could not finish its chunk for a reason of its own: the command exited non-zero,
 * or the worker (a Lambda function) crashed or timed out. `tail` is the end of its stderr or log.
 * `index` is absent when the worker could not tell which chunk it was given.
 */
export class WorkerFailedError extends Schema.TaggedError<WorkerFailedError>()("WorkerFailedError", {
  index: Schema.optional(Schema.Number),
  reason: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  tail: Schema.String
}) {
  override get message() {
    const last = this.tail.trim().split("\n").slice(-3).join(" | ")
    return `${this.index === undefined ? "worker" : `chunk ${this.index}`}: ${this.reason}${last === "" ? "" : `: ${last}`}`
  }
}

/**
 * The chunk outputs could not be merged into the run's result: an output not shaped like the
 * others (`index` names the chunk), or a merge command (`sort -m`, `--reduce`) that failed
 * (`command`, with its exit code and the tail of its stderr). Raised on the coordinator.
 */
export class MergeError extends Schema.TaggedError<MergeError>()("MergeError", {
  index: Schema.optional(Schema.Number),
  command: Schema.optional(Schema.String),
  reason: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  tail: Schema.optional(Schema.String)
}) {
  override get message() {
    const last = (this.tail ?? "").trim().split("\n").slice(-3).join(" | ")
    const what = this.index !== undefined ? `chunk ${this.index}` : this.command !== undefined ? `\`${this.command}\`` : "outputs"
    return `merge: ${what}: ${this.reason}${last === "" ? "" : `: ${last}`}`
  }
}

/** The store cannot compose objects server-side (the caller streams instead). Local only. */
export class ComposeUnsupportedError extends Data.TaggedError("ComposeUnsupportedError")<{
  readonly reason: string
}> {
  override get message() {
    return `cannot compose server-side: ${this.reason}`
  }
}

/**
 * The store cannot copy a byte range of one object to another without streaming it (the
 * caller streams instead): S3 and memory stores, or a source and target in different stores.
 * Local only.
 */
export class CopyRangeUnsupportedError extends Data.TaggedError("CopyRangeUnsupportedError")<{
  readonly reason: string
}> {
  override get message() {
    return `cannot copy a range directly: ${this.reason}`
  }
}

/**
 * Our standard output was closed by its reader (`| head`): the end of the run, not a fault.
 * The process edge exits quietly with 141, as a Unix filter killed by SIGPIPE would. Local only.
 */
export class StdoutClosedError extends Data.TaggedError("StdoutClosedError")<{}> {
  override get message() {
    return "standard output was closed"
  }
}

/** Every error the object store can fail with. */
export type ObjectStoreError =
  | ObjectNotFoundError
  | BucketNotFoundError
  | AccessDeniedError
  | InvalidSourceError
  | ObjectChangedError
  | TransientStoreError
  | StoreError

/** Every error a chunk read can fail with once retries are applied. */
export type ReadError = ObjectStoreError | RetriesExhaustedError

/** The schema of every error that may cross a worker boundary. */
export const WorkerError = Schema.Union(
  ObjectNotFoundError,
  BucketNotFoundError,
  AccessDeniedError,
  InvalidSourceError,
  ObjectChangedError,
  TransientStoreError,
  RetriesExhaustedError,
  StoreError,
  IntegrityError,
  DecompressError,
  WorkerFailedError
)
export type WorkerError = typeof WorkerError.Type
