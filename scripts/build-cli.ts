/**
 * `npm run build`: bundles the CLI with esbuild into `dist/cli.mjs` (the package's `s3split`
 * bin) and the worker-thread entry into `dist/worker-thread.mjs` beside it, ES modules with
 * their dependencies included, so an installed package starts without tsx. Code splitting keeps
 * each dynamic `import()` a chunk of its own (`dist/chunk-*.mjs`): the AWS SDK is evaluated only
 * when an `s3://` URI, the Lambda backend, `deploy` or `bench` needs it.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const outDir = path.join(root, "dist")

// Chunks of an earlier build would linger beside the new ones (their names are content hashes).
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
  // A shebang for the bin, and a require() for bundled CommonJS dependencies that call it.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})

const cli = path.join(outDir, "cli.mjs")
fs.chmodSync(cli, 0o755)
for (const name of fs.readdirSync(outDir).filter((name) => name.endsWith(".mjs")).sort()) {
  console.log(`dist/${name}: ${fs.statSync(path.join(outDir, name)).size} bytes`)
}
