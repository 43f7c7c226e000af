/**
 * A child process owned by a `Scope`: started in its own process group, and on release the
 * whole group is killed and the child reaped (bounded), so nothing it started outlives the
 * scope. Shared by the chunk commands (`Exec`) and the merges that run a command (`sort -m`,
 * `--reduce`).
 */
import * as Duration from "effect/Duration"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import type { Readable } from "node:stream"
import { spawn } from "node:child_process"
import type { ChildProcess, ChildProcessWithoutNullStreams } from "node:child_process"

/** Kills the child's whole process group; a group already gone is fine. */
export const killGroup = (child: ChildProcess) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {
    // Already gone.
  }
}

/** How long a release waits for the killed child to be reaped before giving up on it. */
const REAP_TIMEOUT = Duration.seconds(5)

/**
 * Kills the group (even when the child has exited: what it left in the background dies too)
 * and waits, bounded, until the child has been reaped.
 */
export const release = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    const exited = () => child.exitCode !== null || child.signalCode !== null
    killGroup(child)
    if (child.pid === undefined || exited()) return resume(Effect.void)
    const onExit = () => resume(Effect.void)
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  }).pipe(Effect.timeoutTo({ duration: REAP_TIMEOUT, onSuccess: () => undefined, onTimeout: () => undefined }))

/**
 * Starts `file args`, with piped stdin, stdout and stderr, as the leader of a new process
 * group, released (group killed, child reaped) when the scope closes. `env` defaults to ours.
 * A failure to start is reported by the child's `error` event.
 */
export const spawnScoped = (
  file: string,
  args: ReadonlyArray<string>,
  env?: NodeJS.ProcessEnv
): Effect.Effect<ChildProcessWithoutNullStreams, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], detached: true, ...(env === undefined ? {} : { env }) })),
    release
  )

/** How much of a child's stderr is kept for an error message. */
const TAIL_BYTES = 2048

/**
 * Reads `stderr` to its end in a fiber of the current scope, keeping only its last 2 KiB (for
 * the one-line error of a command that failed). A read error ends it with what was kept.
 */
export const stderrTail = (stderr: Readable) =>
  NodeStream.fromReadable(() => stderr, () => undefined).pipe(
    Stream.runFold(Buffer.alloc(0), (kept, piece: Uint8Array) => {
      const joined = Buffer.concat([kept, piece])
      return joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined
    }),
    Effect.orElseSucceed(() => Buffer.alloc(0)),
    Effect.forkScoped
  )
