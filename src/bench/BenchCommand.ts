/**
 * `s3split bench`: the command that runs the bench. It only turns flags into `BenchOptions`
 * (sizes and counts parsed as `split` parses them, the model's defaults from `S3Model`),
 * runs `Bench.run` with its progress on stderr, and prints the Markdown report on stdout.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { UsageError } from "../Errors.js"
import { parseCount, parseSize } from "../Size.js"
import type * as Bench from "./Bench.js"
import * as S3Model from "./S3Model.js"

/** What a run measures unless told otherwise, in full and in quick mode. */
export const FULL = { sizes: "64MiB,256MiB,1GiB", chunks: "1,2,4,8,16,32", repeat: 3 } as const
export const QUICK = { sizes: "1MiB,4MiB", chunks: "1,4", repeat: 1 } as const

const defaults = S3Model.lambdaDefaults

const sizes = Options.text("sizes").pipe(
  Options.withDescription(`object sizes, comma-separated (default ${FULL.sizes}; with --quick ${QUICK.sizes})`),
  Options.optional
)
const chunks = Options.text("chunks").pipe(
  Options.withDescription(`values of N, comma-separated (default ${FULL.chunks}; with --quick ${QUICK.chunks})`),
  Options.optional
)
const repeat = Options.integer("repeat").pipe(
  Options.withDescription(`runs of each strategy per size and N; the median is reported (default ${FULL.repeat}; with --quick ${QUICK.repeat})`),
  Options.optional
)
const quick = Options.boolean("quick").pipe(
  Options.withDescription("small sizes and one repetition: proves the harness end to end in well under a minute")
)
const out = Options.text("out").pipe(
  Options.withDescription("the directory for results.md, results.json and the SVG charts (default bench-results)"),
  Options.withDefault("bench-results")
)
const lookahead = Options.text("lookahead").pipe(
  Options.withDescription("s3split's lookahead and the other strategies' search window (default 64KiB)"),
  Options.withDefault("64KiB")
)
const latencyMs = Options.float("latency-ms").pipe(
  Options.withDescription(`model: milliseconds from a request to its first response byte (default ${defaults.latencyMs})`),
  Options.withDefault(defaults.latencyMs)
)
const connMbps = Options.float("conn-mbps").pipe(
  Options.withDescription(`model: bandwidth of one connection, in MB/s (10^6 bytes/s); 0 for none (default ${defaults.connMBps})`),
  Options.withDefault(defaults.connMBps)
)
const totalMbps = Options.float("total-mbps").pipe(
  Options.withDescription(`model: bandwidth of all connections together, in MB/s; 0 for none (default ${defaults.totalMBps})`),
  Options.withDefault(defaults.totalMBps)
)
const slowdownRate = Options.float("slowdown-rate").pipe(
  Options.withDescription(`model: fraction of requests answered 503 SlowDown at random, in [0, 1) (default ${defaults.slowdownRate})`),
  Options.withDefault(defaults.slowdownRate)
)
const getRate = Options.float("get-rate").pipe(
  Options.withDescription(`model: GET/HEAD requests per second per prefix before 503 SlowDown; 0 for none (default ${defaults.getRate})`),
  Options.withDefault(defaults.getRate)
)
const scale = Options.text("scale").pipe(
  Options.withDescription("slow the whole model down by this factor (>= 1), or auto: just enough for this machine (default auto)"),
  Options.withDefault("auto")
)
const seed = Options.integer("seed").pipe(
  Options.withDescription("seed of the synthetic objects and of the SlowDown decisions (default 1)"),
  Options.withDefault(1)
)

const fromEither = <A>(either: Either.Either<A, UsageError>) => Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })
const usage = (reason: string) => Effect.fail(new UsageError({ reason }))

const list = <A>(text: string, parse: (item: string) => Either.Either<A, UsageError>) =>
  Effect.forEach(text.split(",").filter((item) => item.trim() !== ""), (item) => fromEither(parse(item.trim())))

/** A bandwidth or rate where 0 means "no limit". */
const limit = (value: number, what: string) =>
  value < 0 || !Number.isFinite(value) ? usage(`${what} must be 0 (no limit) or positive; got ${value}`) : Effect.succeed(value === 0 ? Number.POSITIVE_INFINITY : value)

/** The bench's options from the flags; every malformed value is a `UsageError`. */
export const toOptions = (args: {
  readonly sizes: Option.Option<string>
  readonly chunks: Option.Option<string>
  readonly repeat: Option.Option<number>
  readonly quick: boolean
  readonly out: string
  readonly lookahead: string
  readonly latencyMs: number
  readonly connMbps: number
  readonly totalMbps: number
  readonly slowdownRate: number
  readonly getRate: number
  readonly scale: string
  readonly seed: number
}) =>
  Effect.gen(function*() {
    const preset = args.quick ? QUICK : FULL
    const sizeList = yield* list(Option.getOrElse(args.sizes, () => preset.sizes), (item) => parseSize(item, "--sizes"))
    const chunkList = yield* list(Option.getOrElse(args.chunks, () => preset.chunks), (item) => parseCount(item, "--chunks"))
    if (sizeList.length === 0) return yield* usage("--sizes needs at least one size")
    if (chunkList.length === 0) return yield* usage("--chunks needs at least one N")
    const repetitions = Option.getOrElse(args.repeat, () => preset.repeat)
    if (repetitions < 1) return yield* usage(`--repeat must be at least 1; got ${repetitions}`)
    if (!(args.latencyMs >= 0)) return yield* usage(`--latency-ms must be 0 or more; got ${args.latencyMs}`)
    if (!(args.slowdownRate >= 0 && args.slowdownRate < 1)) return yield* usage(`--slowdown-rate must be in [0, 1); got ${args.slowdownRate}`)
    const factor = args.scale.trim().toLowerCase() === "auto" ? "auto" as const : Number(args.scale)
    if (factor !== "auto" && !(factor >= 1)) return yield* usage(`--scale must be auto or a number of at least 1; got "${args.scale}"`)
    return {
      sizes: sizeList,
      chunks: chunkList,
      repeat: repetitions,
      lookahead: yield* fromEither(parseSize(args.lookahead, "--lookahead")),
      model: {
        latencyMs: args.latencyMs,
        connMBps: yield* limit(args.connMbps, "--conn-mbps"),
        totalMBps: yield* limit(args.totalMbps, "--total-mbps"),
        slowdownRate: args.slowdownRate,
        getRate: yield* limit(args.getRate, "--get-rate"),
        seed: args.seed
      },
      scale: factor,
      out: args.out,
      mode: args.quick ? "quick" : "full",
      seed: args.seed
    } satisfies Bench.BenchOptions
  })

export const benchCommand = Command.make(
  "bench",
  { sizes, chunks, repeat, quick, out, lookahead, latencyMs, connMbps, totalMbps, slowdownRate, getRate, scale, seed },
  (args) =>
    Effect.gen(function*() {
      const options = yield* toOptions(args)
      // The bench (and the AWS SDK its local S3 server needs) is loaded only for this command.
      const Bench = yield* Effect.promise(() => import("./Bench.js"))
      const result = yield* Bench.run(options, (line) => Console.error(line))
      yield* Console.log(result.markdown.trimEnd())
      yield* Console.error(`bench: wrote ${result.files.join(", ")}`)
    })
).pipe(
  Command.withDescription(
    "run every split strategy side by side against a local S3-compatible server behind a model of S3, and report"
  )
)
