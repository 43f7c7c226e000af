/**
 * The AWS Lambda entry point: the same chunk-worker program the local executor runs, over the
 * S3 store configured from the function's environment (`AWS_ENDPOINT_URL_S3`, `AWS_REGION`,
 * ...). The runtime, with its S3 client, is built once per container. The answer is the
 * encoded `Exit` of the chunk, so the coordinator decodes the very same result or typed error.
 */
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { runTask } from "../src/ChunkWorker.js"
import { WorkerFailedError } from "../src/Errors.js"
import * as Layers from "../src/Layers.js"
import { WorkerTask } from "../src/MultiTask.js"
import { RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { Stats } from "../src/Stats.js"
import { WorkerExit } from "../src/WorkerExit.js"

process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"

const store = Layer.unwrapScoped(Effect.map(S3ObjectStore.settingsConfig, (settings) => S3ObjectStore.layer(settings)))
const WorkerLayer = Layers.workerLayer(store, RetryPolicy.layerConfig)

const runtime = ManagedRuntime.make(WorkerLayer)

const decodeTask = Schema.decodeUnknown(WorkerTask)
const encodeExit = Schema.encodeSync(WorkerExit)

/** The event's chunk index when it has one, so that even an undecodable task names its chunk. */
const indexOf = (event: unknown): number | undefined => {
  const index = typeof event === "object" && event !== null ? (event as { index?: unknown }).index : undefined
  return typeof index === "number" && Number.isSafeInteger(index) && index >= 0 ? index : undefined
}

/** Runs one chunk task (the encoded `WorkerTask` as the event) and answers its encoded `Exit`. */
export const handler = async (event: unknown): Promise<unknown> => {
  const index = indexOf(event)
  const failed = (reason: string) => new WorkerFailedError({ ...(index === undefined ? {} : { index }), reason, tail: "" })
  const exit = await runtime.runPromiseExit(
    decodeTask(event).pipe(
      Effect.mapError((error) => failed(`not a chunk task: ${error.message}`)),
      Effect.flatMap(runTask),
      Effect.provide(Stats.layer)
    )
  )
  return encodeExit(Exit.mapError(exit, (error) =>
    ConfigError.isConfigError(error) ? failed(`the function's configuration is invalid: ${error.message}`) : error))
}
