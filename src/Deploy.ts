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
    const send = <A>(run: (signal: AbortSignal) => Promise<A>) =>
      Effect.tryPromise({ try: run, catch: asSdkError })
    const failed = (what: string) => (error: SdkErrorShape) =>
      new StoreError({ uri: `lambda:${options.functionName}`, reason: `${what}: ${error.name}: ${error.message}` })
    const exists = yield* send((abortSignal) =>
      client.send(new GetFunctionCommand({ FunctionName: options.functionName }), { abortSignal })).pipe(
        Effect.as(true),
        Effect.catchIf((error) => error.name === "ResourceNotFoundException", () => Effect.succeed(false)),
        Effect.mapError(failed("GetFunction"))
      )
    if (exists) {
      yield* send((abortSignal) =>
        client.send(new UpdateFunctionCodeCommand({ FunctionName: options.functionName, ZipFile: zip }), { abortSignal })).pipe(
          Effect.mapError(failed("UpdateFunctionCode"))
        )
      return "updated" satisfies DeployOutcome
    }
    if (options.role === undefined) {
      return yield* new UsageError({ reason: `function ${options.functionName} does not exist: give --role ARN to create it` })
    }
    yield* send((abortSignal) =>
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
      )).pipe(Effect.mapError(failed("CreateFunction")))
    return "created" satisfies DeployOutcome
  }).pipe(Effect.scoped)
