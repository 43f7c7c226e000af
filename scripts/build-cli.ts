/**
 * `npm run build`: bundles the CLI with esbuild into `dist/cli.mjs` (the package's `s3split`
 * bin) and the worker-thread entry into `dist/worker-thread.mjs` beside it, each one ES module
 * with its dependencies included, so an installed package starts without tsx.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const outDir = path.join(root, "dist")

await esbuild.build({
  entryPoints: { cli: path.join(root, "src", "main.ts"), "worker-thread": path.join(root, "src", "worker-thread.ts") },
  outdir: outDir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  // A shebang for the bin, and a require() for bundled CommonJS dependencies that call it.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})

const cli = path.join(outDir, "cli.mjs")
fs.chmodSync(cli, 0o755)
for (const name of ["cli.mjs", "worker-thread.mjs"]) {
  console.log(`dist/${name}: ${fs.statSync(path.join(outDir, name)).size} bytes`)
}
