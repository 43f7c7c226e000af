/**
 * `s3split bench`: the command that runs the bench, one suite at a time. `--suite strategies`
 * (the default) runs the split strategies against the S3 model (`Bench.ts`); `--suite tools`
 * runs s3split beside the Unix tools (`Tools.ts`); `--suite memory` the peak RSS of every mode
 * (`Memory.ts`). It only turns flags into each suite's options (sizes and counts parsed as
 * `split` parses them, the model's defaults from `S3Model`), runs the suite with its progress on
 * stderr, and prints the Markdown report on stdout.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as path from "node:path"
import { UsageError } from "../Errors.js"
import { parseCount, parseSize } from "../Size.js"
import type * as Bench from "./Bench.js"
import { packageRoot } from "./CliBundle.js"
import type * as Memory from "./Memory.js"
import * as S3Model from "./S3Model.js"
import type * as Tools from "./Tools.js"

/** What a run measures unless told otherwise, in full and in quick mode. */
export const FULL = { sizes: "64MiB,256MiB,1GiB", chunks: "1,2,4,8,16,32", repeat: 3 } as const
export const QUICK = { sizes: "1MiB,4MiB", chunks: "1,4", repeat: 1 } as const
/** The same for the tools and memory suites (one file, one N). */
export const FILE_FULL = { size: "1GiB", chunks: 16, repeat: 3 } as const
export const FILE_QUICK = { size: "4MiB", chunks: 16, repeat: 1 } as const

export const SUITES = ["strategies", "tools", "memory"] as const
export type Suite = typeof SUITES[number]

const TOOL_JOBS = ["split", "gzip", "cat", "s3"] as const
const MEMORY_MODES = ["split-dir", "split-s3", "run-local", "run-threads", "run-s3", "run-out-s3"] as const

const suite = Options.choice("suite", SUITES).pipe(
  Options.withDescription(
    "strategies: the split strategies against a model of S3 (default); tools: s3split beside GNU split, GNU parallel and the AWS CLI; memory: peak RSS of every mode"
  ),
  Options.withDefault("strategies" as const)
)
const file = Options.text("file").pipe(
  Options.withDescription("tools, memory: the newline-delimited file to measure on (default: a synthetic one of --size)"),
  Options.optional
)
const size = Options.text("size").pipe(
  Options.withDescription(`tools, memory: the synthetic file's size without --file (default ${FILE_FULL.size}; with --quick ${FILE_QUICK.size})`),
  Options.optional
)
const jobs = Options.integer("jobs").pipe(
  Options.withDescription("tools: concurrency of run --exec 'gzip -1 | wc -c' and of parallel -j (default 2)"),
  Options.withDefault(2)
)
const cli = Options.text("cli").pipe(
  Options.withDescription("tools, memory: an s3split bundle to measure, [LABEL=]PATH[#BACKEND,...], repeatable (default s3split=dist/cli.mjs, built if missing)"),
  Options.repeated
)
const backends = Options.text("backends").pipe(
  Options.withDescription("tools: s3split's --backend values to measure, comma-separated (default local)"),
  Options.withDefault("local")
)
const only = Options.text("only").pipe(
  Options.withDescription(`tools: jobs among ${TOOL_JOBS.join(",")}; memory: modes among ${MEMORY_MODES.join(",")} (default all)`),
  Options.optional
)
const cpus = Options.text("cpus").pipe(
  Options.withDescription("tools: run every command, the tools' included, under taskset -c CPUS"),
  Options.optional
)

const defaults = S3Model.lambdaDefaults

const sizes = Options.text("sizes").pipe(
  Options.withDescription(`strategies: object sizes, comma-separated (default ${FULL.sizes}; with --quick ${QUICK.sizes})`),
  Options.optional
)
const chunks = Options.text("chunks").pipe(
  Options.withDescription(
    `strategies: values of N, comma-separated (default ${FULL.chunks}; with --quick ${QUICK.chunks}); tools, memory: one N (default ${FILE_FULL.chunks})`
  ),
  Options.optional
)
const repeat = Options.integer("repeat").pipe(
  Options.withDescription(
    `runs of each strategy per size and N, or of each command (tools, memory); the median is reported (default ${FULL.repeat}; with --quick ${QUICK.repeat})`
  ),
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

/**
 * `[LABEL=]PATH[#BACKEND,...]` bundles (an older bundle without `--backend` runs with `#local`);
 * this package's `dist/cli.mjs` as `s3split` when none is given.
 */
const parseClis = (specs: ReadonlyArray<string>): ReadonlyArray<Tools.Cli> =>
  specs.length === 0
    ? [{ label: "s3split", path: path.join(packageRoot(), "dist", "cli.mjs") }]
    : specs.map((spec) => {
      const [head, tail] = spec.split("#") as [string, string | undefined]
      const at = head.indexOf("=")
      return {
        label: at < 0 ? "s3split" : head.slice(0, at),
        path: path.resolve(at < 0 ? head : head.slice(at + 1)),
        backends: tail === undefined ? undefined : tail.split(",").map((name) => name.trim()).filter((name) => name !== "")
      }
    })

/** A comma-separated subset of `allowed` (all of it when absent). */
const subset = <A extends string>(text: Option.Option<string>, allowed: ReadonlyArray<A>, what: string) =>
  Effect.gen(function*() {
    if (Option.isNone(text)) return allowed
    const items = text.value.split(",").map((item) => item.trim()).filter((item) => item !== "")
    const known = items.filter((item): item is A => (allowed as ReadonlyArray<string>).includes(item))
    const unknown = items.find((item) => !(allowed as ReadonlyArray<string>).includes(item))
    if (unknown !== undefined) return yield* usage(`${what}: unknown "${unknown}"; choose among ${allowed.join(",")}`)
    if (known.length === 0) return yield* usage(`${what} needs at least one of ${allowed.join(",")}`)
    return known as ReadonlyArray<A>
  })

/** The options the tools and memory suites share: the file (or its size), N, runs. */
const fileOptions = (args: {
  readonly file: Option.Option<string>
  readonly size: Option.Option<string>
  readonly chunks: Option.Option<string>
  readonly repeat: Option.Option<number>
  readonly quick: boolean
  readonly out: string
  readonly seed: number
}) =>
  Effect.gen(function*() {
    const preset = args.quick ? FILE_QUICK : FILE_FULL
    const bytes = yield* fromEither(parseSize(Option.getOrElse(args.size, () => preset.size), "--size"))
    const n = yield* Option.match(args.chunks, {
      onNone: () => Effect.succeed(preset.chunks),
      onSome: (text) => fromEither(parseCount(text, "--chunks (one N for this suite)"))
    })
    const repetitions = Option.getOrElse(args.repeat, () => preset.repeat)
    if (repetitions < 1) return yield* usage(`--repeat must be at least 1; got ${repetitions}`)
    return {
      file: Option.getOrUndefined(args.file),
      size: bytes,
      seed: args.seed,
      chunks: n,
      repeat: repetitions,
      out: args.out,
      mode: args.quick ? "quick" : "full"
    }
  })

/** The tools suite's options from the flags. */
export const toToolsOptions = (args: Parameters<typeof fileOptions>[0] & {
  readonly jobs: number
  readonly cli: ReadonlyArray<string>
  readonly backends: string
  readonly only: Option.Option<string>
  readonly cpus: Option.Option<string>
}) =>
  Effect.gen(function*() {
    const common = yield* fileOptions(args)
    if (args.jobs < 1) return yield* usage(`--jobs must be at least 1; got ${args.jobs}`)
    const backendList = yield* subset(Option.some(args.backends), ["local", "threads"] as const, "--backends")
    return {
      ...common,
      jobs: args.jobs,
      clis: parseClis(args.cli),
      backends: backendList,
      only: yield* subset(args.only, TOOL_JOBS, "--only"),
      cpus: Option.getOrUndefined(args.cpus)
    } satisfies Tools.ToolsOptions
  })

/** The memory suite's options from the flags (it measures the first `--cli`). */
export const toMemoryOptions = (args: Parameters<typeof fileOptions>[0] & {
  readonly cli: ReadonlyArray<string>
  readonly only: Option.Option<string>
}) =>
  Effect.gen(function*() {
    const common = yield* fileOptions(args)
    return { ...common, cli: parseClis(args.cli)[0]!.path, only: yield* subset(args.only, MEMORY_MODES, "--only") } satisfies Memory.MemoryOptions
  })

export const benchCommand = Command.make(
  "bench",
  {
    suite,
    sizes,
    chunks,
    repeat,
    quick,
    out,
    lookahead,
    latencyMs,
    connMbps,
    totalMbps,
    slowdownRate,
    getRate,
    scale,
    seed,
    file,
    size,
    jobs,
    cli,
    backends,
    only,
    cpus
  },
  (args) =>
    Effect.gen(function*() {
      const log = (line: string) => Console.error(line)
      // Each suite (and the AWS SDK its local S3 server needs) is loaded only for this command.
      const result = args.suite === "tools"
        ? yield* Effect.flatMap(toToolsOptions(args), (options) =>
          Effect.flatMap(Effect.promise(() => import("./Tools.js")), (Tools) => Tools.run(options, log)))
        : args.suite === "memory"
        ? yield* Effect.flatMap(toMemoryOptions(args), (options) =>
          Effect.flatMap(Effect.promise(() => import("./Memory.js")), (Memory) => Memory.run(options, log)))
        : yield* Effect.flatMap(toOptions(args), (options) =>
          Effect.flatMap(Effect.promise(() => import("./Bench.js")), (Bench) => Bench.run(options, log)))
      yield* Console.log(result.markdown.trimEnd())
      yield* Console.error(`bench: wrote ${result.files.join(", ")}`)
    })
).pipe(
  Command.withDescription(
    "measure s3split: its split strategies against a model of S3 (--suite strategies), beside the Unix tools (--suite tools), or its peak RSS in every mode (--suite memory), and report"
  )
)
