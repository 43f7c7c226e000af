/**
 * The `Executor` whose workers are AWS Lambda functions: one synchronous Invoke per task
 * through `@aws-sdk/client-lambda`. The function (the handler in `lambda/`) answers with an
 * encoded `Exit`, so a worker's typed error is decoded here as the very same type. Lambda's
 * own faults are typed too: throttling (429, honouring Retry-After) and 5xx are retried with
 * backoff; function errors, timeouts and crashes become `WorkerFailedError` with the log tail.
 * The endpoint comes from `AWS_ENDPOINT_URL_LAMBDA` or `AWS_ENDPOINT_URL`, like every AWS tool.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { ChunkTask } from "./ChunkTask.js"
import { TransientStoreError, WorkerFailedError } from "./Errors.js"
import { Executor } from "./Executor.js"
import { asSdkError, transientNetworkCode } from "./NetworkError.js"
import type { SdkErrorShape } from "./NetworkError.js"
import { retrying } from "./Retry.js"
import { increment, Stats } from "./Stats.js"
import { WorkerExit } from "./WorkerExit.js"

export interface LambdaSettings {
  readonly functionName: string
  readonly region: string
  /** A custom Invoke endpoint; by default the SDK's own resolution (AWS_ENDPOINT_URL_LAMBDA...). */
  readonly endpoint: Option.Option<string>
}

interface LambdaErrorShape extends SdkErrorShape {
  readonly retryAfterSeconds?: string
}

const decodeLog = (log: string | undefined) => (log === undefined ? "" : Buffer.from(log, "base64").toString("utf8"))
const decodeExit = Schema.decodeUnknown(Schema.parseJson(WorkerExit))
const encodeTask = Schema.encodeSync(Schema.parseJson(ChunkTask))


/**
 * A Lambda client for the scope, destroyed with it. One attempt per call (retries are ours);
 * a request may wait as long as the longest function run (15 minutes).
 */
export const acquireClient = (region: string, endpoint: Option.Option<string>) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new LambdaClient({
        region,
        maxAttempts: 1,
        ...Option.match(endpoint, { onNone: () => ({}), onSome: (url) => ({ endpoint: url }) }),
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 16 * 60 * 1000 }
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

export const make = (settings: LambdaSettings) =>
  Effect.gen(function*() {
    const client = yield* acquireClient(settings.region, settings.endpoint)
    const stats = yield* Stats

    /** One Invoke; throttling, 5xx and network faults are transient, after Retry-After if given. */
    const invoke = (task: ChunkTask) =>
      Effect.tryPromise({
        try: (abortSignal) =>
          client.send(
            new InvokeCommand({
              FunctionName: settings.functionName,
              InvocationType: "RequestResponse",
              LogType: "Tail",
              Payload: new TextEncoder().encode(encodeTask(task))
            }),
            { abortSignal }
          ),
        catch: (error): LambdaErrorShape => asSdkError(error)
      }).pipe(
        Effect.catchAll((error): Effect.Effect<never, WorkerFailedError | TransientStoreError> => {
          const status = error.$metadata?.httpStatusCode ?? 0
          const reason = `${error.name ?? "Error"}: ${error.message ?? ""}`
          const transient = status === 429 || status >= 500 || error.name === "TooManyRequestsException" ||
            error.name === "TimeoutError" || transientNetworkCode(error) !== undefined
          if (!transient) {
            return Effect.fail(new WorkerFailedError({ index: task.index, reason: `Lambda Invoke failed: ${reason}`, tail: "" }))
          }
          const retryAfter = Number(error.retryAfterSeconds ?? 0)
          return Effect.sleep(Duration.seconds(Number.isFinite(retryAfter) ? retryAfter : 0)).pipe(
            Effect.zipRight(Effect.fail(new TransientStoreError({ uri: `lambda:${settings.functionName}`, reason })))
          )
        })
      )

    const execute = (task: ChunkTask) =>
      Effect.gen(function*() {
        const response = yield* retrying(`Lambda function ${settings.functionName}`, invoke(task)).pipe(
          Effect.provideService(Stats, stats)
        )
        const payload = new TextDecoder().decode(response.Payload ?? new Uint8Array(0))
        const tail = decodeLog(response.LogResult)
        if (response.FunctionError !== undefined) {
          const detail = Option.getOrElse(
            Option.liftThrowable(() => JSON.parse(payload) as { errorType?: string; errorMessage?: string })(),
            () => ({ errorType: undefined, errorMessage: payload })
          )
          return yield* new WorkerFailedError({
            index: task.index,
            reason: `Lambda function error (${detail.errorType ?? response.FunctionError}): ${detail.errorMessage ?? ""}`,
            tail
          })
        }
        const exit = yield* decodeExit(payload).pipe(
          Effect.mapError((error) =>
            new WorkerFailedError({ index: task.index, reason: `unreadable answer from the function: ${error.message}`, tail })
          )
        )
        const result = yield* exit
        // The worker counted in its own process; the run's counters hear of it now.
        yield* Effect.all([
          increment(stats.requests, result.requests),
          increment(stats.retries, result.retries),
          increment(stats.bytesDone, result.bytesIn),
          increment(stats.chunksDone)
        ])
        return result
      })

    return Executor.of({ execute })
  })

/** Workers as Lambda invocations of `settings.functionName`. Needs the run's `Stats`. */
export const layer = (settings: LambdaSettings) => Layer.scoped(Executor, make(settings))
