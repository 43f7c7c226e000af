/**
 * The `Executor` whose workers are AWS Lambda functions: one synchronous Invoke per task
 * through `@aws-sdk/client-lambda`. The function (the handler in `lambda/`) answers with an
 * encoded `Exit`, so a worker's typed error is decoded here as the very same type. Lambda's
 * own faults are typed too: throttling (429, honouring Retry-After) and 5xx wait with the
 * throttling budget of `InvokePolicy`; network faults are retried with the read budget of
 * `Retry`; function errors, timeouts and crashes become `WorkerFailedError` with the log tail.
 * The endpoint comes from `AWS_ENDPOINT_URL_LAMBDA` or `AWS_ENDPOINT_URL`, like every AWS tool.
 *
 * Interruption. Aborting an Invoke request does not stop the function: it would go on and
 * write its output after the coordinator had cleaned up. So an Invoke in flight is awaited,
 * never abandoned: interrupting `execute` while its Invoke runs takes effect when the Invoke's
 * response has arrived (the function ended), and then no result is decoded and no new Invoke
 * starts. Interrupting it anywhere else (a retry wait) takes effect at once. So once the
 * interruption of every `execute` fiber has completed, no function of the run is running, and
 * a sweep of the run's work prefix finds every output. Nothing waits forever: the Invoke has a
 * connect timeout and a response timeout (`InvokePolicy`, 16 minutes by default: Lambda stops
 * any function after 15). When the response timeout fires, the request is aborted and the chunk
 * fails; with the default the function has ended by then, but with `S3SPLIT_INVOKE_TIMEOUT` set
 * below the function's own timeout it may still be running, and may write its output after a
 * sweep: the one case a sweep cannot cover until the function's own timeout has passed.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda"
import type { InvokeCommandOutput } from "@aws-sdk/client-lambda"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { TransientStoreError, WorkerFailedError } from "./Errors.js"
import { Executor } from "./Executor.js"
import * as InvokePolicy from "./InvokePolicy.js"
import { WorkerTask } from "./MultiTask.js"
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

/** The response timeout of an Invoke fired. Local only. */
class InvokeTimeoutError extends Data.TaggedError("InvokeTimeoutError")<{ readonly after: Duration.Duration }> {}

const decodeLog = (log: string | undefined) => (log === undefined ? "" : Buffer.from(log, "base64").toString("utf8"))
const decodeExit = Schema.decodeUnknown(Schema.parseJson(WorkerExit))
const encodeTask = Schema.encodeSync(Schema.parseJson(WorkerTask))

/**
 * A Lambda client for the scope, destroyed with it. One attempt per call (retries are ours).
 * The SDK enforces the connect timeout (an error named `TimeoutError`); response timeouts are
 * the caller's, in Effect, since the SDK's `requestTimeout` only logs. Sockets are not pooled
 * below the run's concurrency, so a response timeout never counts a wait for a socket.
 */
export const acquireClient = (region: string, endpoint: Option.Option<string>, connectTimeout: Duration.Duration) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const agent = { keepAlive: true, maxSockets: 1024 }
      return new LambdaClient({
        region,
        maxAttempts: 1,
        ...Option.match(endpoint, { onNone: () => ({}), onSome: (url) => ({ endpoint: url }) }),
        requestHandler: { connectionTimeout: Duration.toMillis(connectTimeout), httpAgent: agent, httpsAgent: agent }
      })
    }),
    (client) => Effect.sync(() => client.destroy())
  )

/**
 * Runs `request` in a fiber of its own that the caller's interruption does not reach, and
 * awaits it uninterruptibly: the caller's interruption takes effect once the request has
 * ended. Only `timeout` aborts the request (through its abort signal).
 */
const awaitedToTheEnd = <A, E>(request: Effect.Effect<A, E>, timeout: Duration.Duration) =>
  Effect.uninterruptible(
    Effect.flatMap(
      Effect.forkDaemon(Effect.interruptible(
        Effect.timeoutFail(request, { duration: timeout, onTimeout: () => new InvokeTimeoutError({ after: timeout }) })
      )),
      Fiber.join
    )
  )

export const make = (settings: LambdaSettings) =>
  Effect.gen(function*() {
    const policy = yield* InvokePolicy.config
    const client = yield* acquireClient(settings.region, settings.endpoint, policy.connectTimeout)
    const stats = yield* Stats
    const target = `Lambda function ${settings.functionName}`

    /** Lambda's refusals wait with the throttling budget, network faults with the read budget. */
    const classify = (task: WorkerTask) =>
    (
      error: LambdaErrorShape | InvokeTimeoutError
    ): Effect.Effect<never, WorkerFailedError | TransientStoreError | InvokePolicy.InvokeThrottledError> => {
      if (error instanceof InvokeTimeoutError) {
        return Effect.fail(
          new WorkerFailedError({
            index: task.index,
            reason: `no answer from ${target} within ${Duration.format(error.after)} (S3SPLIT_INVOKE_TIMEOUT)`,
            tail: ""
          })
        )
      }
      const status = error.$metadata?.httpStatusCode ?? 0
      const reason = `${error.name ?? "Error"}: ${error.message ?? ""}`
      if (status === 429 || status >= 500 || error.name === "TooManyRequestsException") {
        const retryAfter = Number(error.retryAfterSeconds ?? 0)
        return Effect.fail(
          new InvokePolicy.InvokeThrottledError({
            reason,
            retryAfter: Duration.seconds(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 0)
          })
        )
      }
      if (error.name === "TimeoutError" || transientNetworkCode(error) !== undefined) {
        return Effect.fail(new TransientStoreError({ uri: `lambda:${settings.functionName}`, reason }))
      }
      return Effect.fail(new WorkerFailedError({ index: task.index, reason: `Lambda Invoke failed: ${reason}`, tail: "" }))
    }

    /** One Invoke, awaited to its end even when interrupted (see the module header). */
    const invoke = (task: WorkerTask) =>
      awaitedToTheEnd(
        Effect.tryPromise({
          try: (abortSignal): Promise<InvokeCommandOutput> =>
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
        }),
        policy.responseTimeout
      ).pipe(Effect.catchAll(classify(task)))

    const execute = (task: WorkerTask) =>
      Effect.gen(function*() {
        const response = yield* InvokePolicy.retryThrottled(policy, target, retrying(target, invoke(task))).pipe(
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

/**
 * Workers as Lambda invocations of `settings.functionName`, with the timeouts and throttling
 * budget of `InvokePolicy.config` (read from the environment). Needs the run's `Stats`.
 */
export const layer = (settings: LambdaSettings) => Layer.scoped(Executor, make(settings))
