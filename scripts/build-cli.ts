/**
 * `npm run build`: bundles the CLI with esbuild into `dist/cli.mjs` (the package's `s3split`
 * bin) and the worker-thread entry into `dist/worker-thread.mjs` beside it; see
 * `src/bench/CliBundle.ts`, whose `build` the bench uses too.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { build } from "../src/bench/CliBundle.js"

const root = path.resolve(import.meta.dirname, "..")
for (const file of await build(root, path.join(root, "dist"))) {
  console.log(`${path.relative(root, file)}: ${fs.statSync(file).size} bytes`)
}
