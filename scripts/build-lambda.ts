/**
 * `npm run build:lambda`: bundles the Lambda handler with esbuild into one ES module for the
 * Node.js 22 runtime (dependencies included: no node_modules needed beside it) and zips it as
 * `dist/lambda.zip` holding `index.mjs` (handler setting `index.handler`).
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import yazl from "yazl"

const root = path.resolve(import.meta.dirname, "..")
const outDir = path.join(root, "dist", "lambda")
const bundle = path.join(outDir, "index.mjs")
const zipFile = path.join(root, "dist", "lambda.zip")

await esbuild.build({
  entryPoints: [path.join(root, "lambda", "handler.ts")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  // Some bundled CommonJS dependencies call require(); give the ES module one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning"
})

const zip = new yazl.ZipFile()
zip.addFile(bundle, "index.mjs", { mtime: new Date(0), mode: 0o100644 })
zip.end()
await new Promise<void>((resolve, reject) => {
  const temporary = `${zipFile}.tmp`
  zip.outputStream.pipe(fs.createWriteStream(temporary)).on("close", () => {
    fs.renameSync(temporary, zipFile)
    resolve()
  }).on("error", reject)
})
console.log(`${path.relative(root, zipFile)}: ${fs.statSync(zipFile).size} bytes (index.mjs ${fs.statSync(bundle).size} bytes)`)
