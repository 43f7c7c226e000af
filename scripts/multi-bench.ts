/**
 * The many-object measurement of issue 11, on a local S3 server (s3rver): a prefix of SMALL
 * small objects (a fifth gzip) plus LARGE large ones. Reports the planning time (LIST + plan,
 * in this process), then, ROUNDS times and alternating, `run --exec 'wc -l' --merge auto` of
 * each s3split variant beside `aws s3 cp --recursive` and `aws s3 sync` (each followed by
 * `zcat -f | wc -l`, when the AWS CLI is installed): wall time, CPU seconds of the client
 * (its process tree, by `/usr/bin/time`) and of the server, requests per object and new
 * connections (counted by the server), the load average, and for s3split the chunk balance.
 *
 * s3rver runs in a child process of its own (`serve` below), so that neither this driver nor
 * the measured clients share its event loop; every client goes through the same server.
 * Run with `node --openssl-legacy-provider --import tsx scripts/multi-bench.ts`: s3rver makes
 * its ListObjectsV2 continuation tokens with DES, which OpenSSL 3 disables, so without the
 * flag any listing of more than 1,000 keys fails with 500 InternalError (the server process is
 * given the flag; this process lists too).
 *
 * Environment: SMALL (default 10000), LARGE (3), LARGE_MIB (32), CHUNKS (16), ROUNDS (1),
 * VARIANTS (`name=ROOT,...`, default `s3split=.`: each ROOT is a source tree, bundled as
 * `npm run build` bundles it and run as an installed user runs it; compare commits by
 * extracting one elsewhere, with node_modules beside its src), AWS (0 skips the AWS CLI),
 * PROFILE (a directory: the s3split runs are the sources under tsx instead, unminified, and
 * write `--cpu-prof` profiles there).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { fork, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Zlib from "node:zlib"
import { build } from "../src/bench/CliBundle.js"
import * as Layers from "../src/Layers.js"
import { piecesBytes, planObjects } from "../src/MultiPlan.js"
import { RetryPolicy } from "../src/Retry.js"
import * as S3ObjectStore from "../src/S3ObjectStore.js"
import { parseSpecs, resolve } from "../src/SourceSet.js"
import * as S3Server from "../test/utils/S3Server.js"

const SMALL = Number(process.env["SMALL"] ?? 10_000)
const LARGE = Number(process.env["LARGE"] ?? 3)
const LARGE_MIB = Number(process.env["LARGE_MIB"] ?? 32)
const CHUNKS = Number(process.env["CHUNKS"] ?? 16)
const ROUNDS = Number(process.env["ROUNDS"] ?? 1)
const PROFILE = process.env["PROFILE"]
const BUCKET = "multi-bench"
const ROOT = path.resolve(import.meta.dirname, "..")
const VARIANTS = (process.env["VARIANTS"] ?? "s3split=.").split(",").map((spec) => {
  const [name, root] = spec.split("=")
  return { name: name!, root: path.resolve(ROOT, root!) }
})

S3Server.useTestCredentials()
const line = (i: number, k: number) => `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T00:00:${k % 60} host-${i % 97} GET /item/${k} 200 ${k * 7}\n`

/** What the server process counts: its CPU time, its requests by kind, its accepted connections. */
interface ServerStats {
  readonly cpuMs: number
  readonly requests: Record<string, number>
  readonly connections: number
}

/** The server process: s3rver, counting, answering `stats` over IPC until told to stop. */
const serve = async () => {
  const server = await S3Server.start()
  const requests: Record<string, number> = {}
  let connections = 0
  server.httpServer?.on("connection", () => connections++)
  server.httpServer?.on("request", (req: { method?: string; url?: string }) => {
    const kind = req.url?.includes("list-type=2") ? "LIST" : req.method ?? "?"
    requests[kind] = (requests[kind] ?? 0) + 1
  })
  process.on("message", (message: { type: string }) => {
    if (message.type === "stats") {
      const cpu = process.cpuUsage()
      process.send!({ type: "stats", stats: { cpuMs: (cpu.user + cpu.system) / 1000, requests: { ...requests }, connections } })
    } else if (message.type === "stop") {
      void server.close().then(() => process.exit(0))
    }
  })
  process.send!({ type: "ready", endpoint: server.endpoint })
}

/** Starts the server process; its endpoint, a way to read its counters, and a way to stop it. */
const startServer = () =>
  new Promise<{ endpoint: string; stats: () => Promise<ServerStats>; stop: () => Promise<void>; child: ChildProcess }>(
    (resolve, reject) => {
      const child = fork(import.meta.filename, ["serve"], {
        execArgv: ["--openssl-legacy-provider", "--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      })
      const waiting: Array<(stats: ServerStats) => void> = []
      child.on("message", (message: { type: string; endpoint?: string; stats?: ServerStats }) => {
        if (message.type === "ready") {
          resolve({
            endpoint: message.endpoint!,
            child,
            stats: () =>
              new Promise((done) => {
                waiting.push(done)
                child.send({ type: "stats" })
              }),
            stop: () =>
              new Promise((done) => {
                child.once("exit", () => done())
                child.send({ type: "stop" })
              })
          })
        } else if (message.type === "stats") waiting.shift()!(message.stats!)
      })
      child.once("error", reject)
      child.once("exit", (code) => reject(new Error(`the server process exited with ${code}`)))
    }
  )

/**
 * Runs a command to its end under `/usr/bin/time` without blocking this process: its status,
 * stdout, stderr, wall seconds, CPU seconds (user + system of it and its children) and peak RSS.
 */
const timed = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ status: number | null; stdout: string; stderr: string; wall: number; cpu: number; rssMiB: number }>(
    (resolve, reject) => {
      const report = path.join(os.tmpdir(), `multi-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`)
      const child = spawn("/usr/bin/time", ["-q", "-f", "%e %U %S %M", "-o", report, command, ...args], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const out: Array<Buffer> = []
      const err: Array<Buffer> = []
      child.stdout.on("data", (data: Buffer) => out.push(data))
      child.stderr.on("data", (data: Buffer) => err.push(data))
      child.on("error", reject)
      child.on("close", (status) => {
        const [wall, user, sys, rss] = fs.readFileSync(report, "utf8").trim().split("\n").pop()!.split(" ").map(Number)
        fs.rmSync(report, { force: true })
        resolve({
          status,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          wall: wall!,
          cpu: user! + sys!,
          rssMiB: rss! / 1024
        })
      })
    }
  )

const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(" ")

const main = async () => {
  const server = await startServer()
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

    const source = `s3://${BUCKET}/logs/`
    // Planning in this process: the listing and the plan.
    let before = await server.stats()
    t = Date.now()
    const objects = await Effect.runPromise(
      resolve(Either.getOrThrow(parseSpecs([source]))).pipe(
        Effect.provide(Layers.workerLayer(
          S3ObjectStore.layer({ endpoint: Option.some(server.endpoint), region: S3Server.REGION }),
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
    const lists = (await server.stats()).requests["LIST"]! - (before.requests["LIST"] ?? 0)
    console.log(`planning: ${objects.length} objects, ${multi.size} bytes; LIST ${listed} ms (${lists} requests), plan ${planned} ms`)
    console.log(`balance (planned bytes per chunk, N=${CHUNKS}): largest/mean ${(Math.max(...widths) / mean).toFixed(3)}`)

    const env = { ...process.env, ...S3Server.credentialsEnv }
    const awsEnv = { ...env, AWS_REQUEST_CHECKSUM_CALCULATION: "when_required", AWS_RESPONSE_CHECKSUM_VALIDATION: "when_required" }
    const aws = (await timed("aws", ["--version"])).status === 0 && process.env["AWS"] !== "0"
    const count = (text: string) => text.split("\n").filter((l) => /^\s*\d+\s*$/.test(l)).reduce((sum, l) => sum + Number(l.trim()), 0)

    /** One measured client run: a line of the table, the server's counters taken around it. */
    const measure = async (label: string, body: () => Promise<{ wall: number; cpu: number; rssMiB: number; lines: number; note: string }>) => {
      before = await server.stats()
      const load = loadAverage()
      const result = await body()
      const after = await server.stats()
      const kinds = Object.keys(after.requests).filter((k) => after.requests[k] !== (before.requests[k] ?? 0))
      const delta = (k: string) => after.requests[k]! - (before.requests[k] ?? 0)
      const total = kinds.reduce((sum, k) => sum + delta(k), 0)
      console.log(
        `${label.padEnd(22)} wall ${result.wall.toFixed(2).padStart(7)} s  client CPU ${result.cpu.toFixed(2).padStart(6)} s  ` +
          `server CPU ${((after.cpuMs - before.cpuMs) / 1000).toFixed(2).padStart(6)} s  ` +
          `requests ${(total / objects.length).toFixed(3)}/object (${kinds.map((k) => `${k} ${delta(k)}`).join(", ")})  ` +
          `connections ${after.connections - before.connections}  RSS ${result.rssMiB.toFixed(0)} MiB  ` +
          `lines ${result.lines === lines ? "ok" : `${result.lines} (expected ${lines})`}  load ${load}${result.note}`
      )
    }

    // Each variant as users run it: its bundle (or, to profile, its sources under tsx).
    const commands = new Map<string, ReadonlyArray<string>>()
    for (const variant of VARIANTS) {
      const main = path.join(variant.root, "src", "main.ts")
      if (PROFILE !== undefined) {
        commands.set(variant.name, ["--cpu-prof", "--cpu-prof-dir", path.resolve(PROFILE, variant.name), "--import", "tsx", main])
      } else {
        await build(variant.root, path.join(work, `bundle-${variant.name}`))
        commands.set(variant.name, [path.join(work, `bundle-${variant.name}`, "cli.mjs")])
      }
    }

    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round} of ${ROUNDS}`)
      for (const variant of VARIANTS) {
        await measure(variant.name, async () => {
          const run = await timed(process.execPath, [
            ...commands.get(variant.name)!,
            "run",
            source,
            "--chunks",
            String(CHUNKS),
            "--exec",
            "wc -l",
            "--merge",
            "auto",
            "--endpoint",
            server.endpoint,
            "--json"
          ], env)
          const results = run.stderr.split("\n").filter((l) => l.startsWith("{\"index\"")).map((l) => JSON.parse(l) as { bytesIn: number })
          const inMean = results.reduce((a, r) => a + r.bytesIn, 0) / Math.max(1, results.length)
          const balance = Math.max(...results.map((r) => r.bytesIn)) / inMean
          const failed = run.status === 0 ? "" : `\n  exit ${run.status}: ${run.stderr.slice(-2000)}`
          return { ...run, lines: count(run.stdout), note: `  balance ${balance.toFixed(3)}${failed}` }
        })
      }
      if (!aws) continue
      for (const verb of ["cp", "sync"]) {
        await measure(`aws s3 ${verb} + wc`, async () => {
          const dir = path.join(work, `copy-${verb}-${round}`)
          const copy = await timed("aws", ["--endpoint-url", server.endpoint, "s3", verb, ...(verb === "cp" ? ["--recursive"] : []), "--quiet", source, dir], awsEnv)
          const wc = await timed("bash", ["-c", `cd '${dir}' && find . -type f | LC_ALL=C sort | xargs zcat -f | wc -l`])
          fs.rmSync(dir, { recursive: true, force: true })
          const failed = copy.status === 0 ? "" : `\n  aws s3 ${verb} failed: ${copy.stderr.slice(-500)}`
          return {
            wall: copy.wall + wc.wall,
            cpu: copy.cpu + wc.cpu,
            rssMiB: copy.rssMiB,
            lines: count(wc.stdout),
            note: `  (copy ${copy.wall.toFixed(2)} s, ${copy.cpu.toFixed(2)} CPU-s; wc ${wc.wall.toFixed(2)} s)${failed}`
          }
        })
      }
    }
  } finally {
    client.destroy()
    await server.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[2] === "serve") {
  serve().catch((error) => {
    console.error(error)
    process.exit(1)
  })
} else {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
