/**
 * `deploy`: puts the worker bundle (`dist/lambda.zip`) into a Lambda function, creating the
 * function when it does not exist (Node.js 22, handler `index.handler`) and replacing its code
 * when it does.
 */
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  UpdateFunctionCodeCommand
} from "@aws-sdk/client-lambda"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import { StoreError, UsageError } from "./Errors.js"
import { acquireClient } from "./LambdaExecutor.js"

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

interface LambdaErrorShape {
  readonly name?: string
  readonly message?: string
}

/** What `deploy` did. */
export type DeployOutcome = "created" | "updated"

/**
 * Creates or updates the function. Fails with `UsageError` when the bundle is missing or a
 * new function has no role, and with `StoreError` naming the Lambda error otherwise.
 */
export const deploy = (options: DeployOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const zip = yield* fs.readFile(options.zipPath).pipe(
      Effect.mapError(() =>
        new UsageError({ reason: `no bundle at ${options.zipPath}: run \`npm run build:lambda\` first` })
      )
    )
    const client = yield* acquireClient(options.region, options.endpoint)
    const call = <A>(what: string, run: (signal: AbortSignal) => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (error) => error as LambdaErrorShape
      }).pipe(Effect.mapError((error) =>
        error.name === "ResourceNotFoundException"
          ? ({ _tag: "NotFound" } as const)
          : new StoreError({ uri: `lambda:${options.functionName}`, reason: `${what}: ${error.name}: ${error.message}` })
      ))
    const exists = yield* call("GetFunction", (abortSignal) =>
      client.send(new GetFunctionCommand({ FunctionName: options.functionName }), { abortSignal })).pipe(
        Effect.as(true),
        Effect.catchIf((error) => error._tag === "NotFound", () => Effect.succeed(false))
      )
    if (exists) {
      yield* call("UpdateFunctionCode", (abortSignal) =>
        client.send(new UpdateFunctionCodeCommand({ FunctionName: options.functionName, ZipFile: zip }), { abortSignal }))
      return "updated" satisfies DeployOutcome
    }
    if (options.role === undefined) {
      return yield* new UsageError({ reason: `function ${options.functionName} does not exist: give --role ARN to create it` })
    }
    yield* call("CreateFunction", (abortSignal) =>
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
    return "created" satisfies DeployOutcome
  }).pipe(
    Effect.scoped,
    Effect.catchIf((error): error is { readonly _tag: "NotFound" } => error._tag === "NotFound", () =>
      Effect.fail(new StoreError({ uri: `lambda:${options.functionName}`, reason: "the function vanished during deploy" })))
  )
