/**
 * A byte range of a local file as a command's stdin, with no byte of it passing through this
 * process, as GNU parallel's `--pipepart` does: a reader (GNU `dd`, which seeks to the range and
 * copies it in 256 KiB reads) writes the range into a pipe, and that pipe is the command's
 * stdin. The header lines, when there are any, come first (`cat` of what we write to the
 * shell's stdin, then `dd`). Reader and command are one `/bin/sh` of ours, spawned once per
 * chunk: Node forks synchronously, in time that grows with its memory (about 12 ms here), while
 * the small shell forks the two cheaply. The shell reports the reader's and the command's exit
 * statuses on pipes of their own, so each failure is still told apart; it is its own process
 * group, killed and reaped when the caller's scope closes.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import type { Readable } from "node:stream"
import type { ByteRange } from "./ByteRange.js"
import { StoreError } from "./Errors.js"
import { WorkerFailedError } from "./Errors.js"
import { killGroup, release, stderrTail } from "./ShellProcess.js"

/** dd's block size: one read and one write per 256 KiB (measured cheaper than `tail -c | head -c`). */
const BLOCK_SIZE = 256 * 1024

/** The operands of GNU dd copying `range` of the file at `path` to stdout (the path is one argument, never shell text). */
const ddOperands = (path: string, range: ByteRange): Array<string> => [
  `if=${path}`,
  "iflag=skip_bytes,count_bytes",
  `skip=${range.start}`,
  `count=${range.end - range.start}`,
  `bs=${BLOCK_SIZE}`,
  "status=none"
]

let probe: Promise<boolean> | undefined

/**
 * Whether this machine's `dd` is GNU dd with byte offsets (`iflag=skip_bytes,count_bytes`):
 * asked once per process (one short run of `dd` on /dev/null), then remembered. Where it is
 * not, callers read the file themselves.
 */
export const available: Effect.Effect<boolean> = Effect.promise(() =>
  probe ??= new Promise<boolean>((resolve) => {
    const child = spawn("dd", ["if=/dev/null", "iflag=skip_bytes,count_bytes", "count=0", "status=none"], { stdio: "ignore" })
    child.once("error", () => resolve(false))
    child.once("exit", (code) => resolve(code === 0))
  })
)

/** What `feed` runs and where from. */
export interface FeedOptions<V> {
  /** The local file whose bytes `range` (half-open, within the file) the command reads. */
  readonly path: string
  readonly range: ByteRange
  /** Bytes the command reads before the range (`run --header`), if any. */
  readonly header: Uint8Array | undefined
  readonly command: string
  /** The chunk's index, for the command's errors. */
  readonly index: number
  /** Variables added to the command's environment. */
  readonly env: Record<string, string>
  /**
   * Run once the reader has stopped (after the command exited, whatever its status): fails when
   * the file is no longer the version the range was resolved in (`ObjectChangedError`), which
   * then wins over any other failure, since bytes of another version explain it.
   */
  readonly verify: Effect.Effect<void, V>
}

/**
 * The chunk's shell: `$1` is the command, the rest are dd's operands. The reader's stderr goes
 * to fd 3 and, once it has ended, its exit status as a line to fd 4; the command's exit status
 * as a line to fd 5. The command holds none of fds 3-5 (only its stdin, stdout and stderr), and
 * the reader not fd 5. The command's stdin ends when the reader has ended (its status written).
 */
const SCRIPT = {
  plain: 'c=$1; shift; { dd "$@" 2>&3; echo $? >&4; } 5>&- | { /bin/sh -c "$c" 3>&- 4>&- 5>&-; echo $? >&5; } 3>&- 4>&-',
  header: 'c=$1; shift; { cat; dd "$@" 2>&3; echo $? >&4; } 5>&- | { /bin/sh -c "$c" 3>&- 4>&- 5>&-; echo $? >&5; } 3>&- 4>&-'
} as const

/** The first line `from` gives, or undefined when it ends (or fails) without one. */
const firstLine = (from: Readable): Effect.Effect<string | undefined> =>
  Effect.async<string | undefined>((resume) => {
    let text = ""
    const done = (line: string | undefined) => {
      from.off("data", onData).off("end", onEnd).off("error", onEnd).off("close", onEnd)
      resume(Effect.succeed(line))
    }
    const onData = (piece: Buffer) => {
      text += piece.toString("latin1")
      const newline = text.indexOf("\n")
      if (newline !== -1) done(text.slice(0, newline))
    }
    const onEnd = () => done(undefined)
    from.on("data", onData).on("end", onEnd).on("error", onEnd).on("close", onEnd)
    return Effect.sync(() => from.off("data", onData).off("end", onEnd).off("error", onEnd).off("close", onEnd))
  })

/** A shell's `$?`: a number, or undefined when no status was written (the process was killed first). */
const statusOf = (line: string | undefined) => {
  const code = line === undefined ? NaN : Number.parseInt(line.trim(), 10)
  return Number.isNaN(code) ? undefined : code
}

/** `$?` of a process killed by SIGPIPE (128 + 13): it wrote to a pipe nobody reads any more. */
const KILLED_BY_SIGPIPE = 141

/**
 * Starts, in the current scope, the reader of `options.range` and `options.command` (one shell,
 * `SCRIPT`), with the reader's pipe as the command's stdin and the command's stdout the open
 * file descriptor `fd` (as `Exec.pipeInto`). The returned effect waits for both: it succeeds
 * when the command exited with status 0, the reader copied the whole range (or was stopped by
 * a broken pipe, or by our kill, because the command stopped reading, as `head` does) and
 * `verify` succeeds. It fails with the command's `WorkerFailedError` (its exit status and the
 * tail of its stderr), with `StoreError` when the reader failed otherwise (its exit status and
 * the tail of its stderr), or with `verify`'s error first. Once the command has exited, the
 * shell's group is killed, so nothing it left behind keeps the reader waiting on a full pipe.
 */
export const feed = <V>(options: FeedOptions<V>) =>
(fd: number): Effect.Effect<Effect.Effect<void, WorkerFailedError | StoreError | V>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { command, header, index, path, range } = options
    const env = { ...process.env, ...options.env }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn("/bin/sh", ["-c", header === undefined ? SCRIPT.plain : SCRIPT.header, "s3split-feed", command, ...ddOperands(path, range)], {
          stdio: [header === undefined ? "ignore" : "pipe", fd, "pipe", "pipe", "pipe", "pipe"],
          detached: true,
          env
        })
      ),
      release
    )
    const failed = (reason: string, tail = "", exitCode?: number) =>
      new WorkerFailedError({ index, reason, tail, ...(exitCode === undefined ? {} : { exitCode }) })
    const shellExited = yield* Deferred.make<void, WorkerFailedError>()
    child.once("error", (error) => Deferred.unsafeDone(shellExited, Effect.fail(failed(`cannot start /bin/sh: ${error.message}`))))
    child.once("exit", () => Deferred.unsafeDone(shellExited, Effect.void))
    const [, , commandStderr, readerStderr, readerStatus, commandStatus] = child.stdio as ReadonlyArray<Readable>
    if (header !== undefined) {
      // A reader gone early (the command stopped reading) makes this write fail: nothing to report.
      child.stdin!.on("error", () => undefined)
      child.stdin!.end(header)
    }
    const commandTail = yield* stderrTail(commandStderr!)
    const readerTail = yield* stderrTail(readerStderr!)
    const readerEnded = yield* Effect.forkScoped(firstLine(readerStatus!))
    const commandEnded = yield* Effect.forkScoped(firstLine(commandStatus!))
    return Effect.gen(function*() {
      // The command's status, or none when the shell ended (or failed to start) without one.
      const commandLine = yield* Effect.raceFirst(Fiber.join(commandEnded), Effect.as(Deferred.await(shellExited), undefined))
      killGroup(child)
      yield* Effect.ignore(Deferred.await(shellExited))
      const readerCode = statusOf(yield* Fiber.join(readerEnded))
      yield* options.verify
      const commandCode = statusOf(commandLine ?? (yield* Fiber.join(commandEnded)))
      if (commandCode === undefined) return yield* failed("command was killed", (yield* Fiber.join(commandTail)).toString("utf8"))
      if (commandCode !== 0) {
        return yield* failed(`command exited with code ${commandCode}`, (yield* Fiber.join(commandTail)).toString("utf8"), commandCode)
      }
      // No status: killed with the group once the command had exited; SIGPIPE: the command closed its stdin early, by choice.
      if (readerCode === undefined || readerCode === 0 || readerCode === KILLED_BY_SIGPIPE) return
      const stderr = (yield* Fiber.join(readerTail)).toString("utf8").trim()
      return yield* new StoreError({
        uri: path,
        reason: `the reader of bytes ${range.start}-${range.end} exited with code ${readerCode}${stderr === "" ? "" : `: ${stderr}`}`
      })
    })
  })
