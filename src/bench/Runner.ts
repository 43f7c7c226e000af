/**
 * Runs one measurement in a child process (`runStrategy.ts`). The entry point is bundled once
 * per bench with esbuild, so a child starts in about 0.3 s at about 65 MB RSS instead of 1.5 s
 * and 150 MB under tsx; without esbuild (a development dependency) it falls back to tsx.
 */
import * as Command from "@effect/platform/Command"
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Scope } from "effect/Scope"
import * as Stream from "effect/Stream"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { BenchError } from "./BenchError.js"
import { credentialsEnv } from "./LocalS3.js"
import { MeasureRequest, Measurement } from "./Measurement.js"

export interface Runner {
  /** Runs one measurement in a child process. */
  readonly measure: (request: MeasureRequest) => Effect.Effect<Measurement, BenchError, CommandExecutor>
  /** How the children run, for the record. */
  readonly mode: "bundle" | "tsx"
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const ENTRY = path.join(ROOT, "src", "bench", "runStrategy.ts")
/** How much of a failed child's output goes into the error: its first lines say why. */
const HEAD = 600

const text = <E>(stream: Stream.Stream<Uint8Array, E>) => Stream.mkString(Stream.decodeText(stream))

/** Bundles `runStrategy.ts` into `directory`; fails when esbuild is not installed. */
const bundle = (directory: string) =>
  Effect.tryPromise({
    try: async () => {
      const esbuild = await import("esbuild")
      const outfile = path.join(directory, "runStrategy.mjs")
      await esbuild.build({
        entryPoints: [ENTRY],
        outfile,
        bundle: true,
        platform: "node",
        target: "node20",
        format: "esm",
        // Some bundled CommonJS dependencies call require(); give the ES module one.
        banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
        external: ["esbuild"],
        logLevel: "silent"
      })
      return outfile
    },
    catch: (error) => new BenchError({ reason: `cannot bundle the measurement runner: ${String(error)}` })
  })

/** The runner for the enclosing scope (its bundle lives in a temporary directory removed with it). */
export const scoped: Effect.Effect<Runner, BenchError, FileSystem.FileSystem | Scope> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const directory = yield* fs.makeTempDirectoryScoped({ prefix: "s3split-bench-" }).pipe(
    Effect.mapError((error) => new BenchError({ reason: `temporary directory: ${error.message}` }))
  )
  const bundled = yield* Effect.option(bundle(directory))
  const args = bundled._tag === "Some" ? [bundled.value] : ["--import", "tsx", ENTRY]

  const measure = (request: MeasureRequest) =>
    Effect.scoped(Effect.gen(function*() {
      const json = JSON.stringify(Schema.encodeSync(MeasureRequest)(request))
      const child = yield* Command.start(
        Command.make(process.execPath, ...args, json).pipe(
          Command.workingDirectory(ROOT),
          Command.env(credentialsEnv)
        )
      )
      const [stdout, stderr, code] = yield* Effect.all([text(child.stdout), text(child.stderr), child.exitCode], {
        concurrency: "unbounded"
      })
      const what = `${request.strategy} with N = ${request.chunks} on ${request.key}`
      if (code !== 0) {
        return yield* new BenchError({ reason: `${what} failed (exit ${code}): ${stderr.trim().slice(0, HEAD)}` })
      }
      const last = stdout.trim().split("\n").pop() ?? ""
      return yield* Schema.decodeUnknown(Schema.parseJson(Measurement))(last).pipe(
        Effect.mapError(() => new BenchError({ reason: `${what} printed no measurement: ${stdout.trim().slice(0, HEAD)}` }))
      )
    })).pipe(
      Effect.catchTags({
        SystemError: (error) => Effect.fail(new BenchError({ reason: `cannot run a measurement: ${error.message}` })),
        BadArgument: (error) => Effect.fail(new BenchError({ reason: `cannot run a measurement: ${error.message}` }))
      })
    )

  return { measure, mode: bundled._tag === "Some" ? "bundle" : "tsx" } satisfies Runner
})
