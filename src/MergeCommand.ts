/**
 * Merges that hand the outputs, as local files, to a command and take its stdout as the result:
 * the building block of `sort -m`, and the user's `--reduce CMD` (`/bin/sh -c CMD sh FILE...`,
 * the outputs as `"$@"` in chunk order). The command runs in its own process group, killed when
 * the result stream is abandoned or interrupted; a non-zero exit is a `MergeError`.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ChunkOutputs } from "./ChunkOutputs.js"
import { MergeError } from "./Errors.js"
import { spawnScoped, stderrTail } from "./ShellProcess.js"


/**
 * Starts `file args` (stdin empty) in the current scope and returns its stdout, which fails
 * with `MergeError` (naming `label`, with the exit code and the tail of stderr) once the
 * command has ended other than with status 0. Closing the scope kills the command's group.
 */
export const commandOutput = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly env: NodeJS.ProcessEnv; readonly label: string }
): Effect.Effect<Stream.Stream<Uint8Array, MergeError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const failed = (reason: string, tail = "", exitCode?: number) =>
      new MergeError({ command: options.label, reason, tail, ...(exitCode === undefined ? {} : { exitCode }) })
    const child = yield* spawnScoped(file, args, options.env)
    const exited = yield* Deferred.make<number | null, MergeError>()
    child.once("error", (error) => Deferred.unsafeDone(exited, Effect.fail(failed(`cannot start ${file}: ${error.message}`))))
    child.once("close", (code) => Deferred.unsafeDone(exited, Effect.succeed(code)))
    child.stdin.on("error", () => undefined)
    child.stdin.end()
    const tail = yield* stderrTail(child.stderr)
    const finish = Effect.gen(function*() {
      const code = yield* Deferred.await(exited)
      if (code === 0) return
      const stderr = (yield* Fiber.join(tail)).toString("utf8")
      return yield* failed(code === null ? "was killed" : `exited with code ${code}`, stderr, code ?? undefined)
    })
    return NodeStream.fromReadable<MergeError>(() => child.stdout, (error) => failed(`reading its output: ${String(error)}`)).pipe(
      Stream.concat(Stream.drain(Stream.fromEffect(finish)))
    )
  })

/** Every output as a local file, in chunk order, each once its chunk has finished. */
export const outputFiles = <E>(outputs: ChunkOutputs<E>): Effect.Effect<Array<string>, E, Scope.Scope> =>
  Effect.forEach(Array.from({ length: outputs.count }, (_, i) => i), outputs.file)

/**
 * `--reduce command`: after every chunk has finished, `/bin/sh -c command sh FILE0 FILE1 ...`
 * with the outputs as its arguments in chunk order; its stdout is the result. Its stdin is
 * empty. Fails with the chunks' own error, or with `MergeError` if the command exits non-zero.
 */
export const reduce = <E>(
  command: string,
  outputs: ChunkOutputs<E>,
  env: NodeJS.ProcessEnv
): Stream.Stream<Uint8Array, E | MergeError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const files = yield* outputFiles(outputs)
    return yield* commandOutput("/bin/sh", ["-c", command, "sh", ...files], { env, label: command })
  }))
