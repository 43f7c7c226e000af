/**
 * A chunk's output as a file in a local work directory, the fast path of `run` on one machine:
 * the worker gives the command's stdout the file's descriptor, so the command writes its
 * output itself and no byte of it passes through JavaScript (`write`); the coordinator reads
 * the file while it grows, so the output that is due streams on while its command still
 * produces it (`follow`). Neither side goes through the object store: a local work directory
 * is the local file system.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as NodePath from "node:path"
import { StoreError } from "./Errors.js"
import type { WorkerFailedError } from "./Errors.js"
import { pipeInto } from "./Exec.js"
import type { ExecOptions } from "./Exec.js"

/** The largest read of a followed file. */
const READ_SIZE = 1024 * 1024
/** The first and the longest wait for more bytes of a file whose chunk is still running. */
const MIN_WAIT_MS = 1
const MAX_WAIT_MS = 50

const storeError = (path: string, what: string) => (error: NodeJS.ErrnoException) =>
  new StoreError({ uri: path, reason: `${what}: ${error.message}` })

/** A node:fs call as an effect (uninterruptible: a queued file operation cannot be taken back). */
const call = <A>(path: string, what: string, f: (callback: (error: NodeJS.ErrnoException | null, value: A) => void) => void) =>
  Effect.uninterruptible(Effect.async<A, StoreError>((resume) => {
    f((error, value) => resume(error === null ? Effect.succeed(value) : Effect.fail(storeError(path, what)(error))))
  }))

const close = (fd: number) => Effect.async<void>((resume) => fs.close(fd, () => resume(Effect.void)))

/** Removes the file at `path`; an absent file, or one that cannot be removed, is no failure. */
export const removeQuietly = (path: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => fs.rm(path, { force: true }, () => resume(Effect.void)))

/**
 * Runs `command` on `input` with its stdout written straight into the file `path` (created,
 * or emptied, first; its directory is created if missing). Succeeds with the output's size once
 * the command exited with status 0. Fails with the input's error, the command's
 * `WorkerFailedError`, or a `StoreError` when the file cannot be made; on any failure or
 * interruption the file is removed, so a path that exists after the chunk ended holds its
 * complete output. No retries: the bytes may already have been read by a follower.
 */
export const write = <E>(
  path: string,
  command: string,
  index: number,
  input: Stream.Stream<Uint8Array, E>,
  options: ExecOptions = {}
): Effect.Effect<number, E | WorkerFailedError | StoreError> => writeWith(path, (fd) => pipeInto(command, index, input, fd, options))

/**
 * `write` with the command started by `start`, given the output's open file descriptor: it
 * starts the command in the scope it is given (which closes, killing what it started, once the
 * output is complete or has failed) and returns the effect that waits for the command's
 * success. The same guarantees as `write`: on any failure the file is removed.
 */
export const writeWith = <E>(
  path: string,
  start: (fd: number) => Effect.Effect<Effect.Effect<void, E>, never, Scope.Scope>
): Effect.Effect<number, E | StoreError> =>
  Effect.gen(function*() {
    yield* call(path, "creating the work directory", (k) => fs.mkdir(NodePath.dirname(path), { recursive: true }, k))
    const fd = yield* Effect.acquireRelease(call<number>(path, "creating the output", (k) => fs.open(path, "w", k)), close)
    const exited = yield* start(fd)
    // Added after the command: on failure the file is gone before the command is killed.
    yield* Effect.addFinalizer((exit) => exit._tag === "Failure" ? removeQuietly(path) : Effect.void)
    yield* exited
    const stats = yield* call<fs.Stats>(path, "reading the output's size", (k) => fs.fstat(fd, k))
    return stats.size
  }).pipe(
    Effect.scoped,
    Effect.onError(() => removeQuietly(path))
  )

/**
 * The bytes of the file `path` that a worker is writing with `write`, from the first, streamed
 * while they arrive: reads of up to 1 MiB; at the end of what is there, while `finished` is
 * not done, a short wait (1 ms, doubling to 50 ms, cut short when the chunk ends) before
 * reading again. A file not yet created is waited for the same way. Ends at exactly
 * `finished`'s `bytesOut` once the chunk succeeded; fails with the chunk's own error as soon
 * as it failed, or with `StoreError` when the file cannot be read.
 *
 * Each piece is memory of its own, unless `reuse` is set: then the next read goes into the
 * memory of the piece before, which is right only for a consumer that is done with each piece
 * before it pulls the next (fresh memory per megabyte costs page faults and garbage collection).
 */
export const follow = <A extends { readonly bytesOut: number }, E>(
  path: string,
  finished: Deferred.Deferred<A, E>,
  options: { readonly reuse?: boolean } = {}
): Stream.Stream<Uint8Array, E | StoreError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    let fd: number | undefined
    let position = 0
    // The buffer of the next read: handed out when a read fills at least half of it (no copy),
    // kept for the next read otherwise (the bytes are copied out), or always kept with `reuse`.
    let buffer: Buffer | undefined
    yield* Effect.addFinalizer(() => (fd === undefined ? Effect.void : close(fd)))

    const openIfThere = Effect.async<number | undefined, StoreError>((resume) =>
      fs.open(path, "r", (error, opened) =>
        resume(
          error === null
            ? Effect.succeed(opened)
            : error.code === "ENOENT"
            ? Effect.succeed(undefined)
            : Effect.fail(storeError(path, "opening the output")(error))
        ))
    ).pipe(Effect.uninterruptible, Effect.tap((opened) => Effect.sync(() => (fd = opened))))

    const read = (from: number, length: number) => {
      const target = buffer ??= Buffer.allocUnsafeSlow(READ_SIZE)
      return Effect.map(
        call<number>(path, "reading the output", (k) => fs.read(fd!, target, 0, length, from, k)),
        (bytes) => {
          position += bytes
          if (options.reuse === true) return target.subarray(0, bytes)
          if (bytes >= READ_SIZE / 2) {
            buffer = undefined
            return target.subarray(0, bytes)
          }
          return Buffer.from(target.subarray(0, bytes))
        }
      )
    }

    /** Waits `ms`, or less if the chunk ends meanwhile. */
    const pause = (ms: number) => Effect.asVoid(Effect.raceFirst(Effect.sleep(ms), Effect.exit(Deferred.await(finished))))

    /** The next bytes, or `undefined` at the end of the output. */
    const next: Effect.Effect<Uint8Array | undefined, E | StoreError> = Effect.gen(function*() {
      let wait = MIN_WAIT_MS
      while (true) {
        // Whether the chunk had ended is read before the file: a read after it sees every byte.
        const ended = yield* Deferred.poll(finished)
        if (Option.isSome(ended)) {
          const result = yield* ended.value
          const remaining = result.bytesOut - position
          if (remaining <= 0) return undefined
          if (fd === undefined && (yield* openIfThere) === undefined) {
            return yield* new StoreError({ uri: path, reason: "the output of a finished chunk is missing" })
          }
          const bytes = yield* read(position, Math.min(remaining, READ_SIZE))
          if (bytes.length > 0) return bytes
          return yield* new StoreError({ uri: path, reason: `the output ended at byte ${position} of ${result.bytesOut}` })
        }
        if (fd !== undefined || (yield* openIfThere) !== undefined) {
          const bytes = yield* read(position, READ_SIZE)
          if (bytes.length > 0) return bytes
        }
        yield* pause(wait)
        wait = Math.min(wait * 2, MAX_WAIT_MS)
      }
    })

    return Stream.repeatEffectOption(
      Effect.flatMap(Effect.mapError(next, Option.some), (bytes) => bytes === undefined ? Effect.fail(Option.none()) : Effect.succeed(bytes))
    )
  }))
