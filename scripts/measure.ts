/**
 * End-to-end measurements of s3split against a local S3: s3rver on loopback behind a counting
 * pass-through proxy. Generates a log-like object, runs the real CLI (`split`, `split --out`,
 * `run`) as a child process under /usr/bin/time -v, compares it with one plain GET and with
 * sequential gzip, checks every output against the source and GNU `split -n l/N`, and prints
 * one Markdown table with the exact commands.
 *
 *   npx tsx scripts/measure.ts [--size 1GiB] [--rss-sizes 256MiB,2GiB] [--chunks 16] [--runs 3]
 *
 * Everything it creates lives in one temporary directory (plus s3rver's own); both are removed
 * and the servers stopped on every exit path, errors and SIGINT/SIGTERM included.
 */
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3"
import type { S3Client } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import * as Either from "effect/Either"
import { execFile, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import type { Hash } from "node:crypto"
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { parseArgs, promisify } from "node:util"
import { formatBytes, parseCount, parseSize } from "../src/Size.js"
import { listenOnLoopback } from "../src/bench/Loopback.js"
import * as S3Server from "../test/utils/S3Server.js"

const ROOT = path.resolve(import.meta.dirname, "..")
const TIME = "/usr/bin/time"
const BUCKET = "measure"
const MiB = 1024 * 1024
/** Measurements whose first run takes longer than this run only once. */
const REPEAT_LIMIT_MS = 60_000
const CLI_ENV = {
  ...process.env,
  ...S3Server.credentialsEnv,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
}

const log = (text: string) => process.stderr.write(`[measure] ${text}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly size: number
  readonly rssSizes: ReadonlyArray<number>
  readonly chunks: number
  readonly runs: number
}

const orThrow = <A>(either: Either.Either<A, { readonly reason: string }>): A =>
  Either.getOrThrowWith(either, (error) => new Error(error.reason))

const parseOptions = (args: ReadonlyArray<string>): Options => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      size: { type: "string", default: "1GiB" },
      "rss-sizes": { type: "string", default: "256MiB" },
      chunks: { type: "string", default: "16" },
      runs: { type: "string", default: "3" }
    }
  })
  return {
    size: orThrow(parseSize(values.size, "--size")),
    rssSizes: values["rss-sizes"].split(",").filter((text) => text !== "").map((text) => orThrow(parseSize(text, "--rss-sizes"))),
    chunks: orThrow(parseCount(values.chunks, "--chunks")),
    runs: orThrow(parseCount(values.runs, "--runs"))
  }
}

// ---------------------------------------------------------------------------------------------
// Clean-up on every path: undo actions (last in, first out) and the children still running

const undo: Array<() => unknown> = []
const running = new Map<ChildProcess, Promise<number | null>>()
let stopping: Promise<void> | undefined

const signalGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal)
  } catch {
    // Already gone.
  }
}

/** Interrupts the children (the CLI removes its own temporary files on SIGINT), then undoes everything. */
const cleanUp = () =>
  stopping ??= (async () => {
    for (const [child, exited] of running) {
      signalGroup(child, "SIGINT")
      const kill = setTimeout(() => signalGroup(child, "SIGKILL"), 10_000)
      await exited
      clearTimeout(kill)
    }
    for (let action = undo.pop(); action !== undefined; action = undo.pop()) {
      await Promise.resolve().then(action).catch((error) => log(`clean-up failed: ${String(error)}`))
    }
  })()

// ---------------------------------------------------------------------------------------------
// The counting proxy

/** One request through the proxy; `bytes` are response body bytes flushed to the client. */
interface Exchange {
  readonly method: string
  readonly url: string
  readonly range: string | undefined
  status: number
  bytes: number
  done: boolean
}

interface CountingProxy {
  readonly endpoint: string
  readonly exchanges: Array<Exchange>
  readonly close: () => Promise<void>
}

const startCountingProxy = async (target: string): Promise<CountingProxy> => {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true })
  const exchanges: Array<Exchange> = []
  const server = http.createServer((req, res) => {
    const exchange: Exchange = { method: req.method ?? "", url: req.url ?? "", range: req.headers.range, status: 0, bytes: 0, done: false }
    exchanges.push(exchange)
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (response) => {
        exchange.status = response.statusCode ?? 0
        res.writeHead(exchange.status, response.statusMessage ?? "", response.headers)
        response.on("data", (piece: Buffer) => {
          if (res.destroyed) return
          // Counted once flushed to the socket: bytes the client never got (it hung up) are not.
          const flushed = res.write(piece, (error) => {
            if (!error) exchange.bytes += piece.length
          })
          if (!flushed) {
            response.pause()
            res.once("drain", () => response.resume())
          }
        })
        response.on("end", () => res.end())
        response.on("error", () => res.destroy())
      }
    )
    forward.on("error", () => res.destroy())
    res.on("close", () => {
      exchange.done = true
      if (!res.writableFinished) forward.destroy()
    })
    req.pipe(forward)
  })
  const { endpoint, close } = await listenOnLoopback(server, agent)
  return { endpoint, exchanges, close }
}

/** Waits until every exchange from `from` on has closed (the client has exited), at most 5 s. */
const settledExchanges = async (proxy: CountingProxy, from: number) => {
  for (let waited = 0; waited < 5_000 && proxy.exchanges.slice(from).some((exchange) => !exchange.done); waited += 20) {
    await sleep(20)
  }
  return proxy.exchanges.slice(from)
}

// ---------------------------------------------------------------------------------------------
// The source object: deterministic log lines, its hash, and GNU split's parts as the reference

const LEVELS = ["INFO ", "WARN ", "ERROR", "DEBUG"]
const WORDS = [
  "GET", "POST", "PUT", "DELETE", "/api/v1/users", "/api/v1/orders", "/static/app.js", "/healthz", "status=200",
  "status=404", "status=500", "user=", "latency_ms=", "bytes=", "cache=hit", "cache=miss", "upstream", "timeout",
  "retrying", "connection", "reset", "by", "peer", "request", "completed", "in", "ms", "session", "opened", "closed",
  "for", "host=web-"
]
const BLOCK = 8 * MiB

/** mulberry32: a tiny deterministic PRNG, one uint32 per call. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return (t ^ (t >>> 14)) >>> 0
}

/** Exactly `size` bytes of lines of 20-200 bytes (`timestamp LEVEL words and numbers`), the last one possibly shorter. */
function* logBlocks(size: number, hash: Hash): Generator<Buffer> {
  const next = prng(1)
  let written = 0
  let line = 0
  while (written < size) {
    const block = Buffer.allocUnsafe(BLOCK + 200)
    let at = 0
    while (at < BLOCK && written + at < size) {
      const left = size - written - at
      const length = left <= 200 ? left : 20 + (next() % 181)
      let text = `${new Date(Date.UTC(2026, 0, 1) + line++ * 7).toISOString()} ${LEVELS[next() & 3]}`
      while (text.length < length - 1) text += ` ${next() & 1 ? WORDS[next() % WORDS.length] : next() % 100_000}`
      at += block.write(text.slice(0, length - 1), at, "latin1")
      block[at++] = 0x0a
    }
    written += at
    const piece = block.subarray(0, at)
    hash.update(piece)
    yield piece
  }
}

interface Part {
  readonly size: number
  readonly sha256: string
}

interface Source {
  readonly size: number
  readonly file: string
  readonly key: string
  readonly uri: string
  readonly sha256: string
  /** GNU `split -n l/N` of the file. */
  readonly reference: ReadonlyArray<Part>
}

/** Streams a file into a fresh SHA-256 (and into `also`, when given); returns the hex digest. */
const hashFile = async (file: string, also?: Hash) => {
  const hash = createHash("sha256")
  for await (const piece of createReadStream(file, { highWaterMark: MiB })) {
    hash.update(piece as Buffer)
    also?.update(piece as Buffer)
  }
  return hash.digest("hex")
}

const gnuSplit = async (tmp: string, file: string, chunks: number): Promise<ReadonlyArray<Part>> => {
  const dir = await fs.mkdtemp(path.join(tmp, "gnu-split-"))
  try {
    await promisify(execFile)("split", ["-n", `l/${chunks}`, "-d", "-a", "5", file, path.join(dir, "x")])
    const names = (await fs.readdir(dir)).sort()
    const parts: Array<Part> = []
    for (const name of names) {
      const file = path.join(dir, name)
      parts.push({ size: (await fs.stat(file)).size, sha256: await hashFile(file) })
    }
    return parts
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

const prepareSource = async (bench: Bench, size: number): Promise<Source> => {
  const name = `object-${size}B.log`
  const file = path.join(bench.tmp, name)
  log(`generating ${formatBytes(size)} in ${file}`)
  const hash = createHash("sha256")
  await pipeline(Readable.from(logBlocks(size, hash)), createWriteStream(file))
  log(`uploading s3://${BUCKET}/${name}`)
  await new Upload({
    client: bench.client,
    params: { Bucket: BUCKET, Key: name, Body: createReadStream(file) },
    partSize: 64 * MiB,
    queueSize: 4
  }).done()
  log(`GNU split -n l/${bench.chunks}`)
  const reference = await gnuSplit(bench.tmp, file, bench.chunks)
  return { size, file, key: name, uri: `s3://${BUCKET}/${name}`, sha256: hash.digest("hex"), reference }
}

/** Frees the disk early; the temporary directory and s3rver's would go anyway. */
const discardSource = async (bench: Bench, source: Source) => {
  await fs.rm(source.file, { force: true })
  await bench.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: source.key }))
}

// ---------------------------------------------------------------------------------------------
// Timed child processes

interface Bench {
  readonly tmp: string
  readonly proxy: CountingProxy
  readonly client: S3Client
  readonly chunks: number
  readonly runs: number
}

/** What a check found in one run's output: failures (none is good) and a note for the table. */
interface Outcome {
  readonly failures: ReadonlyArray<string>
  readonly note: string
}

interface Sample {
  readonly wallMs: number
  readonly peakRssKiB: number
  /** User + system CPU of the process and its children, when /usr/bin/time reports it. */
  readonly cpuSeconds: number | undefined
  readonly exchanges: ReadonlyArray<Exchange>
  readonly outcome: Outcome
}

interface Job {
  readonly argv: ReadonlyArray<string>
  /** Where stdout goes (a file), instead of being collected. */
  readonly stdoutFile?: string
  /** Checks the run's output; removes what it no longer needs. */
  readonly verify: (stdout: string) => Promise<Outcome>
}

const cli = (...args: ReadonlyArray<string>) => [process.execPath, "--import", "tsx", "src/main.ts", ...args]
const shell = (script: string) => ["/bin/sh", "-c", script]

/** Peak VmHWM of a running process, sampled: the fallback without /usr/bin/time. */
const sampleHighWaterMark = (pid: number) => {
  let peak = 0
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0))
    } catch {
      // It has exited.
    }
  }, 20)
  return () => {
    clearInterval(timer)
    return peak
  }
}

/** Runs `job.argv` once from the repository root, timed, in its own process group. */
const runOnce = async (bench: Bench, job: Job): Promise<Sample> => {
  if (stopping !== undefined) throw new Error("stopping")
  const report = path.join(bench.tmp, "time-report.txt")
  const argv = existsSync(TIME) ? [TIME, "-v", "-o", report, ...job.argv] : job.argv
  const out = job.stdoutFile === undefined ? undefined : await fs.open(job.stdoutFile, "w")
  const from = bench.proxy.exchanges.length
  const started = process.hrtime.bigint()
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: CLI_ENV,
    detached: true,
    stdio: ["ignore", out?.fd ?? "pipe", "pipe"]
  })
  const peakWithoutTime = existsSync(TIME) || child.pid === undefined ? undefined : sampleHighWaterMark(child.pid)
  const stdout: Array<Buffer> = []
  const stderr: Array<Buffer> = []
  child.stdout?.on("data", (piece: Buffer) => stdout.push(piece))
  child.stderr?.on("data", (piece: Buffer) => stderr.push(piece))
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", resolve)
  }).finally(() => running.delete(child))
  running.set(child, exited)
  const code = await exited.finally(() => out?.close())
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6
  const timeReport = peakWithoutTime === undefined ? await fs.readFile(report, "utf8") : ""
  const reported = (label: string) => Number(new RegExp(`${label}: ([\\d.]+)`).exec(timeReport)?.[1])
  const peakRssKiB = peakWithoutTime?.() ?? reported("Maximum resident set size \\(kbytes\\)")
  const cpuSeconds = peakWithoutTime === undefined ? reported("User time \\(seconds\\)") + reported("System time \\(seconds\\)") : undefined
  if (code !== 0) {
    throw new Error(`${display(bench, job)} exited with ${code}: ${Buffer.concat(stderr).toString("utf8").trim().slice(-2000)}`)
  }
  const exchanges = await settledExchanges(bench.proxy, from)
  return { wallMs, peakRssKiB, cpuSeconds, exchanges, outcome: await job.verify(Buffer.concat(stdout).toString("utf8")) }
}

/** `bench.runs` runs, or a single one when the first takes longer than REPEAT_LIMIT_MS. */
const runRepeated = async (bench: Bench, label: string, job: Job): Promise<ReadonlyArray<Sample>> => {
  const samples: Array<Sample> = []
  do {
    log(`${label}: run ${samples.length + 1}`)
    samples.push(await runOnce(bench, job))
  } while (samples.length < bench.runs && samples[0]!.wallMs <= REPEAT_LIMIT_MS)
  return samples
}

// ---------------------------------------------------------------------------------------------
// Checks

const ok = (note: string, failures: ReadonlyArray<string | false>): Outcome => ({
  failures: failures.filter((failure): failure is string => failure !== false),
  note
})

/** The `split` table: its chunk sizes must be GNU split's part sizes. */
const checkBoundaries = (source: Source) => async (stdout: string) => {
  const sizes = stdout.split("\n").flatMap((line) => {
    const match = /^\s*\d+\s+\d+\s+\d+\s+(\d+)\s*$/.exec(line)
    return match === null ? [] : [Number(match[1])]
  })
  const expected = source.reference.map((part) => part.size)
  return ok("chunk sizes = GNU split part sizes", [
    sizes.join() !== expected.join() && `chunk sizes ${sizes.join()} differ from GNU split's ${expected.join()}`
  ])
}

/** The parts in `dir`: together the source, one by one GNU split's parts, manifest last. Removes `dir`. */
const checkParts = (source: Source, dir: string) => async () => {
  const whole = createHash("sha256")
  const names = (await fs.readdir(dir)).filter((name) => name.startsWith("part-")).sort()
  const failures: Array<string | false> = [
    names.length !== source.reference.length && `${names.length} parts, GNU split made ${source.reference.length}`,
    !existsSync(path.join(dir, "_manifest.json")) && "no _manifest.json"
  ]
  for (const [i, name] of names.entries()) {
    const digest = await hashFile(path.join(dir, name), whole)
    failures.push(digest !== source.reference[i]?.sha256 && `${name} differs from GNU split's part ${i}`)
  }
  failures.push(whole.digest("hex") !== source.sha256 && "the parts concatenated differ from the source")
  await fs.rm(dir, { recursive: true, force: true })
  return ok("cat parts = source; part i = GNU split part i", failures)
}

/** The output file must be the source. Removes it. */
const checkSameAsSource = (source: Source, file: string) => async () => {
  const digest = await hashFile(file)
  await fs.rm(file, { force: true })
  return ok("output = source (SHA-256)", [digest !== source.sha256 && "the output differs from the source"])
}

const checkByteCount = (source: Source) => async (stdout: string) =>
  ok(`${stdout.trim()} bytes received`, [Number(stdout.trim()) !== source.size && `received ${stdout.trim()} bytes, not ${source.size}`])

/** `gzip -1 | wc -c` per chunk (or once): reports the sum of the counts. */
const checkGzipCounts = (lines: number) => async (stdout: string) => {
  const counts = stdout.trim().split("\n").map(Number)
  const sum = counts.reduce((total, count) => total + count, 0)
  return ok(`gzip -1 output: ${lines === 1 ? "" : `Σ of ${counts.length} counts = `}${sum.toLocaleString("en-US")} B`, [
    (counts.length !== lines || counts.some((count) => !(count > 0))) && `expected ${lines} positive counts, got "${stdout.trim()}"`
  ])
}

// ---------------------------------------------------------------------------------------------
// The measurements

interface Row {
  /** Sort key and label, e.g. "b. split --out (1.0 GiB)". */
  readonly id: string
  readonly job: Job
  readonly samples: ReadonlyArray<Sample>
  /** The S3 source read (its GETs and bytes are counted), if any. */
  readonly s3Source?: Source
  /** Whether the run reads the whole object (bytes beyond S are "extra"), and S for throughput. */
  readonly wholeObject?: number
  /** Whether the command works in `bench.chunks` chunks (GETs are then shown per chunk too). */
  readonly chunked?: boolean
}

const measure = async (bench: Bench, id: string, job: Job, extra: Pick<Row, "s3Source" | "wholeObject" | "chunked">): Promise<Row> => ({
  id,
  job,
  samples: await runRepeated(bench, id, job),
  ...extra
})

const splitOut = (bench: Bench, source: Source) => {
  const dir = path.join(bench.tmp, "split-out")
  return measure(bench, `b. split --out (${formatBytes(source.size)})`, {
    argv: cli("split", source.uri, "--chunks", String(bench.chunks), "--out", dir, "--endpoint", bench.proxy.endpoint),
    verify: checkParts(source, dir)
  }, { s3Source: source, wholeObject: source.size, chunked: true })
}

const measureMain = async (bench: Bench, source: Source): Promise<ReadonlyArray<Row>> => {
  const n = String(bench.chunks)
  const endpoint = bench.proxy.endpoint
  const runOut = path.join(bench.tmp, "run-cat.out")
  const s3 = { s3Source: source, wholeObject: source.size, chunked: true }
  return [
    await measure(bench, "a. split, boundaries only", {
      argv: cli("split", source.uri, "--chunks", n, "--endpoint", endpoint),
      verify: checkBoundaries(source)
    }, { s3Source: source, chunked: true }),
    await splitOut(bench, source),
    await measure(bench, "c. plain GetObject to /dev/null", {
      argv: [process.execPath, "--import", "tsx", "scripts/measure.ts", "get-object", endpoint, BUCKET, source.key],
      verify: checkByteCount(source)
    }, { s3Source: source, wholeObject: source.size }),
    await measure(bench, "e. run --exec cat (S3)", {
      argv: cli("run", source.uri, "--chunks", n, "--exec", "cat", "--endpoint", endpoint),
      stdoutFile: runOut,
      verify: checkSameAsSource(source, runOut)
    }, s3),
    await measure(bench, "f1. run --exec 'gzip -1 | wc -c' (local file)", {
      argv: cli("run", source.file, "--chunks", n, "--exec", "gzip -1 | wc -c"),
      verify: checkGzipCounts(bench.chunks)
    }, { wholeObject: source.size }),
    await measure(bench, "f2. sequential gzip -1 | wc -c (local file)", {
      argv: shell(`gzip -1 < ${source.file} | wc -c`),
      verify: checkGzipCounts(1)
    }, { wholeObject: source.size }),
    await measure(bench, "f3. run --exec 'gzip -1 | wc -c' (S3)", {
      argv: cli("run", source.uri, "--chunks", n, "--exec", "gzip -1 | wc -c", "--endpoint", endpoint),
      verify: checkGzipCounts(bench.chunks)
    }, s3)
  ]
}

/** d: `split --out` again at other sizes, to see whether peak RSS follows the object size. */
const measureRss = async (bench: Bench, sizes: ReadonlyArray<number>): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  for (const size of sizes) {
    const source = await prepareSource(bench, size)
    const row = await splitOut(bench, source)
    rows.push({ ...row, id: row.id.replace(/^b\./, "d.") })
    await discardSource(bench, source)
  }
  return rows
}

// ---------------------------------------------------------------------------------------------
// The report

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** `median (min–max)`, or the one value when all runs agree. */
const spread = (values: ReadonlyArray<number>, format: (value: number) => string) => {
  const shown = values.map(format)
  return new Set(shown).size === 1
    ? shown[0]!
    : `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`
}

const quote = (arg: string) => /^[\w@%+=:,./$-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`

/** The command as run (a shell job as its script), with `$TMP` and `$PROXY` for the temporary directory and the proxy. */
const display = (bench: Bench, job: Job) => {
  const abbreviate = (text: string) => text.replaceAll(bench.tmp, "$TMP").replaceAll(bench.proxy.endpoint, "$PROXY")
  const command = job.argv[0] === "/bin/sh"
    ? abbreviate(job.argv[2]!)
    : job.argv.map((arg) => quote(arg === process.execPath ? "node" : abbreviate(arg))).join(" ")
  return command + (job.stdoutFile === undefined ? "" : ` > ${abbreviate(job.stdoutFile)}`)
}

const seconds = (ms: number) => (ms / 1000).toFixed(2)
const mib = (bytes: number) => (bytes / MiB).toFixed(1)
const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)

const sourceGets = (sample: Sample, source: Source) =>
  sample.exchanges.filter((exchange) =>
    exchange.method === "GET" && new URL(exchange.url, "http://x").pathname === `/${BUCKET}/${source.key}`)

const requestCells = (bench: Bench, row: Row) => {
  const source = row.s3Source
  if (source === undefined) return ["–", "–", "–"]
  const gets = row.samples.map((sample) => sourceGets(sample, source).length)
  const heads = row.samples.map((sample) => sample.exchanges.filter((exchange) => exchange.method === "HEAD").length)
  const failed = sum(row.samples.map((sample) => sample.exchanges.filter((exchange) => exchange.status >= 300).length))
  const bytes = row.samples.map((sample) => sum(sourceGets(sample, source).map((exchange) => exchange.bytes)))
  const perChunk = row.chunked === true ? ` (${spread(gets, (n) => (n / bench.chunks).toFixed(2))}/chunk)` : ""
  const requests = `${spread(gets, String)} GET${perChunk}, ` +
    `${spread(heads, String)} HEAD${failed > 0 ? `, ${failed} non-2xx` : ""}`
  const extra = row.wholeObject === undefined
    ? "–"
    : `${spread(bytes.map((b) => b - source.size), (b) => b.toLocaleString("en-US"))} B ` +
      `(${spread(bytes.map((b) => (b - source.size) / source.size * 100), (p) => p.toFixed(3))} %)`
  return [requests, spread(bytes, (b) => b.toLocaleString("en-US")), extra]
}

const cell = (text: string) => text.replace(/\|/g, "\\|")

const renderRow = (bench: Bench, row: Row) => {
  const walls = row.samples.map((sample) => sample.wallMs)
  const throughput = row.wholeObject === undefined ? "–" : spread(walls.map((ms) => row.wholeObject! / MiB / (ms / 1000)), (v) => v.toFixed(0))
  const failures = [...new Set(row.samples.flatMap((sample) => sample.outcome.failures))]
  const check = failures.length === 0 ? `ok: ${row.samples[0]!.outcome.note}` : `**FAILED**: ${failures.join("; ")}`
  const runs = row.samples.length < bench.runs ? `${row.samples.length} (first run > 60 s)` : String(row.samples.length)
  const cpu = row.samples.map((sample) => sample.cpuSeconds)
  const cpuCell = cpu.every((value) => value !== undefined) ? spread(cpu, (value) => value.toFixed(1)) : "–"
  return [
    row.id,
    `\`${display(bench, row.job)}\``,
    runs,
    spread(walls, seconds),
    throughput,
    cpuCell,
    spread(row.samples.map((sample) => sample.peakRssKiB * 1024), mib),
    ...requestCells(bench, row),
    check
  ].map(cell)
}

const report = (bench: Bench, options: Options, rows: ReadonlyArray<Row>, startLoad: number) => {
  const header = ["measurement", "command", "runs", "wall s", "MiB/s", "CPU s (user+sys)", "peak RSS MiB", "S3 requests", "source bytes forwarded", "extra bytes beyond S", "check"]
  const lines = [
    `## s3split measurements (${new Date().toISOString()})`,
    "",
    `- object S = ${options.size.toLocaleString("en-US")} B (${formatBytes(options.size)}), log-like lines of 20-200 B, ` +
      `${bench.chunks} chunks; host: ${os.cpus().length} CPUs, ${formatBytes(os.totalmem())} RAM, Node ${process.version}; ` +
      `1-minute load average ${startLoad.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end`,
    `- s3rver on 127.0.0.1 behind a counting proxy \`$PROXY\` (${bench.proxy.endpoint}), both in the measuring process; ` +
      `\`$TMP\` = ${bench.tmp}; every command ran from the repository root with ` +
      `\`AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1\`, ` +
      (existsSync(TIME) ? "under `/usr/bin/time -v`" : "peak RSS sampled from /proc/PID/status VmHWM (no /usr/bin/time)"),
    `- values are the median (min–max) of the runs, or the one value when all runs agree; MiB/s = S / wall; ` +
      `CPU s sums the process and its children (sh, cat, gzip); peak RSS is the largest single one (the CLI's node); ` +
      `bytes forwarded = response body bytes the proxy flushed to the client for GETs of the source key`,
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...[...rows].sort((x, y) => x.id.split(".")[0]!.localeCompare(y.id.split(".")[0]!)).map((row) => `| ${renderRow(bench, row).join(" | ")} |`)
  ]
  return lines.join("\n") + "\n"
}

// ---------------------------------------------------------------------------------------------
// Entry points

const setUp = async (options: Options): Promise<Bench> => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "s3split-measure-"))
  undo.push(() => fs.rm(tmp, { recursive: true, force: true }))
  const server = await S3Server.start()
  undo.push(server.close)
  const proxy = await startCountingProxy(server.endpoint)
  undo.push(proxy.close)
  const client = S3Server.rawClient(server.endpoint)
  undo.push(() => client.destroy())
  await S3Server.createBucket(client, BUCKET)
  return { tmp, proxy, client, chunks: options.chunks, runs: options.runs }
}

const main = async () => {
  const options = parseOptions(process.argv.slice(2))
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(128 + os.constants.signals[signal])))
  }
  const startLoad = os.loadavg()[0]!
  try {
    const bench = await setUp(options)
    const source = await prepareSource(bench, options.size)
    const rows = [...await measureMain(bench, source), ...await measureRss(bench, options.rssSizes)]
    process.stdout.write(report(bench, options, rows, startLoad))
    if (rows.some((row) => row.samples.some((sample) => sample.outcome.failures.length > 0))) process.exitCode = 1
  } finally {
    await cleanUp()
  }
}

/** Measurement c's child: one GetObject of the whole object, body discarded; prints the byte count. */
const getObject = async (endpoint: string, bucket: string, key: string) => {
  const client = S3Server.rawClient(endpoint)
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    let bytes = 0
    for await (const piece of response.Body as Readable) bytes += (piece as Buffer).length
    process.stdout.write(`${bytes}\n`)
  } finally {
    client.destroy()
  }
}

if (process.argv[2] === "get-object") {
  const [endpoint, bucket, key] = process.argv.slice(3)
  await getObject(endpoint!, bucket!, key!)
} else {
  await main()
}
