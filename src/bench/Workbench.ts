/**
 * What the process-level suites (tools, memory) share: a scratch directory, the source file
 * (the user's, or a synthetic one written there), the local S3 server holding the same bytes,
 * the environment a child needs to reach that server (s3split and the AWS CLI alike), timed
 * runs of shell commands, and writing a report (Markdown, JSON, SVG) to the output directory,
 * the one way every suite writes its files.
 */
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type { Scope } from "effect/Scope"
import { createWriteStream } from "node:fs"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { formatBytes } from "../Size.js"
import { BenchError } from "./BenchError.js"
import * as LocalS3 from "./LocalS3.js"
import { blocks } from "./SyntheticObject.js"
import * as Timed from "./Timed.js"

/** The key of the source object in the local S3 server's bucket. */
export const SOURCE_KEY = "source.log"

export interface Workbench {
  /** A scratch directory, removed with the scope. */
  readonly tmp: string
  /** The source file, absolute, and its size. */
  readonly file: string
  readonly bytes: number
  /** The source in the local S3 server (`s3://BUCKET/source.log`) and the server's endpoint. */
  readonly s3Uri: string
  readonly endpoint: string
  /** The environment of every measured command: the server's credentials, the AWS CLI's settings. */
  readonly env: Record<string, string>
  /** Runs `command` under `/bin/sh -c` from the scratch directory and measures it. */
  readonly timed: (command: string) => Effect.Effect<Timed.Sample, BenchError, CommandExecutor>
  readonly meter: Timed.Meter
}

const failure = (what: string) => (error: unknown) =>
  new BenchError({ reason: `${what}: ${error instanceof Error ? error.message : String(error)}` })

/**
 * A workbench for the enclosing scope. With `file`, that file is the source; otherwise a
 * synthetic newline-delimited file of `size` bytes (seed `seed`) is written to the scratch
 * directory. The local S3 server starts and receives the same bytes.
 */
export const scoped = (options: { readonly file: string | undefined; readonly size: number; readonly seed: number }): Effect.Effect<Workbench, BenchError, Scope> =>
  Effect.gen(function*() {
    const tmp = yield* Effect.acquireRelease(
      Effect.try({ try: () => fs.mkdtempSync(path.join(os.tmpdir(), "s3split-bench-")), catch: failure("temporary directory") }),
      (directory) => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true }))
    )
    const file = options.file === undefined ? path.join(tmp, "source.log") : path.resolve(options.file)
    if (options.file === undefined) {
      yield* Effect.tryPromise({
        try: () => pipeline(Readable.from(blocks(options.size, options.seed)), createWriteStream(file)),
        catch: failure(`cannot write the ${formatBytes(options.size)} source`)
      })
    } else if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      return yield* new BenchError({ reason: `--file ${options.file} is not a file` })
    }
    const bytes = fs.statSync(file).size
    const s3 = yield* LocalS3.scoped
    yield* s3.uploadFile(SOURCE_KEY, file)
    // The AWS CLI reads its settings from a file: path-style requests, checksums only when required.
    const awsConfig = path.join(tmp, "aws-config")
    fs.writeFileSync(awsConfig, "[default]\ns3 =\n  addressing_style = path\n")
    const env = {
      ...LocalS3.credentialsEnv,
      AWS_CONFIG_FILE: awsConfig,
      AWS_REQUEST_CHECKSUM_CALCULATION: "when_required",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "when_required",
      AWS_PAGER: ""
    }
    const meter = Timed.defaultMeter()
    const report = path.join(tmp, "usage")
    return {
      tmp,
      file,
      bytes,
      s3Uri: `s3://${LocalS3.BUCKET}/${SOURCE_KEY}`,
      endpoint: s3.endpoint,
      env,
      meter,
      timed: (command) => Timed.timed(command, { cwd: tmp, env, report, meter })
    } satisfies Workbench
  })

/** Quotes `text` for `/bin/sh`. */
export const quote = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`)

/** A file of a report: its name in the output directory and its text. */
export interface ReportFile {
  readonly name: string
  readonly text: string
}

/** Writes `files` into `out` (created if needed); the absolute paths written. */
export const writeReport = (out: string, files: ReadonlyArray<ReportFile>) =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const directory = path.resolve(out)
    yield* fileSystem.makeDirectory(directory, { recursive: true })
    return yield* Effect.forEach(files, ({ name, text }) =>
      Effect.as(fileSystem.writeFileString(path.join(directory, name), text), path.join(directory, name)))
  }).pipe(Effect.mapError((error) => new BenchError({ reason: `cannot write the report to ${path.resolve(out)}: ${error.message}` })))

/** This machine in one line, for a report's heading. */
export const machine = (): string => {
  const cpus = os.cpus()
  return `${cpus.length} x ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${formatBytes(os.totalmem())} RAM, Node ${process.version}, ${os.platform()} ${os.release()}`
}
