/**
 * The process edge of one bench measurement (a child of the bench, like `main.ts` for the
 * command line): decodes a `MeasureRequest` from argv, HEADs the object through the project's
 * S3 store (untimed: every strategy starts from the size and version), runs the strategy,
 * and prints one `Measurement` as JSON on stdout. Credentials come from the environment.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { performance } from "node:perf_hooks"
import * as Layers from "../Layers.js"
import { ObjectStore } from "../ObjectStore.js"
import { format, S3Uri } from "../ObjectUri.js"
import { retrying, RetryPolicy } from "../Retry.js"
import * as S3ObjectStore from "../S3ObjectStore.js"
import { snapshot } from "../Stats.js"
import { MeasureRequest, Measurement } from "./Measurement.js"
import * as Strategies from "./Strategies.js"

const rss = () => process.resourceUsage().maxRSS * 1024

const measure = (request: MeasureRequest) =>
  Effect.gen(function*() {
    const store = yield* ObjectStore
    const uri = new S3Uri({ bucket: request.bucket, key: request.key })
    const version = yield* retrying(format(uri), store.head(uri))
    const before = yield* snapshot
    const rssBeforeBytes = rss()
    const started = performance.now()
    const chunks = yield* Strategies.run(request.strategy, { uri, version, chunks: request.chunks, lookahead: request.lookahead })
    const wallMs = performance.now() - started
    const after = yield* snapshot
    const measurement = new Measurement({
      strategy: request.strategy,
      chunks: request.chunks,
      wallMs,
      requests: after.requests - before.requests,
      retries: after.retries - before.retries,
      bytesFetched: after.bytesFetched - before.bytesFetched,
      chunkSizes: chunks.map((chunk) => chunk.bytes),
      peakRssBytes: rss(),
      rssBeforeBytes
    })
    yield* Console.log(JSON.stringify(Schema.encodeSync(Measurement)(measurement)))
  })

/** The project's S3 store on `endpoint`, the reader over it, and fresh counters: a worker's wiring (`Layers`). */
const layer = (endpoint: string) =>
  Layers.workerLayer(
    S3ObjectStore.layer({ endpoint: Option.some(endpoint), region: process.env["AWS_REGION"] ?? "us-east-1" }),
    RetryPolicy.layerConfig
  )

Schema.decodeUnknown(Schema.parseJson(MeasureRequest))(process.argv[2]).pipe(
  Effect.flatMap((request) => Effect.provide(measure(request), layer(request.endpoint))),
  // The parent reads the measurement from stdout and the reason of a failure from stderr.
  Effect.tapErrorCause((cause) => Effect.sync(() => process.stderr.write(`${Cause.pretty(cause)}\n`))),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
