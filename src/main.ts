/**
 * The process edge: runs the command line with Node's layers and turns every ending into one
 * exit status. The only place that runs the runtime.
 *
 * Every way a run can end becomes either the program's own outcome or interruption of its one
 * fiber, so a single cleanup path (the finalizers of its scopes) serves them all:
 * - success: 0; a failure: one line `s3split: ...` on stderr and 1;
 * - SIGINT: `s3split: interrupted` and 130; SIGTERM: the same and 143 (128 + the signal);
 * - a closed stdout (EPIPE, as in `... | head`): quietly, like a Unix filter, 141 (128 + SIGPIPE).
 * A second SIGINT or SIGTERM while cleaning up exits at once with the same status.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Cli from "./Cli.js"
import { StdoutClosedError } from "./Errors.js"

// The SDK warns on every run that future releases will need Node 22; that is not the user's concern here.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"

type Ending = "SIGINT" | "SIGTERM" | "EPIPE"

const STATUS: Record<Ending, number> = { SIGINT: 130, SIGTERM: 143, EPIPE: 141 }

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim()

/** The one line a failure prints, or none (the CLI printed its own, or stdout was closed). */
const failureLine = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    // @effect/cli has already printed its own validation message.
    if (ValidationError.isValidationError(error) || error instanceof StdoutClosedError) return undefined
    if (error instanceof Error) return `s3split: ${oneLine(error.message)}`
  }
  return `s3split: internal error: ${oneLine(Cause.pretty(cause).split("\n")[0] ?? "")}`
}

/** @effect/cli prints its validation errors with `Console.error`: make each our one line. */
const withOneLineErrors = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Console.consoleWith((console) =>
    Effect.withConsole(effect, {
      ...console,
      error: (...args: ReadonlyArray<unknown>) =>
        Effect.sync(() => {
          const text = oneLine(args.join(" ").replace(/\x1b\[[0-9;]*m/g, ""))
          if (text !== "") process.stderr.write(`s3split: ${text}\n`)
        })
    }))

const isStdoutClosed = (cause: Cause.Cause<unknown>) =>
  Option.exists(Cause.failureOption(cause), (error) => error instanceof StdoutClosedError)

/** Runs the program in one fiber and maps each of its endings to an exit status. */
const runMain = <A, E>(program: Effect.Effect<A, E>) => {
  const fiber = Effect.runFork(program)
  // The runtime has no other handle while the program waits on a child or a timer.
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1)
  let ending: Ending | undefined
  const stop = (why: Ending) => {
    if (ending !== undefined) {
      // Asked again while cleaning up: the user wants out now.
      if (why !== "EPIPE") process.exit(STATUS[ending])
      return
    }
    ending = why
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const onSigint = () => stop("SIGINT")
  const onSigterm = () => stop("SIGTERM")
  // EPIPE, or any other failure of our stdout: nobody is reading what we would print.
  const onStdoutError = () => stop("EPIPE")
  process.on("SIGINT", onSigint)
  process.on("SIGTERM", onSigterm)
  process.stdout.on("error", onStdoutError)

  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    process.off("SIGINT", onSigint)
    process.off("SIGTERM", onSigterm)
    if (Exit.isSuccess(exit)) return
    if (ending === "EPIPE" || isStdoutClosed(exit.cause)) return process.exit(STATUS.EPIPE)
    if (Cause.isInterruptedOnly(exit.cause)) {
      process.stderr.write("s3split: interrupted\n")
      return process.exit(STATUS[ending ?? "SIGINT"])
    }
    const line = failureLine(exit.cause)
    if (line !== undefined) process.stderr.write(`${line}\n`)
    process.exit(1)
  })
}

runMain(Cli.main(process.argv).pipe(withOneLineErrors, Effect.provide(NodeContext.layer)))
