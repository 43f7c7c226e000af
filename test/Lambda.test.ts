/**
 * The Lambda path end to end: the real `@aws-sdk/client-lambda` against a local Invoke
 * endpoint that runs the real bundled handler in separate processes, whose S3 layer reads and
 * writes the test S3 server.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda"
import { HeadObjectCommand } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Zlib from "node:zlib"
import { ChunkTask, CopyAction, ExecAction } from "../src/ChunkTask.js"
import { ObjectChangedError, WorkerFailedError } from "../src/Errors.js"
import { Executor } from "../src/Executor.js"
import * as LambdaExecutor from "../src/LambdaExecutor.js"
import { ObjectVersion } from "../src/ObjectStore.js"
import { S3Uri } from "../src/ObjectUri.js"
import { Stats } from "../src/Stats.js"
import { WorkerExit } from "../src/WorkerExit.js"
import * as LambdaServer from "./utils/LambdaServer.js"
import type { Invocation } from "./utils/LambdaServer.js"
import { lines, runCli } from "./utils/RunCli.js"
import * as S3Server from "./utils/S3Server.js"

const ROOT = path.resolve(import.meta.dirname, "..")
const BUNDLE = path.join(ROOT, "dist", "lambda", "index.mjs")
const BUCKET = "lambda-data"
const OBJECT = Buffer.from(
  Array.from({ length: 20_000 }, (_, i) => `${i}\t${i % 7 === 0 ? "ERROR" : "INFO"}\t${"p".repeat(i % 53)}\r\n`).join("")
)

let s3: S3Server.S3ServerHandle
let client: ReturnType<typeof S3Server.rawClient>
let plan: (n: number) => Invocation = () => "pass"
/** Plans the invocations of the next run by their index within it. */
const planNext = (next: (n: number) => Invocation) => {
  const base = lambda.invocations().length
  plan = (n) => next(n - base)
}
let lambda: LambdaServer.LambdaServerHandle

beforeAll(async () => {
  // The very zip users deploy is built from this bundle.
  execFileSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "build-lambda.ts")], { cwd: ROOT })
  S3Server.useTestCredentials()
  s3 = await S3Server.start()
  client = S3Server.rawClient(s3.endpoint)
  await S3Server.createBucket(client, BUCKET)
  await S3Server.putObject(client, BUCKET, "logs/app.log", OBJECT)
  lambda = await LambdaServer.start({
    bundle: BUNDLE,
    env: { ...S3Server.credentialsEnv, AWS_ENDPOINT_URL_S3: s3.endpoint, S3SPLIT_RETRY_BASE_DELAY: "10 millis" },
    plan: (n) => plan(n),
    settleReads: 2,
    failDeploy: (name) => name === "broken-worker"
  })
})

afterAll(async () => {
  client?.destroy()
  await lambda?.close()
  await s3?.close()
})

const cli = (args: ReadonlyArray<string>) =>
  runCli(args, {
    ...S3Server.credentialsEnv,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
    S3SPLIT_RETRY_BASE_DELAY: "10 millis",
    S3SPLIT_INVOKE_RETRY_BASE_DELAY: "10 millis"
  })

const lambdaRun = (exec: string, extra: ReadonlyArray<string> = []) =>
  cli(["run", `s3://${BUCKET}/logs/app.log`, "--chunks", "4", "--exec", exec, "--backend", "lambda", "--function", "worker", "--work-prefix", `s3://${BUCKET}/work/`, ...extra])

describe("run --backend lambda", () => {
  it("--exec cat reproduces the source, and the output equals the local backend's", async () => {
    plan = () => "pass"
    const remote = await lambdaRun("cat")
    expect(remote.stderr).toBe("")
    expect(remote.code).toBe(0)
    expect(Buffer.from(remote.stdout, "utf8")).toEqual(OBJECT)
    const local = await cli(["run", `s3://${BUCKET}/logs/app.log`, "--chunks", "4", "--exec", "grep ERROR | cut -f1"])
    const lambdaGrep = await lambdaRun("grep ERROR | cut -f1")
    expect(lambdaGrep.stdout).toBe(local.stdout)
    expect(lines(local.stdout)).toHaveLength(Math.ceil(20_000 / 7))
    expect(await S3Server.listKeys(client, BUCKET, "work/")).toEqual([])
  })

  it("each command gets its context (split's resolved starts) and, with --header, the header before its own lines", async () => {
    plan = () => "pass"
    const source = `s3://${BUCKET}/logs/app.log`
    const context = await lambdaRun("echo \"$S3SPLIT_CHUNK $S3SPLIT_CHUNKS $S3SPLIT_OFFSET $S3SPLIT_SOURCE\"")
    expect(context.stderr).toBe("")
    const rows = lines((await cli(["split", source, "--chunks", "4", "--json"])).stdout).map((line) => JSON.parse(line))
    expect(lines(context.stdout)).toEqual(rows.map((row) => `${row.index} 4 ${row.start} ${source}`))
    // Every chunk's command read the two header lines (it marks them), then its own lines.
    const remote = await lambdaRun("sed '1,2s/^/>/'", ["--header", "2"])
    expect(remote.stderr).toBe("")
    const text = OBJECT.toString("utf8")
    const header = text.slice(0, text.indexOf("\n", text.indexOf("\n") + 1) + 1)
    const marked = header.split("\n").slice(0, 2).map((line) => `>${line}\n`).join("")
    const outputs = remote.stdout.split(marked)
    expect(outputs).toHaveLength(5)
    expect(header + outputs.join("")).toBe(text)
    // Unmarked, the merge prints the header once: the object itself.
    expect((await lambdaRun("cat", ["--header", "2"])).stdout).toBe(text)
  })

  it("each merge gives the same bytes as the local backend and as the sequential pipeline", async () => {
    plan = () => "pass"
    // The oracle reads the object from a file: `head` may stop reading early.
    const objectFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "s3split-lambda-merge-")), "object")
    fs.writeFileSync(objectFile, OBJECT)
    const sequential = (command: string) =>
      execFileSync("/bin/sh", ["-c", `exec < "$0"; ${command}`, objectFile], { env: { ...process.env, LC_ALL: "C" } }).toString("utf8")
    const merges: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
      ["LC_ALL=C sort", ["--merge", "auto"]],
      ["wc -l", ["--merge", "auto"]],
      ["cut -f2 | uniq -c", ["--merge", "auto"]],
      ["head -n 5", ["--merge", "auto"]],
      ["tail -n 3", ["--merge", "auto"]],
      ["LC_ALL=C sort", ["--reduce", "LC_ALL=C sort -m \"$@\""]]
    ]
    try {
      for (const [exec, merge] of merges) {
        const remote = await lambdaRun(exec, merge)
        expect(remote.stderr).toBe("")
        const local = await cli(["run", `s3://${BUCKET}/logs/app.log`, "--chunks", "4", "--exec", exec, ...merge])
        expect(remote.stdout).toBe(local.stdout)
        expect(remote.stdout).toBe(sequential(exec))
      }
    } finally {
      fs.rmSync(path.dirname(objectFile), { recursive: true, force: true })
    }
    expect(await S3Server.listKeys(client, BUCKET, "work/")).toEqual([])
  }, 600_000)

  it("survives a 429 from Lambda: the Invoke is retried", async () => {
    planNext((n) => (n === 0 || n === 2 ? "throttle" : "pass"))
    const before = lambda.invocations().length
    const result = await lambdaRun("wc -l", ["--json"])
    expect(result.code).toBe(0)
    expect(lines(result.stdout).map(Number).reduce((a, b) => a + b, 0)).toBe(20_000)
    const outcomes = lambda.invocations().slice(before).map((invocation) => invocation.outcome)
    expect(outcomes.filter((outcome) => outcome === "throttle")).toHaveLength(2)
    expect(outcomes.filter((outcome) => outcome === "pass")).toHaveLength(4)
    const [merge, ...summary] = lines(result.stderr).map((line) => JSON.parse(line))
    expect(merge).toEqual({ merge: "concat" })
    expect(summary.map((row) => row.index)).toEqual([0, 1, 2, 3])
    expect(summary.reduce((sum, row) => sum + row.bytesIn, 0)).toBe(OBJECT.length)
  })

  it("a crashed worker fails the run with WorkerFailed, naming the chunk and the crash, with nothing left behind", async () => {
    planNext((n) => (n === 1 ? "crash" : "pass"))
    const result = await lambdaRun("cat", ["--concurrency", "1"])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/^s3split: chunk 1: Lambda function error \(Runtime\.ExitError\).*nodejs:22\..*START RequestId/)
    expect(await S3Server.listKeys(client, BUCKET, "work/")).toEqual([])
  })

  it("a crash with concurrency 4 while the other workers are slow: one line naming the crashed chunk (the second to arrive), and once the CLI has exited no invocation runs and the work prefix is empty", async () => {
    planNext((n) => (n === 1 ? "crash" : "pass"))
    const result = await cli([
      "run", `s3://${BUCKET}/logs/app.log`, "--chunks", "4", "--exec", "sleep 3; cat", "--backend", "lambda", "--function", "worker",
      "--work-prefix", `s3://${BUCKET}/work-crash/`, "--concurrency", "4"
    ])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/^s3split: chunk \d: Lambda function error \(Runtime\.ExitError\)/)
    // The coordinator waited for the slow invocations before sweeping: none runs, none wrote after.
    expect(lambda.inFlight()).toBe(0)
    expect(await S3Server.listKeys(client, BUCKET, "work-crash/")).toEqual([])
  })

  it("a worker that times out fails the run with Sandbox.Timedout", async () => {
    planNext(() => "timeout")
    const result = await lambdaRun("cat", ["--concurrency", "4"])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/^s3split: chunk \d: Lambda function error \(Sandbox\.Timedout\): Task timed out/)
  })

  it("a failing command in a Lambda reaches the coordinator as the same WorkerFailed, with exit code", async () => {
    plan = () => "pass"
    const result = await lambdaRun("cat >/dev/null; echo 'no space left' >&2; exit 4")
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^s3split: chunk \d: command exited with code 4: no space left\n$/)
  })

  it("split --backend lambda writes the same parts as the local backend", async () => {
    plan = () => "pass"
    const remote = await cli(["split", `s3://${BUCKET}/logs/app.log`, "--chunks", "5", "--out", `s3://${BUCKET}/parts-lambda/`, "--backend", "lambda", "--function", "worker", "--json"])
    const local = await cli(["split", `s3://${BUCKET}/logs/app.log`, "--chunks", "5", "--out", `s3://${BUCKET}/parts-local/`, "--json"])
    expect(remote.code).toBe(0)
    expect(remote.stdout).toBe(local.stdout)
    for (let i = 0; i < 5; i++) {
      const name = `part-0000${i}`
      expect(await S3Server.getObject(client, BUCKET, `parts-lambda/${name}`)).toEqual(await S3Server.getObject(client, BUCKET, `parts-local/${name}`))
    }
  })

  it("a prefix of many objects (gzip, empty, no final newline): run and split give cat of the objects; tasks name their lines of the object list", async () => {
    plan = () => "pass"
    const objects = Array.from({ length: 600 }, (_, i) => {
      const content = Buffer.from(i % 97 === 0 ? "" : i % 13 === 0 ? `object ${i} without newline` : `object ${i}\tline\n`.repeat(1 + (i % 3)))
      return i % 5 === 0
        ? { key: `many/o-${String(i).padStart(4, "0")}.log.gz`, stored: Zlib.gzipSync(content), content }
        : { key: `many/o-${String(i).padStart(4, "0")}.log`, stored: content, content }
    })
    for (let i = 0; i < objects.length; i += 20) {
      await Promise.all(objects.slice(i, i + 20).map((object) => S3Server.putObject(client, BUCKET, object.key, object.stored)))
    }
    const expected = Buffer.concat(objects.map((object) => object.content))
    // One chunk of 600 objects: more than a task carries inline, so the worker reads its slice of the list.
    for (const chunks of ["1", "3"]) {
      const remote = await cli(["run", `s3://${BUCKET}/many/`, "--chunks", chunks, "--exec", "cat", "--backend", "lambda", "--function", "worker", "--work-prefix", `s3://${BUCKET}/work/`])
      expect(remote.stderr).toBe("")
      expect(remote.code).toBe(0)
      expect(Buffer.from(remote.stdout, "utf8").equals(expected)).toBe(true)
    }
    expect(await S3Server.listKeys(client, BUCKET, "work/")).toEqual([])
    const split = await cli(["split", `s3://${BUCKET}/many/`, "--chunks", "4", "--out", `s3://${BUCKET}/many-parts/`, "--backend", "lambda", "--function", "worker"])
    expect(split.code).toBe(0)
    const keys = await S3Server.listKeys(client, BUCKET, "many-parts/")
    expect(keys).toEqual(["_manifest.json", "part-00000", "part-00001", "part-00002", "part-00003"].map((name) => `many-parts/${name}`))
    const parts = await Promise.all(keys.slice(1).map((key) => S3Server.getObject(client, BUCKET, key)))
    expect(Buffer.concat(parts.map((part) => part!)).equals(expected)).toBe(true)
  })

  it("refuses local paths with the Lambda backend, in one line", async () => {
    const result = await cli(["run", "samples/access.log", "--chunks", "2", "--exec", "cat", "--backend", "lambda", "--work-prefix", `s3://${BUCKET}/work/`])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^s3split: with --backend lambda, SOURCE must be an s3:\/\/ URI/)
  })
})

describe("deploy", () => {
  const env = () => ({ ...S3Server.credentialsEnv, AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint })

  it("creates the function from dist/lambda.zip (Node.js 22, index.handler) and waits until it is Active, then updates its code and waits until the update is Successful", async () => {
    const missingRole = await runCli(["deploy", "--function", "fresh-worker"], env())
    expect(missingRole.code).toBe(1)
    expect(missingRole.stderr).toMatch(/^s3split: function fresh-worker does not exist: give --role ARN to create it\n$/)
    const created = await runCli(["deploy", "--function", "fresh-worker", "--role", "arn:aws:iam::123456789012:role/worker", "--memory", "2048"], env())
    expect(created.stderr).toBe("")
    expect(created.stdout).toBe("created Lambda function fresh-worker\n")
    // Pending, Pending, then Active: deploy read on until it was Active.
    expect(lambda.reads("fresh-worker")).toBe(3)
    const zip = fs.readFileSync(path.join(ROOT, "dist", "lambda.zip"))
    const fn = lambda.functions().get("fresh-worker")!
    expect(fn.zip).toEqual(zip)
    expect(fn.configuration).toMatchObject({ Runtime: "nodejs22.x", Handler: "index.handler", MemorySize: 2048, Timeout: 900 })
    const updated = await runCli(["deploy", "--function", "fresh-worker"], env())
    expect(updated.stderr).toBe("")
    expect(updated.stdout).toBe("updated Lambda function fresh-worker\n")
    // GetFunction, the check for an update in progress, then InProgress, InProgress, Successful.
    expect(lambda.reads("fresh-worker")).toBe(3 + 5)
  })

  it("a function that ends Failed is one clear error naming the state and its reason", async () => {
    const result = await runCli(["deploy", "--function", "broken-worker", "--role", "arn:aws:iam::123456789012:role/worker"], env())
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe(
      "s3split: lambda:broken-worker: the function is not in service after CreateFunction: State Failed (InvalidZipFileException: Lambda was unable to unzip the file.)\n"
    )
    expect(lambda.reads("broken-worker")).toBe(3)
  })
})

describe("LambdaExecutor", () => {
  it.live("a worker's ObjectChangedError is decoded as the same ObjectChangedError", () =>
    Effect.gen(function*() {
      plan = () => "pass"
      const executor = yield* Executor
      const task = new ChunkTask({
        index: 0,
        source: new S3Uri({ bucket: BUCKET, key: "logs/app.log" }),
        version: new ObjectVersion({ size: OBJECT.length, etag: "\"stale-etag\"" }),
        approx: { start: 0, end: 1000 },
        lookahead: 64,
        action: new CopyAction(),
        output: new S3Uri({ bucket: BUCKET, key: "changed/part" })
      })
      const error = yield* Effect.flip(executor.execute(task))
      expect(error).toBeInstanceOf(ObjectChangedError)
      expect((error as ObjectChangedError).expectedEtag).toBe("\"stale-etag\"")
    }).pipe(Effect.provide(LambdaExecutor.layer({ functionName: "worker", region: "us-east-1", endpoint: Option.some(lambda.endpoint) }).pipe(
      Layer.provide(Stats.layer)
    ))))

  it.live("an unknown function is a WorkerFailed naming the Invoke failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.flatMap(Executor, (executor) =>
        executor.execute(new ChunkTask({
          index: 3,
          source: new S3Uri({ bucket: BUCKET, key: "logs/app.log" }),
          version: new ObjectVersion({ size: 1, etag: "x" }),
          approx: { start: 0, end: 1 },
          lookahead: 0,
          action: new CopyAction(),
          output: new S3Uri({ bucket: BUCKET, key: "x" })
        }))))
      expect(error).toBeInstanceOf(WorkerFailedError)
      expect((error as WorkerFailedError).reason).toMatch(/ResourceNotFoundException/)
    }).pipe(Effect.provide(LambdaExecutor.layer({ functionName: "worker/../../nope", region: "us-east-1", endpoint: Option.some(`${lambda.endpoint}/bad`) }).pipe(
      Layer.provide(Stats.layer)
    ))))
})

/** The executor against the local endpoint, with `config` as its environment (InvokePolicy). */
const executorLayer = (config: Record<string, string> = {}) =>
  LambdaExecutor.layer({ functionName: "worker", region: "us-east-1", endpoint: Option.some(lambda.endpoint) }).pipe(
    Layer.provide(Stats.layer),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(config)))))
  )

/** Chunk `index` of 6 of the source, piped through `command`, its output under `prefix`. */
const execTask = (index: number, command: string, prefix: string) =>
  Effect.promise(() => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "logs/app.log" }))).pipe(
    Effect.map((head) => {
      const q = Math.floor(OBJECT.length / 6)
      return new ChunkTask({
        index,
        source: new S3Uri({ bucket: BUCKET, key: "logs/app.log" }),
        version: new ObjectVersion({ size: OBJECT.length, etag: head.ETag! }),
        approx: { start: index * q, end: index === 5 ? OBJECT.length : (index + 1) * q },
        lookahead: 64,
        action: new ExecAction({ command }),
        output: new S3Uri({ bucket: BUCKET, key: `${prefix}chunk-${index}` })
      })
    })
  )

/** Waits (polling) until `check` holds; the test's timeout bounds it. */
const until = (check: () => boolean) =>
  Effect.repeat(Effect.sync(check), { schedule: Schedule.spaced("20 millis"), until: (ok) => ok })

describe("LambdaExecutor endings", () => {
  it.live("interrupting execute waits for its in-flight Invoke to end (the output is written by then), and starts none after", () =>
    Effect.gen(function*() {
      plan = () => "pass"
      const executor = yield* Executor
      const before = lambda.invocations().length
      const fiber = yield* Effect.fork(executor.execute(yield* execTask(0, "sleep 2; cat", "interrupted/")))
      yield* until(() => lambda.inFlight() === 1)
      yield* Fiber.interrupt(fiber)
      expect(lambda.inFlight()).toBe(0)
      expect(lambda.invocations().length - before).toBe(1)
      expect(yield* Effect.promise(() => S3Server.listKeys(client, BUCKET, "interrupted/"))).toEqual(["interrupted/chunk-0"])
    }).pipe(Effect.provide(executorLayer())))

  it.live("a crash with concurrency 3 while the others are slow: once execute's fibers are interrupted and awaited, no invocation runs and no new one started", () =>
    Effect.gen(function*() {
      planNext((n) => (n === 1 ? "crash" : "pass"))
      const executor = yield* Executor
      const before = lambda.invocations().length
      const tasks = yield* Effect.forEach([0, 1, 2, 3, 4, 5], (index) => execTask(index, "sleep 2; cat", "crashed/"))
      // Three at a time through a semaphore: `Effect.forEach` with `concurrency: 3` over six tasks
      // counts the first failure twice and returns before the fibers it interrupted have ended
      // (effect 3.22.4), so it cannot be used to wait for every execute to end.
      const permits = yield* Effect.makeSemaphore(3)
      const exit = yield* Effect.exit(
        Effect.forEach(tasks, (task) => permits.withPermits(1)(executor.execute(task)), { concurrency: "unbounded", discard: true })
      )
      expect(lambda.inFlight()).toBe(0)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.getOrThrow(error)).toBeInstanceOf(WorkerFailedError)
      expect((Option.getOrThrow(error) as WorkerFailedError).reason).toMatch(/Runtime\.ExitError/)
      // Three started (one crashed); the three not yet started never were.
      expect(lambda.invocations().slice(before).map((invocation) => invocation.outcome)).toEqual(["pass", "crash", "pass"])
      // The two slow ones ended before the interruption completed: their outputs are there to sweep.
      expect(yield* Effect.promise(() => S3Server.listKeys(client, BUCKET, "crashed/"))).toHaveLength(2)
      yield* Effect.sleep("500 millis")
      expect(lambda.invocations().length - before).toBe(3)
    }).pipe(Effect.provide(executorLayer())))

  it.live("an interruption during a throttle wait takes effect at once, and no new Invoke starts", () =>
    Effect.gen(function*() {
      planNext(() => "throttle")
      const executor = yield* Executor
      const before = lambda.invocations().length
      const fiber = yield* Effect.fork(executor.execute(yield* execTask(0, "cat", "throttled/")))
      yield* until(() => lambda.invocations().length - before === 1)
      // The next retry is 10 minutes away: this returns only if the wait is interrupted.
      yield* Fiber.interrupt(fiber)
      expect(lambda.invocations().length - before).toBe(1)
      expect(lambda.inFlight()).toBe(0)
    }).pipe(Effect.provide(executorLayer({ S3SPLIT_INVOKE_RETRY_BASE_DELAY: "10 minutes" }))))

  it.live("ten throttles in a row, past the read budget of 8 requests, and the Invoke still succeeds", () =>
    Effect.gen(function*() {
      planNext((n) => (n < 10 ? "throttle" : "pass"))
      const executor = yield* Executor
      const before = lambda.invocations().length
      const result = yield* executor.execute(yield* execTask(2, "wc -l", "patient/"))
      expect(result.index).toBe(2)
      const outcomes = lambda.invocations().slice(before).map((invocation) => invocation.outcome)
      expect(outcomes).toEqual([...Array.from({ length: 10 }, () => "throttle"), "pass"])
      const stats = yield* Stats
      expect(yield* stats.retries).toBeGreaterThanOrEqual(10)
    }).pipe(Effect.provide(LambdaExecutor.layer({ functionName: "worker", region: "us-east-1", endpoint: Option.some(lambda.endpoint) }).pipe(
      Layer.provideMerge(Stats.layer),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
        ["S3SPLIT_INVOKE_RETRY_BASE_DELAY", "10 millis"],
        ["S3SPLIT_INVOKE_RETRY_MAX_DELAY", "50 millis"]
      ]))))
    ))))

  it.live("the response timeout aborts an Invoke that has no answer in time, naming the setting (the function itself runs on)", () =>
    Effect.gen(function*() {
      plan = () => "pass"
      const executor = yield* Executor
      const error = yield* Effect.flip(executor.execute(yield* execTask(1, "sleep 2; cat", "late/")))
      expect(error).toBeInstanceOf(WorkerFailedError)
      expect(error.message).toMatch(/^chunk 1: no answer from Lambda function worker within 1s \(S3SPLIT_INVOKE_TIMEOUT\)/)
      // The documented gap: the function outlives the abandoned request until it ends by itself.
      expect(lambda.inFlight()).toBe(1)
      yield* until(() => lambda.inFlight() === 0)
    }).pipe(Effect.provide(executorLayer({ S3SPLIT_INVOKE_TIMEOUT: "1 second" }))))

  it.live("the handler answers a task it cannot decode with a WorkerFailedError naming no chunk, or the event's index", () =>
    Effect.gen(function*() {
      plan = () => "pass"
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new LambdaClient({ region: "us-east-1", endpoint: lambda.endpoint, maxAttempts: 1 })),
        (raw) => Effect.sync(() => raw.destroy())
      )
      const answer = (event: unknown) =>
        Effect.promise(() => raw.send(new InvokeCommand({ FunctionName: "worker", Payload: new TextEncoder().encode(JSON.stringify(event)) }))).pipe(
          Effect.flatMap((response) => Schema.decodeUnknown(Schema.parseJson(WorkerExit))(new TextDecoder().decode(response.Payload))),
          Effect.map((exit) => Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined)
        )
      const anonymous = yield* answer({ hello: "world" })
      expect(anonymous).toBeInstanceOf(WorkerFailedError)
      expect((anonymous as WorkerFailedError).index).toBeUndefined()
      expect(anonymous!.message).toMatch(/^worker: not a chunk task: /)
      const indexed = yield* answer({ index: 5, source: "nowhere" })
      expect((indexed as WorkerFailedError).index).toBe(5)
      expect(indexed!.message).toMatch(/^chunk 5: not a chunk task: /)
    }).pipe(Effect.scoped))

  it("the handler runs under the Node.js 22 of Lambda's nodejs22.x runtime", () => {
    expect(lambda.nodeVersion).toMatch(/^v22\./)
  })
})
