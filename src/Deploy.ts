/**
 * `deploy`: puts the worker bundle (`dist/lambda.zip`) into a Lambda function, creating the
 * function when it does not exist (Node.js 22, handler `index.handler`) and replacing its code
 * when it does, then waits until Lambda has put it into service: `State` Active after a create,
 * `LastUpdateStatus` Successful after an update (as the AWS waiters `FunctionActiveV2` and
 * `FunctionUpdatedV2` do), so that the next run invokes the new code.
 */
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  UpdateFunctionCodeCommand
} from "@aws-sdk/client-lambda"
import type { FunctionConfiguration } from "@aws-sdk/client-lambda"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { StoreError, UsageError } from "./Errors.js"
import * as InvokePolicy from "./InvokePolicy.js"
import { acquireClient } from "./LambdaExecutor.js"
import { asSdkError } from "./NetworkError.js"
import type { SdkErrorShape } from "./NetworkError.js"

export interface DeployOptions {
  readonly functionName: string
  readonly zipPath: string
  /** The execution role; needed only to create the function. */
  readonly role: string | undefined
  readonly memoryMb: number
  readonly timeoutSeconds: number
  readonly region: string
  readonly endpoint: Option.Option<string>
}

/** What `deploy` did. */
export type DeployOutcome = "created" | "updated"

/** How long one management call may take, how often readiness is polled, and for how long. */
const CALL_TIMEOUT = Duration.minutes(2)
const POLL_EVERY = Duration.seconds(1)
const READY_WITHIN = Duration.minutes(5)

/** The function is not in service yet (Pending, or an update InProgress). Local only. */
class NotReady extends Data.TaggedError("NotReady")<{ readonly status: string }> {}

/** Where Lambda stands with the function: in service, still getting there, or failed. */
const readiness = (configuration: FunctionConfiguration) => {
  if (configuration.State === "Failed") {
    return { _tag: "Failed", detail: `State Failed (${configuration.StateReasonCode ?? "?"}: ${configuration.StateReason ?? ""})` } as const
  }
  if (configuration.LastUpdateStatus === "Failed") {
    return {
      _tag: "Failed",
      detail: `LastUpdateStatus Failed (${configuration.LastUpdateStatusReasonCode ?? "?"}: ${configuration.LastUpdateStatusReason ?? ""})`
    } as const
  }
  if (configuration.State === "Pending") return { _tag: "Pending", status: "State Pending" } as const
  if (configuration.LastUpdateStatus === "InProgress") return { _tag: "Pending", status: "LastUpdateStatus InProgress" } as const
  return { _tag: "Ready" } as const
}

/**
 * Creates or updates the function and waits until it is in service (polled every second, for
 * up to 5 minutes). Fails with `UsageError` when the bundle is missing or a new function has
 * no role, and with `StoreError` naming the Lambda error, the Failed state and its reason, or
 * the status still reached after 5 minutes.
 */
export const deploy = (options: DeployOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const zip = yield* fs.readFile(options.zipPath).pipe(
      Effect.mapError(() =>
        new UsageError({ reason: `no bundle at ${options.zipPath}: run \`npm run build:lambda\` first` })
      )
    )
    const policy = yield* InvokePolicy.config
    const client = yield* acquireClient(options.region, options.endpoint, policy.connectTimeout)
    const uri = `lambda:${options.functionName}`
    const send = <A>(what: string, run: (signal: AbortSignal) => Promise<A>) =>
      Effect.tryPromise({ try: run, catch: asSdkError }).pipe(
        Effect.timeoutFail({
          duration: CALL_TIMEOUT,
          onTimeout: (): SdkErrorShape => ({ name: "TimeoutError", message: `no answer within ${Duration.format(CALL_TIMEOUT)}` })
        }),
        Effect.mapError((error) => new StoreError({ uri, reason: `${what}: ${error.name}: ${error.message}` }))
      )
    const configuration = send("GetFunctionConfiguration", (abortSignal) =>
      client.send(new GetFunctionConfigurationCommand({ FunctionName: options.functionName }), { abortSignal }))
    /** Polls until the function is in service; `after` names what it waits on. */
    const inService = (after: string, acceptFailed: boolean) =>
      configuration.pipe(
        Effect.flatMap((current): Effect.Effect<void, StoreError | NotReady> => {
          const state = readiness(current)
          if (state._tag === "Pending") return Effect.fail(new NotReady({ status: state.status }))
          if (state._tag === "Failed" && !acceptFailed) {
            return Effect.fail(new StoreError({ uri, reason: `the function is not in service after ${after}: ${state.detail}` }))
          }
          return Effect.void
        }),
        Effect.retry({ schedule: Schedule.spaced(POLL_EVERY).pipe(Schedule.upTo(READY_WITHIN)), while: (error) => error._tag === "NotReady" }),
        Effect.catchTag("NotReady", (error) =>
          Effect.fail(new StoreError({ uri, reason: `still ${error.status} ${Duration.format(READY_WITHIN)} after ${after}` })))
      )
    const exists = yield* Effect.tryPromise({
      try: (abortSignal) => client.send(new GetFunctionCommand({ FunctionName: options.functionName }), { abortSignal }),
      catch: asSdkError
    }).pipe(
      Effect.as(true),
      Effect.catchIf((error) => error.name === "ResourceNotFoundException", () => Effect.succeed(false)),
      Effect.mapError((error) => new StoreError({ uri, reason: `GetFunction: ${error.name}: ${error.message}` }))
    )
    if (exists) {
      // An update still in progress would refuse ours (ResourceConflictException); a failed one does not.
      yield* inService("the previous deploy", true)
      yield* send("UpdateFunctionCode", (abortSignal) =>
        client.send(new UpdateFunctionCodeCommand({ FunctionName: options.functionName, ZipFile: zip }), { abortSignal }))
      yield* inService("UpdateFunctionCode", false)
      return "updated" satisfies DeployOutcome
    }
    if (options.role === undefined) {
      return yield* new UsageError({ reason: `function ${options.functionName} does not exist: give --role ARN to create it` })
    }
    yield* send("CreateFunction", (abortSignal) =>
      client.send(
        new CreateFunctionCommand({
          FunctionName: options.functionName,
          Runtime: "nodejs22.x",
          Handler: "index.handler",
          Role: options.role,
          Code: { ZipFile: zip },
          MemorySize: options.memoryMb,
          Timeout: options.timeoutSeconds,
          Description: "s3split chunk worker"
        }),
        { abortSignal }
      ))
    yield* inService("CreateFunction", false)
    return "created" satisfies DeployOutcome
  }).pipe(Effect.scoped)
