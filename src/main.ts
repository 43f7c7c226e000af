/**
 * The process edge: runs the command line with Node's layers and turns every failure into one
 * line on stderr and a non-zero exit. The only place that runs the runtime.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"

// The SDK warns on every run that future releases will need Node 22; that is not the user's concern here.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim()

Cli.main(process.argv).pipe(
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.zipRight(Console.error("s3split: interrupted"), Effect.failCause(cause))
    const failure = Cause.failureOption(cause)
    // @effect/cli has already printed its own validation message.
    if (failure._tag === "Some" && ValidationError.isValidationError(failure.value)) return Effect.failCause(cause)
    const message = failure._tag === "Some" && failure.value instanceof Error
      ? failure.value.message
      : `internal error: ${Cause.pretty(cause).split("\n")[0]}`
    return Effect.zipRight(Console.error(`s3split: ${oneLine(message)}`), Effect.failCause(cause))
  }),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    // An interrupted run (SIGINT) has cleaned up after itself, but it did not succeed.
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
  })
)
