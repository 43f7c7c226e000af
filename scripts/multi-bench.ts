/**
 * The many-object measurement of issue 11, on a local S3 server (s3rver) behind a recording
 * proxy: a prefix of SMALL small objects (a fifth gzip) plus LARGE large ones. Reports the
 * planning time (LIST + plan, in this process), the requests per object of a
 * `run --exec 'wc -l'`, the chunk balance (largest / mean planned bytes), and the wall time of
 * that run against `aws s3 cp --recursive` followed by `zcat -f | wc -l` (when the AWS CLI is
 * installed). Run with `node --openssl-legacy-provider --import tsx scripts/multi-bench.ts`:
 * s3rver makes its ListObjectsV2 continuation tokens with DES, which OpenSSL 3 disables, so
 * without the flag any listing of more than 1,000 keys fails with 500 InternalError.
 *
 * Environment: SMALL (default 10000), LARGE (3), LARGE_MIB (32), CHUNKS (16).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Zlib from "node:zlib"
import * as Layers from "../src/Layers.js"
import { piecesBytes, planObjects } from "../src/MultiPlan.js"
import { RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { parseSpecs, resolve } from "../src/SourceSet.js"
import * as FaultyProxy from "../test/utils/FaultyProxy.js"
import * as S3Server from "../test/utils/S3Server.js"

const SMALL = Number(process.env["SMALL"] ?? 10_000)
const LARGE = Number(process.env["LARGE"] ?? 3)
const LARGE_MIB = Number(process.env["LARGE_MIB"] ?? 32)
const CHUNKS = Number(process.env["CHUNKS"] ?? 16)
const BUCKET = "multi-bench"
const ROOT = path.resolve(import.meta.dirname, "..")

S3Server.useTestCredentials()
const line = (i: number, k: number) => `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T00:00:${k % 60} host-${i % 97} GET /item/${k} 200 ${k * 7}\n`

/**
 * Runs a command to its end without blocking this process (which hosts the server and the
 * proxy): its status, stdout and stderr.
 */
const exec = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (data: Buffer) => out.push(data))
    child.stderr.on("data", (data: Buffer) => err.push(data))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }))
  })

const main = async () => {
  const server = await S3Server.start()
  const client = S3Server.rawClient(server.endpoint)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-multi-bench-"))
  try {
    await S3Server.createBucket(client, BUCKET)
    let lines = 0
    let t = Date.now()
    const keys: Array<{ key: string; body: Buffer }> = []
    for (let i = 0; i < SMALL; i++) {
      const n = 5 + (i % 40)
      lines += n
      const text = Buffer.from(Array.from({ length: n }, (_, k) => line(i, k)).join(""))
      const gz = i % 5 === 0
      keys.push({ key: `logs/small-${String(i).padStart(6, "0")}.log${gz ? ".gz" : ""}`, body: gz ? Zlib.gzipSync(text) : text })
    }
    for (let i = 0; i < keys.length; i += 64) {
      await Promise.all(keys.slice(i, i + 64).map(({ body, key }) => S3Server.putObject(client, BUCKET, key, body)))
    }
    const block = Buffer.from(Array.from({ length: 20_000 }, (_, k) => line(k, k)).join(""))
    for (let j = 0; j < LARGE; j++) {
      const copies = Math.ceil((LARGE_MIB * 1024 * 1024) / block.length)
      lines += copies * 20_000
      await S3Server.putObject(client, BUCKET, `logs/zlarge-${j}.log`, Buffer.concat(Array.from({ length: copies }, () => block)))
    }
    console.log(`seeded ${SMALL} small + ${LARGE} x ~${LARGE_MIB} MiB objects (${lines} lines) in ${Date.now() - t} ms`)

    const proxy = await FaultyProxy.start(server.endpoint, () => "pass")
    const source = `s3://${BUCKET}/logs/`
    // Planning in this process: the listing (through the proxy) and the plan.
    t = Date.now()
    const objects = await Effect.runPromise(
      resolve(Either.getOrThrow(parseSpecs([source]))).pipe(
        Effect.provide(Layers.workerLayer(
          S3ObjectStore.layer({ endpoint: Option.some(proxy.endpoint), region: S3Server.REGION }),
          RetryPolicy.layerConfig
        ))
      )
    )
    const listed = Date.now() - t
    t = Date.now()
    const multi = planObjects(objects, { _tag: "Chunks", chunks: CHUNKS })
    const planned = Date.now() - t
    const widths = multi.pieces.map(piecesBytes)
    const mean = widths.reduce((a, b) => a + b, 0) / widths.length
    const lists = proxy.requests().filter((r) => r.url.includes("list-type=2")).length
    console.log(`planning: ${objects.length} objects, ${multi.size} bytes; LIST ${listed} ms (${lists} requests), plan ${planned} ms`)
    console.log(`balance (planned bytes per chunk, N=${CHUNKS}): largest/mean ${(Math.max(...widths) / mean).toFixed(3)}`)
    const before = proxy.requests().length

    t = Date.now()
    const run = await exec(process.execPath, [
      "--import",
      "tsx",
      path.join(ROOT, "src/main.ts"),
      "run",
      source,
      "--chunks",
      String(CHUNKS),
      "--exec",
      "wc -l",
      "--endpoint",
      proxy.endpoint,
      "--json"
    ], { ...process.env, ...S3Server.credentialsEnv })
    const runMs = Date.now() - t
    const counted = run.stdout.split("\n").filter((l) => l.trim() !== "").reduce((sum, l) => sum + Number(l.trim()), 0)
    const requests = proxy.requests().slice(before)
    const by = (m: string) => requests.filter((r) => r.method === m).length
    const results = run.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { bytesIn: number })
    const inMean = results.reduce((a, r) => a + r.bytesIn, 0) / Math.max(1, results.length)
    console.log(`s3split run --exec 'wc -l' (N=${CHUNKS}): exit ${run.status}, ${counted} lines (expected ${lines}), ${runMs} ms`)
    console.log(`  requests: ${requests.length} (GET ${by("GET")}, HEAD ${by("HEAD")}, PUT ${by("PUT")}), ${(requests.length / objects.length).toFixed(3)} per object`)
    console.log(`  balance (bytes read per chunk, decompressed): largest/mean ${(Math.max(...results.map((r) => r.bytesIn)) / inMean).toFixed(3)}`)
    if (run.status !== 0) console.log(run.stderr.slice(-2000))
    // The same run straight to the server, as the AWS CLI below goes (no recording proxy).
    t = Date.now()
    const direct = await exec(process.execPath, [
      "--import",
      "tsx",
      path.join(ROOT, "src/main.ts"),
      "run",
      source,
      "--chunks",
      String(CHUNKS),
      "--exec",
      "wc -l",
      "--endpoint",
      server.endpoint
    ], { ...process.env, ...S3Server.credentialsEnv })
    const directLines = direct.stdout.split("\n").filter((l) => l.trim() !== "").reduce((sum, l) => sum + Number(l.trim()), 0)
    console.log(`s3split run --exec 'wc -l' (N=${CHUNKS}) without the proxy: exit ${direct.status}, ${directLines} lines, ${Date.now() - t} ms`)

    const aws = await exec("aws", ["--version"])
    if (aws.status === 0) {
      const dir = path.join(work, "copy")
      const env = {
        ...process.env,
        ...S3Server.credentialsEnv,
        AWS_REQUEST_CHECKSUM_CALCULATION: "when_required",
        AWS_RESPONSE_CHECKSUM_VALIDATION: "when_required"
      }
      t = Date.now()
      const copy = await exec("aws", ["--endpoint-url", server.endpoint, "s3", "cp", "--recursive", "--quiet", source, dir], env)
      if (copy.status !== 0) console.log(`aws s3 cp failed: ${copy.stderr.slice(-500)}`)
      const copied = Date.now() - t
      const wc = (await exec("bash", ["-c", `cd '${dir}' && find . -type f | LC_ALL=C sort | xargs zcat -f | wc -l`])).stdout
      const total = Date.now() - t
      console.log(`aws s3 cp --recursive: ${copied} ms; then zcat -f | wc -l: ${total - copied} ms; total ${total} ms, ${wc.trim()} lines`)
    }
    await proxy.close()
  } finally {
    client.destroy()
    await server.close()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
