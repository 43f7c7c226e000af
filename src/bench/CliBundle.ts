/**
 * The CLI bundle, as an installed user runs it: `dist/cli.mjs` (the package's `s3split` bin)
 * with `dist/worker-thread.mjs` beside it, built by esbuild. `npm run build` and the bench
 * build it with the same function; the bench builds it only when it is missing.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { BenchError } from "./BenchError.js"

/**
 * The package's root: the nearest directory above this module with s3split's package.json
 * (from source, two levels up; from a bundle in `dist/`, one).
 */
export const packageRoot = (): string => {
  let directory = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = path.join(directory, "package.json")
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name === "s3split") return directory
    const parent = path.dirname(directory)
    if (parent === directory) return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
    directory = parent
  }
}

/**
 * Bundles the CLI into `outDir` (`cli.mjs`, executable, and `worker-thread.mjs`), ES modules
 * with their dependencies included. Code splitting keeps each dynamic `import()` a chunk of its
 * own (`chunk-*.mjs`, those of an earlier build removed first): the AWS SDK is evaluated only
 * when an `s3://` URI, the Lambda backend, `deploy` or `bench` needs it. Returns the files
 * written. Rejects when esbuild (a development dependency) is missing or the build fails.
 */
export const build = async (root: string, outDir: string): Promise<ReadonlyArray<string>> => {
  // The bench's own bundle is never bundled into itself: esbuild is loaded only here.
  const esbuild = await import("esbuild")
  if (fs.existsSync(outDir)) {
    for (const name of fs.readdirSync(outDir)) if (name.startsWith("chunk-") && name.endsWith(".mjs")) fs.rmSync(path.join(outDir, name))
  }
  await esbuild.build({
    entryPoints: { cli: path.join(root, "src", "main.ts"), "worker-thread": path.join(root, "src", "worker-thread.ts") },
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    splitting: true,
    chunkNames: "chunk-[hash]",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    external: ["esbuild"],
    // A shebang for the bin, and a require() for bundled CommonJS dependencies that call it.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
    },
    logLevel: "warning"
  })
  fs.chmodSync(path.join(outDir, "cli.mjs"), 0o755)
  return fs.readdirSync(outDir).filter((name) => name.endsWith(".mjs")).sort().map((name) => path.join(outDir, name))
}

/** The latest modification time (ms) of a file under `directory`, 0 when there is none. */
const newestSource = (directory: string): number =>
  fs.existsSync(directory)
    ? fs.readdirSync(directory, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .reduce((newest, entry) => Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs), 0)
    : 0

/**
 * The bundle at `cli` (a `cli.mjs`), built into its directory first when it is missing and
 * it is this package's own `dist/cli.mjs` (and a warning logged when that one is older than a
 * source file). Fails with one line saying what to do otherwise.
 */
export const ensure = (cli: string, log: (line: string) => Effect.Effect<void>): Effect.Effect<string, BenchError> =>
  Effect.gen(function*() {
    const root = packageRoot()
    if (fs.existsSync(cli)) {
      // This package's own bundle, older than a source file: measured as it is, but said.
      if (path.resolve(cli) === path.join(root, "dist", "cli.mjs") && newestSource(path.join(root, "src")) > fs.statSync(cli).mtimeMs) {
        yield* log(`bench: ${cli} is older than src/: run npm run build to measure the current code`)
      }
      return cli
    }
    if (path.resolve(cli) !== path.join(root, "dist", "cli.mjs")) {
      return yield* new BenchError({ reason: `${cli} does not exist` })
    }
    yield* log(`bench: ${cli} is missing; building it (npm run build)`)
    yield* Effect.tryPromise({
      try: () => build(root, path.dirname(cli)),
      catch: (error) => new BenchError({ reason: `cannot build ${cli} (${String(error).split("\n")[0]}): run npm run build` })
    })
    return cli
  })
