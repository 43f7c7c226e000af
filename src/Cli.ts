/**
 * The command tree. Handlers only turn arguments into options, call the program, and render
 * its report; every rule lives in the modules they call.
 */
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Os from "node:os"
import { benchCommand } from "./bench/BenchCommand.js"
import { StdoutClosedError, UsageError } from "./Errors.js"
import * as Executor from "./Executor.js"
import * as Header from "./Header.js"
import * as ObjectUri from "./ObjectUri.js"
import * as Layers from "./Layers.js"
import * as MergeMode from "./MergeMode.js"
import { chunkCount, MAX_CHUNKS } from "./Planner.js"
import type { PlanSpec } from "./Planner.js"
import type { ObjectVersion } from "./ObjectStore.js"
import { withProgress } from "./Progress.js"
import { writeAll } from "./WritableSink.js"
import * as Report from "./Report.js"
import { RetryPolicy } from "./Retry.js"
import * as RoutingObjectStore from "./RoutingObjectStore.js"
import * as S3Settings from "./S3Settings.js"
import { parseCount, parseSize } from "./Size.js"
import * as SourceSet from "./SourceSet.js"
import { headSource, split, splitMulti } from "./Split.js"

const DEFAULT_LOOKAHEAD = 64 * 1024

const source = Args.text({ name: "SOURCE" }).pipe(
  Args.withDescription(
    "one or more, read as if concatenated in the order given: an object (a path, a file:// URL or s3://bucket/key), a prefix (s3://bucket/prefix/) or directory (dir/), or a glob (s3://bucket/logs/*.gz, 'dir/*.log')"
  ),
  Args.atLeast(1)
)
const decompress = Options.choice("decompress", ["auto", "none"]).pipe(
  Options.withDescription("auto: gunzip the objects whose key ends in .gz (each is read whole by one worker); none: read every object as bytes"),
  Options.withDefault("auto" as const)
)
/** A parse of ours as @effect/cli validation: its message is printed as the one error line. */
const validated = <A>(parse: (text: string) => Either.Either<A, UsageError>) => (text: string) =>
  Either.mapLeft(parse(text), (error) => ValidationError.invalidValue(HelpDoc.p(error.reason)))

const chunks = Options.text("chunks").pipe(
  Options.withDescription(`the number of chunks N (at most ${MAX_CHUNKS})`),
  Options.mapEffect(validated((text) => parseCount(text, "--chunks", MAX_CHUNKS))),
  Options.optional
)
const chunkSize = Options.text("chunk-size").pipe(
  Options.withDescription("the approximate chunk size (bytes, or with KiB/MiB/GiB/KB/MB/GB)"),
  Options.mapEffect(validated((text) => parseSize(text, "--chunk-size"))),
  Options.optional
)
const json = Options.boolean("json").pipe(Options.withDescription("print one JSON object per chunk per line"))
const out = Options.text("out").pipe(
  Options.withDescription("write the chunks to DEST/part-NNNNN (a directory or s3://bucket/prefix/)"),
  Options.optional
)
const concurrency = Options.text("concurrency").pipe(
  Options.withDescription("workers at once (default: min(N, 16))"),
  Options.mapEffect(validated((text) => parseCount(text, "--concurrency"))),
  Options.optional
)
const lookahead = Options.text("lookahead").pipe(
  Options.withDescription("bytes read past a chunk's end in its first request (default 64KiB)"),
  Options.withFallbackConfig(Config.string("S3SPLIT_LOOKAHEAD")),
  Options.mapEffect(validated((text) => parseSize(text, "--lookahead", 0))),
  Options.withDefault(DEFAULT_LOOKAHEAD)
)
const endpoint = Options.text("endpoint").pipe(
  Options.withDescription("S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)"),
  Options.optional
)

const fromEither = <A>(either: Either.Either<A, UsageError>) => Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })
const optional = <A>(value: Option.Option<string>, parse: (text: string) => Either.Either<A, UsageError>) =>
  Option.match(value, { onNone: () => Effect.succeed(undefined), onSome: (text) => fromEither(parse(text)) })

const planSpec = (chunksValue: Option.Option<number>, sizeValue: Option.Option<number>) =>
  Effect.gen(function*() {
    if (Option.isSome(chunksValue) && Option.isSome(sizeValue)) {
      return yield* new UsageError({ reason: "give either --chunks or --chunk-size, not both" })
    }
    if (Option.isSome(chunksValue)) return { _tag: "Chunks", chunks: chunksValue.value } satisfies PlanSpec
    if (Option.isSome(sizeValue)) return { _tag: "ChunkSize", chunkSize: sizeValue.value } satisfies PlanSpec
    return yield* new UsageError({ reason: "give --chunks N or --chunk-size SIZE" })
  })

/** The bound on N, checked once the size is known (before any chunk is read). */
const checkChunkCount = (size: number, spec: PlanSpec) => {
  const count = chunkCount(size, spec)
  return count <= MAX_CHUNKS ? Effect.void : Effect.fail(
    new UsageError({
      reason: `--chunk-size ${spec._tag === "ChunkSize" ? spec.chunkSize : ""} gives ${count} chunks for this ${size}-byte object; at most ${MAX_CHUNKS}: give a larger --chunk-size`
    })
  )
}

const backend = Options.choice("backend", ["local", "threads", "lambda"]).pipe(
  Options.withDescription(
    "where the workers run: fibers of this process (local), worker threads of this process, one per core (threads), or AWS Lambda invocations"
  ),
  Options.withDefault("local" as const)
)
const functionName = Options.text("function").pipe(
  Options.withDescription("the Lambda function of the workers (with --backend lambda)"),
  Options.withDefault("s3split-worker")
)
const workPrefix = Options.text("work-prefix").pipe(
  Options.withDescription("s3://bucket/prefix/ for the workers' outputs (needed with --backend lambda)"),
  Options.optional
)
const exec = Options.text("exec").pipe(Options.withDescription("the command each chunk is piped through (/bin/sh -c)"))
const header = Options.text("header").pipe(
  Options.withDescription("the first N lines are the object's header: every chunk's command reads them before its own lines (default 0)"),
  Options.mapEffect(validated(Header.parseLines)),
  Options.withDefault(0)
)
const mergeOption = Options.text("merge").pipe(
  Options.withDescription(
    "how the outputs become the result: concat (chunk order, the default), sum (add the numbers of same-shaped outputs), auto (from the last stage of --exec: sort -> sort -m, wc / grep -c -> sum, uniq [-c] -> boundary merge, head / tail -n K)"
  ),
  Options.mapEffect(validated(MergeMode.parseMergeOption)),
  Options.optional
)
const reduce = Options.text("reduce").pipe(
  Options.withDescription("after every chunk succeeded, run this command once (/bin/sh -c) with the outputs as its arguments (\"$@\", in chunk order); its stdout is the result"),
  Options.optional
)
const runOut = Options.text("out").pipe(
  Options.withDescription("write the merged output to one object (a path or s3://bucket/key) instead of stdout"),
  Options.optional
)

type Backend = "local" | "threads" | "lambda"

/**
 * Everything a job needs (see `Layers`): the routing store (files and S3), the reader, run
 * counters, the retry policy, and the executor of the chosen backend. The Lambda executor's
 * module (and the Lambda SDK) is loaded only for `--backend lambda`, the worker threads' (and
 * @effect/platform's Worker) only for `--backend threads`; the threads get at most one thread
 * per core, and no more than `concurrency` when it is given.
 */
export const jobLayer = (
  endpointOverride: Option.Option<string>,
  backendName: Backend,
  lambdaFunction: string,
  concurrency: Option.Option<number> = Option.none()
) =>
  Layer.unwrapEffect(Effect.map(S3Settings.settingsConfig, (settings) => {
    const resolved = { ...settings, endpoint: Option.orElse(endpointOverride, () => settings.endpoint) }
    const store = RoutingObjectStore.layer(resolved)
    const executor = backendName === "local"
      ? Executor.localLayer
      : backendName === "threads"
      ? Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./WorkerThreadExecutor.js")),
          (WorkerThreadExecutor) =>
            WorkerThreadExecutor.layer({
              settings: resolved,
              threads: Math.min(Os.availableParallelism(), Option.getOrElse(concurrency, () => Number.MAX_SAFE_INTEGER))
            })
        )
      )
      : Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./LambdaExecutor.js")),
          (LambdaExecutor) => LambdaExecutor.layer({ functionName: lambdaFunction, region: settings.region, endpoint: Option.none() })
        )
      )
    return Layers.jobLayer(Layers.workerLayer(store, RetryPolicy.layerConfig), executor)
  }))

/** Lambda workers read the source and write their outputs in S3: local paths cannot reach them. */
const requireS3 = (backendName: Backend, uri: ObjectUri.ObjectUri | undefined, what: string) =>
  backendName === "lambda" && uri !== undefined && uri._tag !== "S3Uri"
    ? Effect.fail(new UsageError({ reason: `with --backend lambda, ${what} must be an s3:// URI (the workers cannot reach local files)` }))
    : Effect.void

/**
 * The arguments `split` and `run` share, parsed: sources, plan, concurrency, lookahead.
 * `source` is set when SOURCE is one plain object (not a prefix, glob or gzip object): that
 * job takes the one-object path, exactly as before many-object sources, unless its HEAD says
 * `Content-Encoding: gzip` (under `--decompress auto`); otherwise `specs` are resolved to
 * objects (`SourceSet`).
 */
const parseJob = (args: {
  readonly source: ReadonlyArray<string>
  readonly chunks: Option.Option<number>
  readonly chunkSize: Option.Option<number>
  readonly concurrency: Option.Option<number>
  readonly lookahead: number
  readonly backend: Backend
  readonly decompress: SourceSet.Decompress
}) =>
  Effect.gen(function*() {
    const specs = yield* fromEither(SourceSet.parseSpecs(args.source))
    const spec = yield* planSpec(args.chunks, args.chunkSize)
    for (const one of specs) {
      yield* requireS3(args.backend, one._tag === "Single" ? one.uri : one._tag === "Prefix" ? one.prefix : one.listFrom, "SOURCE")
    }
    const only = specs.length === 1 && specs[0]!._tag === "Single" && !SourceSet.isCompressed(specs[0]!.uri, args.decompress)
      ? yield* fromEither(ObjectUri.parseObject(args.source[0]!))
      : undefined
    return { source: only, specs, spec, concurrency: Option.getOrUndefined(args.concurrency), lookahead: args.lookahead }
  })

/** True when a single object's HEAD says gzip and `--decompress auto` reads it gunzipped. */
const gzipEncoded = (version: ObjectVersion, decompress: SourceSet.Decompress) =>
  decompress === "auto" && SourceSet.isGzipEncoding(version.contentEncoding)

/**
 * The objects of a many-object job, in order, and their total size checked against the bound
 * on N. Under `--decompress auto` the objects a cut point falls into are HEADed for their
 * Content-Encoding (at most N - 1 HEADs), so that a gzip one is read whole.
 */
const resolveObjects = (specs: ReadonlyArray<SourceSet.SourceSpec>, spec: PlanSpec, decompress: SourceSet.Decompress) =>
  Effect.gen(function*() {
    const listed = yield* SourceSet.resolve(specs, { decompress })
    const size = listed.reduce((sum, object) => sum + object.size, 0)
    yield* checkChunkCount(size, spec)
    const objects = decompress === "auto" ? yield* SourceSet.detectCutEncodings(listed, spec) : listed
    return { objects, size }
  })

/**
 * Writes `text` pieces to our stdout with back-pressure; a reader that went away
 * (`| head`) ends the run as `StdoutClosedError`, which the process edge treats as EPIPE.
 */
const writeStdout = <E>(pieces: Stream.Stream<Uint8Array, E>) =>
  writeAll(pieces, process.stdout, { end: false, closed: () => new StdoutClosedError() })

/** Text for stdout, a batch of lines per piece (a table may have a million rows). */
const printLines = (lines: ReadonlyArray<string>) => {
  const encoder = new TextEncoder()
  return writeStdout(
    Stream.fromIterable(lines).pipe(
      Stream.grouped(1024),
      Stream.map((batch) => encoder.encode(Array.from(batch, (line) => line + "\n").join("")))
    )
  )
}

const splitCommand = Command.make(
  "split",
  { source, chunks, chunkSize, json, out, concurrency, lookahead, endpoint, backend, functionName, decompress },
  (args) =>
    Effect.gen(function*() {
      const job = yield* parseJob(args)
      const outUri = yield* optional(args.out, ObjectUri.parseDirectory)
      yield* requireS3(args.backend, outUri, "--out")
      const source = job.source
      // A single object stored with Content-Encoding: gzip is read as one gzip unit, as a `.gz` key is.
      const version = source === undefined ? undefined : yield* headSource(source)
      if (source === undefined || version === undefined || gzipEncoded(version, args.decompress)) {
        const { objects, size } = yield* resolveObjects(job.specs, job.spec, args.decompress)
        const many = yield* splitMulti({ ...job, sources: args.source, out: outUri, decompress: args.decompress }, objects).pipe(
          outUri === undefined ? (effect) => effect : withProgress(size, chunkCount(size, job.spec))
        )
        return yield* printLines(args.json ? Report.jsonLines(many.rows) : Report.table(many.rows, many.size))
      }
      yield* checkChunkCount(version.size, job.spec)
      const report = yield* split({ ...job, source, out: outUri }, version).pipe(
        outUri === undefined ? (effect) => effect : withProgress(version.size, chunkCount(version.size, job.spec))
      )
      yield* printLines(
        args.json ? Report.jsonLines(report.rows) : Report.table(report.rows, report.version.size)
      )
    }).pipe(Effect.provide(jobLayer(args.endpoint, args.backend, args.functionName, args.concurrency)))
).pipe(Command.withDescription("cut an object into line-aligned chunks read straight from the store"))

/** A work location private to this run: under --work-prefix, or a temporary local directory. */
const workLocation = (prefix: ObjectUri.ObjectUri | undefined) =>
  prefix !== undefined
    ? Effect.succeed(ObjectUri.child(prefix, `s3split-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}/`))
    : Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "s3split-" })).pipe(
      Effect.map((path) => new ObjectUri.FileUri({ path })),
      Effect.orDie
    )

/** Our stdout as the run's destination: each piece is handed to the kernel before the next is pulled. */
const stdoutDestination = {
  _tag: "Sink",
  write: <E>(pieces: Stream.Stream<Uint8Array, E>) =>
    writeAll(pieces, process.stdout, { end: false, closed: () => new StdoutClosedError(), settled: true }),
  releasesPieces: true
} as const

const runCommand = Command.make(
  "run",
  {
    source,
    chunks,
    chunkSize,
    exec,
    merge: mergeOption,
    reduce,
    header,
    out: runOut,
    backend,
    functionName,
    concurrency,
    workPrefix,
    lookahead,
    endpoint,
    json,
    decompress
  },
  (args) =>
    Effect.gen(function*() {
      // What only `run` needs (its program, the merges) is loaded when it runs, not at every start.
      const [{ run, runMulti }, { merge }, { concatenate }] = yield* Effect.promise(() =>
        Promise.all([import("./Run.js"), import("./Merge.js"), import("./ChunkOutputs.js")])
      )
      const job = yield* parseJob(args)
      const outUri = yield* optional(args.out, ObjectUri.parseObject)
      const prefix = yield* optional(args.workPrefix, ObjectUri.parseDirectory)
      if (args.backend === "lambda" && prefix?._tag !== "S3Uri") {
        return yield* new UsageError({ reason: "--backend lambda needs --work-prefix s3://bucket/prefix/ for the workers' outputs" })
      }
      const mode = yield* fromEither(MergeMode.chooseMerge({
        merge: Option.getOrUndefined(args.merge),
        reduce: Option.getOrUndefined(args.reduce),
        command: args.exec
      }))
      const destination = outUri === undefined ? stdoutDestination : { _tag: "Object" as const, uri: outUri }
      const source = job.source
      // A single object stored with Content-Encoding: gzip is read as one gzip unit, as a `.gz` key is.
      const version = source === undefined ? undefined : yield* headSource(source)
      if (source === undefined || version === undefined || gzipEncoded(version, args.decompress)) {
        if (args.header > 0) return yield* new UsageError({ reason: "--header needs SOURCE to be one object (each object of many has its own header)" })
        const { objects, size } = yield* resolveObjects(job.specs, job.spec, args.decompress)
        const workDir = yield* workLocation(prefix)
        const results = yield* runMulti(
          { ...job, command: args.exec, workDir, decompress: args.decompress },
          objects,
          destination,
          mode._tag === "Concat" ? concatenate : (outputs) => merge(mode, outputs)
        ).pipe(
          outUri === undefined && process.stdout.isTTY ? (effect) => effect : withProgress(size, chunkCount(size, job.spec))
        )
        if (args.json) yield* Effect.sync(() => process.stderr.write(Report.resultLines(results, MergeMode.describe(mode))))
        return
      }
      // One small read from byte 0; the chunks are planned over the bytes after the header.
      const headerBytes = yield* Header.read(source, version, args.header)
      const planned = version.size - headerBytes.length
      yield* checkChunkCount(planned, job.spec)
      const workDir = yield* workLocation(prefix)
      const results = yield* run(
        { ...job, source, command: args.exec, workDir, header: headerBytes },
        version,
        destination,
        mode._tag === "Concat" && headerBytes.length === 0
          ? concatenate
          : (outputs) => merge(mode, outputs, { header: headerBytes })
      ).pipe(
        // The progress line shares the terminal only when the output does not go to it.
        outUri === undefined && process.stdout.isTTY ? (effect) => effect : withProgress(planned, chunkCount(planned, job.spec))
      )
      if (args.json) yield* Effect.sync(() => process.stderr.write(Report.resultLines(results, MergeMode.describe(mode))))
    }).pipe(Effect.scoped, Effect.provide(jobLayer(args.endpoint, args.backend, args.functionName, args.concurrency)))
).pipe(Command.withDescription("pipe every chunk through a command on parallel workers; the outputs merged in chunk order, or as --merge / --reduce say"))

const deployCommand = Command.make(
  "deploy",
  {
    functionName,
    zip: Options.text("zip").pipe(Options.withDescription("the bundle from `npm run build:lambda`"), Options.withDefault("dist/lambda.zip")),
    role: Options.text("role").pipe(Options.withDescription("execution role ARN (to create the function)"), Options.optional),
    memory: Options.integer("memory").pipe(Options.withDescription("memory in MB for a new function"), Options.withDefault(1769)),
    timeout: Options.integer("timeout").pipe(Options.withDescription("timeout in seconds for a new function"), Options.withDefault(900))
  },
  (args) =>
    Effect.gen(function*() {
      const settings = yield* S3Settings.settingsConfig
      // The Lambda SDK is loaded only for this command.
      const { deploy } = yield* Effect.promise(() => import("./Deploy.js"))
      const outcome = yield* deploy({
        functionName: args.functionName,
        zipPath: args.zip,
        role: Option.getOrUndefined(args.role),
        memoryMb: args.memory,
        timeoutSeconds: args.timeout,
        region: settings.region,
        endpoint: Option.none()
      })
      yield* Console.log(`${outcome} Lambda function ${args.functionName}`)
    })
).pipe(Command.withDescription("create or update the worker Lambda function from dist/lambda.zip"))

export const command = Command.make("s3split").pipe(
  Command.withDescription("process a large newline-delimited object in parallel, straight from S3 or a file"),
  Command.withSubcommands([splitCommand, runCommand, deployCommand, benchCommand])
)

export const main = Command.run(command, { name: "s3split", version: "0.1.0" })
