/**
 * The Lambda path end to end: the real `@aws-sdk/client-lambda` against a local Invoke
 * endpoint that runs the real bundled handler in separate processes, whose S3 layer reads and
 * writes the test S3 server.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { ChunkTask, CopyAction } from "../src/ChunkTask.js"
import { ObjectChangedError, WorkerFailedError } from "../src/Errors.js"
import { Executor } from "../src/Executor.js"
import * as LambdaExecutor from "../src/LambdaExecutor.js"
import { ObjectVersion } from "../src/ObjectStore.js"
import { S3Uri } from "../src/ObjectUri.js"
import { Stats } from "../src/Stats.js"
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
    timeoutMs: 3_000
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
    S3SPLIT_RETRY_BASE_DELAY: "10 millis"
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

  it("survives a 429 from Lambda: the Invoke is retried", async () => {
    planNext((n) => (n === 0 || n === 2 ? "throttle" : "pass"))
    const before = lambda.invocations().length
    const result = await lambdaRun("wc -l", ["--json"])
    expect(result.code).toBe(0)
    expect(lines(result.stdout).map(Number).reduce((a, b) => a + b, 0)).toBe(20_000)
    const outcomes = lambda.invocations().slice(before).map((invocation) => invocation.outcome)
    expect(outcomes.filter((outcome) => outcome === "throttle")).toHaveLength(2)
    expect(outcomes.filter((outcome) => outcome === "pass")).toHaveLength(4)
    const summary = lines(result.stderr).map((line) => JSON.parse(line))
    expect(summary.map((row) => row.index)).toEqual([0, 1, 2, 3])
    expect(summary.reduce((sum, row) => sum + row.bytesIn, 0)).toBe(OBJECT.length)
  })

  it("a crashed worker fails the run with WorkerFailed, naming the chunk and the crash, with nothing left behind", async () => {
    planNext((n) => (n === 1 ? "crash" : "pass"))
    const result = await lambdaRun("cat", ["--concurrency", "1"])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/^s3split: chunk 1: Lambda function error \(Runtime\.ExitError\).*START RequestId/)
    expect(await S3Server.listKeys(client, BUCKET, "work/")).toEqual([])
  })

  it("a worker that times out fails the run with Sandbox.Timedout", async () => {
    plan = () => "pass"
    const result = await lambdaRun("sleep 8; cat", ["--concurrency", "4"])
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

  it("refuses local paths with the Lambda backend, in one line", async () => {
    const result = await cli(["run", "samples/access.log", "--chunks", "2", "--exec", "cat", "--backend", "lambda", "--work-prefix", `s3://${BUCKET}/work/`])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^s3split: with --backend lambda, SOURCE must be an s3:\/\/ URI/)
  })
})

describe("deploy", () => {
  it("creates the function from dist/lambda.zip (Node.js 22, index.handler), then updates its code", async () => {
    const env = { ...S3Server.credentialsEnv, AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint }
    const missingRole = await runCli(["deploy", "--function", "fresh-worker"], env)
    expect(missingRole.code).toBe(1)
    expect(missingRole.stderr).toMatch(/^s3split: function fresh-worker does not exist: give --role ARN to create it\n$/)
    const created = await runCli(["deploy", "--function", "fresh-worker", "--role", "arn:aws:iam::123456789012:role/worker", "--memory", "2048"], env)
    expect(created.stderr).toBe("")
    expect(created.stdout).toBe("created Lambda function fresh-worker\n")
    const zip = fs.readFileSync(path.join(ROOT, "dist", "lambda.zip"))
    const fn = lambda.functions().get("fresh-worker")!
    expect(fn.zip).toEqual(zip)
    expect(fn.configuration).toMatchObject({ Runtime: "nodejs22.x", Handler: "index.handler", MemorySize: 2048, Timeout: 900 })
    const updated = await runCli(["deploy", "--function", "fresh-worker"], env)
    expect(updated.stdout).toBe("updated Lambda function fresh-worker\n")
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
