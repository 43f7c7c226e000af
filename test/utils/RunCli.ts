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
