/**
 * A byte range of a local file as a command's stdin, with no byte of it passing through this
 * process, as GNU parallel's `--pipepart` does: a reader child (GNU `dd`, which seeks to the
 * range and copies it in 256 KiB reads) writes the range into a pipe, and that pipe is the
 * command's stdin. The header lines, when there are any, come first: the reader is then
 * `sh -c 'cat; exec dd ...'` with the header written to its stdin. Both children are owned by
 * the caller's scope (each its own process group, killed and reaped when the scope closes).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import type { ByteRange } from "./ByteRange.js"
import { StoreError } from "./Errors.js"
import type { WorkerFailedError } from "./Errors.js"
import { pipeFromInto } from "./Exec.js"
import { killGroup, spawnScoped, stderrTail } from "./ShellProcess.js"

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
 * Starts, in the current scope, the reader of `options.range` and `options.command` with the
 * reader's pipe as its stdin and its stdout the open file descriptor `fd` (as `Exec.pipeInto`).
 * The returned effect waits for both: it succeeds when the command exited with status 0, the
 * reader copied the whole range (or was stopped by a broken pipe because the command stopped
 * reading, as `head` does) and `verify` succeeds. It fails with the command's
 * `WorkerFailedError`, with `StoreError` when the reader failed otherwise (its exit status and
 * the tail of its stderr), or with `verify`'s error first. Once the command has exited, its
 * group is killed, so nothing it left behind keeps the reader waiting on a full pipe.
 */
export const feed = <V>(options: FeedOptions<V>) =>
(fd: number): Effect.Effect<Effect.Effect<void, WorkerFailedError | StoreError | V>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { header, path, range } = options
    const dd = ddOperands(path, range)
    const reader = header === undefined
      ? yield* spawnScoped("dd", dd)
      : yield* spawnScoped("/bin/sh", ["-c", "cat; exec dd \"$@\"", "s3split-feed", ...dd])
    const readerExited = yield* Deferred.make<{ readonly code: number | null; readonly signal: string | null; readonly error?: string }>()
    reader.once("error", (error) => Deferred.unsafeDone(readerExited, Effect.succeed({ code: null, signal: null, error: error.message })))
    reader.once("exit", (code, signal) => Deferred.unsafeDone(readerExited, Effect.succeed({ code, signal })))
    // A reader gone early (the command stopped reading) makes this write fail: nothing to report.
    reader.stdin.on("error", () => undefined)
    reader.stdin.end(header)
    const tail = yield* stderrTail(reader.stderr)
    const command = yield* pipeFromInto(options.command, options.index, reader.stdout, fd, { env: options.env })
    return Effect.gen(function*() {
      const commandExit = yield* Effect.exit(command.finish)
      killGroup(command.child)
      const ended = yield* Deferred.await(readerExited)
      yield* options.verify
      yield* commandExit
      // Killed by SIGPIPE: the command closed its stdin before the end of the range, by choice.
      if (ended.code === 0 || ended.signal === "SIGPIPE") return
      const stderr = (yield* Fiber.join(tail)).toString("utf8").trim()
      const status = ended.error ?? (ended.code === null ? `was killed by ${ended.signal}` : `exited with code ${ended.code}`)
      return yield* new StoreError({
        uri: path,
        reason: `the reader of bytes ${range.start}-${range.end} ${status}${stderr === "" ? "" : `: ${stderr}`}`
      })
    })
  })
