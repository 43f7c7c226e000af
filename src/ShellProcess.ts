/**
 * A child process owned by a `Scope`: started in its own process group, and on release the
 * whole group is killed and the child reaped (bounded), so nothing it started outlives the
 * scope. Shared by the chunk commands (`Exec`) and the merges that run a command (`sort -m`,
 * `--reduce`).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
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
