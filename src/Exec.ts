/**
 * Runs a shell command over a byte stream: `/bin/sh -c command` in its own process group, the
 * stream on its stdin (or another process's stdout, `pipeFromInto`), and its stdout either
 * returned as a stream (`pipeThrough`) or given straight to a file descriptor (`pipeInto`, so
 * the output never passes through this process). A non-zero exit fails with `WorkerFailedError` carrying the exit code and the tail
 * of stderr; the whole group is killed once the command has exited (so nothing it left in the
 * background keeps the chunk waiting) and when the command's scope ends, however it ends.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import type { Readable } from "node:stream"
import { WorkerFailedError } from "./Errors.js"
import { killGroup, release, stderrTail } from "./ShellProcess.js"
import { writeAll } from "./WritableSink.js"

/** How a command is started. */
export interface ExecOptions {
  /** Variables added to (or replacing those of) this process's environment for the command. */
  readonly env?: Record<string, string>
}


/**
 * What a command reads: a stream this process writes to its stdin, or the readable end of
 * another child's stdout pipe, which becomes the command's stdin (the bytes go from child to
 * child, never through this process).
 */
type Input<E> =
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, E> }
  | { readonly _tag: "Pipe"; readonly from: Readable }

/**
 * Starts `command` in the current scope with `input` on its stdin and its stdout as
 * `stdout` ("pipe", or a file descriptor the child writes to directly). `finish` waits for the
 * command to exit and fails as `pipeThrough` documents; the scope's end kills the group.
 */
const start = <E>(
  command: string,
  index: number,
  input: Input<E>,
  stdout: "pipe" | number,
  options: ExecOptions
): Effect.Effect<{ readonly child: ChildProcess; readonly finish: Effect.Effect<void, E | WorkerFailedError> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const failed = (reason: string, tail = "", exitCode?: number) =>
      new WorkerFailedError({ index, reason, tail, ...(exitCode === undefined ? {} : { exitCode }) })
    const env = options.env === undefined ? process.env : { ...process.env, ...options.env }
    // Its own process group, so that stopping it stops the whole pipeline the shell started.
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn("/bin/sh", ["-c", command], { stdio: [input._tag === "Pipe" ? input.from : "pipe", stdout, "pipe"], detached: true, env })
      ),
      release
    )
    const exited = yield* Deferred.make<number | null, WorkerFailedError>()
    child.once("error", (error) => Deferred.unsafeDone(exited, Effect.fail(failed(`cannot start /bin/sh: ${error.message}`))))
    // Its exit, not the close of its pipes: a process it left running may hold them for long.
    child.once("exit", (code) => Deferred.unsafeDone(exited, Effect.succeed(code)))
    // A failed write (EPIPE) means the command closed its stdin early: what it did not read it
    // did not want, and its exit status tells whether that was fine.
    const stdinClosed = Symbol("stdinClosed")
    const feeder = yield* (input._tag === "Pipe" ? Effect.void : Effect.suspend(() => {
      child.stdin!.on("error", () => undefined)
      return writeAll(input.stream, child.stdin!, { end: true, closed: () => stdinClosed })
    })).pipe(
      Effect.catchIf((error): error is typeof stdinClosed => error === stdinClosed, () => Effect.void),
      Effect.tapErrorCause(() => Effect.sync(() => killGroup(child))),
      Effect.forkScoped
    )
    const tail = yield* stderrTail(child.stderr!)
    const finish = Effect.gen(function*() {
      const code = yield* Deferred.await(exited)
      // What it left running goes with it, so its stderr ends (and a full pipe frees its writer).
      killGroup(child)
      // The command is gone: a write it never read would wait forever, so stop the feeder. If
      // the input itself failed (and the command was killed for it), that failure is the story.
      const fed = yield* Fiber.interrupt(feeder)
      if (Exit.isFailure(fed) && !Cause.isInterruptedOnly(fed.cause)) return yield* Effect.failCause(fed.cause as Cause.Cause<E>)
      const stderr = (yield* Fiber.join(tail)).toString("utf8")
      if (code !== 0) {
        return yield* failed(code === null ? "command was killed" : `command exited with code ${code}`, stderr, code ?? undefined)
      }
    })
    return { child, finish }
  })

/**
 * The stdout of `command` fed with `input`. The input's own failure wins over the command's
 * exit status (the command is killed then). A command that stops reading early (`head`) is
 * not an error: the rest of the input is simply not sent. The child is killed if the stream is
 * abandoned.
 */
export const pipeThrough = <E>(
  command: string,
  index: number,
  input: Stream.Stream<Uint8Array, E>,
  options: ExecOptions = {}
): Stream.Stream<Uint8Array, E | WorkerFailedError> =>
  Stream.unwrapScoped(Effect.map(start(command, index, { _tag: "Stream", stream: input }, "pipe", options), ({ child, finish }) =>
    NodeStream.fromReadable<WorkerFailedError>(() => child.stdout!, (error) =>
      new WorkerFailedError({ index, reason: `reading the command's output: ${String(error)}`, tail: "" })).pipe(
        Stream.concat(Stream.drain(Stream.fromEffect(finish)))
      )))

/**
 * Starts `command` in the current scope, fed with `input`, its stdout written by the command
 * itself to the open file descriptor `fd` (from where it stands; no byte of the output passes
 * through this process). The returned effect waits until the command has exited: it succeeds
 * on status 0 and fails as `pipeThrough` does. Closing the scope kills the group, so
 * finalizers added after this call run before the kill.
 */
export const pipeInto = <E>(
  command: string,
  index: number,
  input: Stream.Stream<Uint8Array, E>,
  fd: number,
  options: ExecOptions = {}
): Effect.Effect<Effect.Effect<void, E | WorkerFailedError>, never, Scope.Scope> =>
  Effect.map(start(command, index, { _tag: "Stream", stream: input }, fd, options), ({ finish }) => finish)

/**
 * `pipeInto` with the command's stdin taken from `from`, the readable end of a pipe that
 * another child process writes (its `stdout`): the command inherits that pipe, so no byte of
 * its input passes through this process either. The parent's own handle on `from` is closed
 * once the command has started. Succeeds with the child (its group is killed when the scope
 * closes) and the effect that waits for its exit, as `pipeInto`.
 */
export const pipeFromInto = (
  command: string,
  index: number,
  from: Readable,
  fd: number,
  options: ExecOptions = {}
): Effect.Effect<{ readonly child: ChildProcess; readonly finish: Effect.Effect<void, WorkerFailedError> }, never, Scope.Scope> =>
  Effect.tap(start<never>(command, index, { _tag: "Pipe", from }, fd, options), () => Effect.sync(() => from.destroy()))
