/**
 * The entry point of a worker thread: the same chunk-worker program the fiber executor runs,
 * over the store layers built from the thread's `InitialMessage`. Interrupting a request
 * (the coordinator's `execute` was interrupted) interrupts its chunk, which kills its command.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { runTask } from "./ChunkWorker.js"
import * as Layers from "./Layers.js"
import { RetryPolicy } from "./Retry.js"
import * as RoutingObjectStore from "./RoutingObjectStore.js"
import { Stats } from "./Stats.js"
import type { InitialMessage } from "./ThreadProtocol.js"
import { ThreadRequest } from "./ThreadProtocol.js"

process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"

/** The layers of one thread: the routing store, the reader and the retry policy. */
const threadLayer = (init: InitialMessage) => {
  const store = RoutingObjectStore.layer({
    endpoint: Option.fromNullable(init.endpoint),
    region: init.region,
    ...(init.partBudget === undefined ? {} : { partBudget: init.partBudget })
  })
  return Layers.workerLayer(store, Layer.orDie(RetryPolicy.layerConfig)).pipe(Layer.provide(NodeContext.layer))
}

const handlers = WorkerRunner.layerSerialized(ThreadRequest, {
  InitialMessage: threadLayer,
  RunChunk: ({ task }) => Effect.provide(runTask(task), Stats.layer)
})

WorkerRunner.launch(Layer.provide(handlers, NodeWorkerRunner.layer)).pipe(NodeRuntime.runMain)
