/**
 * Pipes a byte stream through a shell command: `/bin/sh -c command` with the stream on stdin,
 * its stdout as the result stream. A non-zero exit fails with `WorkerFailedError` carrying the
 * exit code and the tail of stderr; the child is killed if the stream is abandoned.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { WorkerFailedError } from "./Errors.js"
import { killGroup, spawnScoped } from "./ShellProcess.js"
import { writeAll } from "./WritableSink.js"

/** How much of the command's stderr is kept for the error message. */
const TAIL_BYTES = 2048

/**
 * The stdout of `command` fed with `input`. The input's own failure wins over the command's
 * exit status (the command is killed then). A command that stops reading early (`head`) is
 * not an error: the rest of the input is simply not sent.
 */
export const pipeThrough = <E>(
  command: string,
  index: number,
  input: Stream.Stream<Uint8Array, E>
): Stream.Stream<Uint8Array, E | WorkerFailedError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const failed = (reason: string, tail = "", exitCode?: number) =>
      new WorkerFailedError({ index, reason, tail, ...(exitCode === undefined ? {} : { exitCode }) })
    // Its own process group, so that stopping it stops the whole pipeline the shell started.
    const child = yield* spawnScoped("/bin/sh", ["-c", command])
    const exited = yield* Deferred.make<number | null, WorkerFailedError>()
    child.once("error", (error) => Deferred.unsafeDone(exited, Effect.fail(failed(`cannot start /bin/sh: ${error.message}`))))
    child.once("close", (code) => Deferred.unsafeDone(exited, Effect.succeed(code)))
    // A failed write (EPIPE) means the command closed its stdin early: what it did not read it
    // did not want, and its exit status tells whether that was fine.
    child.stdin.on("error", () => undefined)
    const stdinClosed = Symbol("stdinClosed")
    const feeder = yield* writeAll(input, child.stdin, { end: true, closed: () => stdinClosed }).pipe(
      Effect.catchIf((error): error is typeof stdinClosed => error === stdinClosed, () => Effect.void),
      Effect.tapErrorCause(() => Effect.sync(() => killGroup(child))),
      Effect.forkScoped
    )
    const tail = yield* NodeStream.fromReadable(() => child.stderr, () => undefined).pipe(
      Stream.runFold(Buffer.alloc(0), (kept, piece: Uint8Array) => {
        const joined = Buffer.concat([kept, piece])
        return joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined
      }),
      Effect.orElseSucceed(() => Buffer.alloc(0)),
      Effect.forkScoped
    )
    const finish = Effect.gen(function*() {
      const code = yield* Deferred.await(exited)
      // The command is gone: a write it never read would wait forever, so stop the feeder. If
      // the input itself failed (and the command was killed for it), that failure is the story.
      const fed = yield* Fiber.interrupt(feeder)
      if (Exit.isFailure(fed) && !Cause.isInterruptedOnly(fed.cause)) return yield* Effect.failCause(fed.cause as Cause.Cause<E>)
      const stderr = (yield* Fiber.join(tail)).toString("utf8")
      if (code !== 0) {
        return yield* failed(code === null ? "command was killed" : `command exited with code ${code}`, stderr, code ?? undefined)
      }
    })
    return NodeStream.fromReadable<WorkerFailedError>(() => child.stdout, (error) => failed(`reading the command's output: ${String(error)}`)).pipe(
      Stream.concat(Stream.drain(Stream.fromEffect(finish)))
    )
  }))
