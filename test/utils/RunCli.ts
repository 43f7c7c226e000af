/**
 * Runs the real command line (`src/main.ts` under tsx) in a child process, asynchronously so
 * servers in the test process keep serving, and collects its exit code and output.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const ROOT = path.resolve(import.meta.dirname, "../..")

/** Starts the command line; `result` settles when it exits. */
export const startCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const result = new Promise<CliResult>((resolve, reject) => {
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (data: Buffer) => stdout.push(data))
    child.stderr.on("data", (data: Buffer) => stderr.push(data))
    child.on("error", reject)
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") }))
  })
  return { child, result }
}

export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<CliResult> =>
  startCli(args, env).result

/** The non-empty lines of a text. */
export const lines = (text: string) => text.split("\n").filter((line) => line.length > 0)

/** A bash function `s3split` that runs the command line, for pipelines (`s3split run ... | head -c 10`). */
const SHELL_FUNCTION = `s3split() { '${process.execPath}' --import tsx '${path.join(ROOT, "src/main.ts")}' "$@"; }`

/**
 * Runs `pipeline` under bash (where `s3split` runs the command line) and reports the exit
 * status of its first stage with the pipeline's stdout and stderr.
 */
export const runPipeline = (pipeline: string, env: Record<string, string> = {}) =>
  new Promise<{ readonly status: number; readonly stdout: string; readonly stderr: string }>((resolve, reject) => {
    const child = spawn("bash", ["-c", `${SHELL_FUNCTION}\n${pipeline}; echo "status=\${PIPESTATUS[0]}" >&3`], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe", "pipe"]
    })
    const out: Record<number, Array<Buffer>> = { 1: [], 2: [], 3: [] }
    for (const fd of [1, 2, 3] as const) (child.stdio[fd] as NodeJS.ReadableStream).on("data", (data: Buffer) => out[fd]!.push(data))
    child.on("error", reject)
    child.on("close", () => {
      const status = /status=(\d+)/.exec(Buffer.concat(out[3]!).toString("utf8"))
      resolve({
        status: status === null ? -1 : Number(status[1]),
        stdout: Buffer.concat(out[1]!).toString("utf8"),
        stderr: Buffer.concat(out[2]!).toString("utf8")
      })
    })
  })
