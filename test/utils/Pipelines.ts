/**
 * The oracle of the merge tests and the pieces it is checked against: a command run over the
 * whole input (`/bin/sh -c`, `LC_ALL=C`), the input cut into N line-aligned pieces exactly as a
 * run cuts the object, the command run on each piece, and those outputs as `ChunkOutputs`
 * (in-memory streams delivered in small pieces, and temporary files).
 */
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ChunkOutputs } from "../../src/ChunkOutputs.js"
import { plan } from "../../src/Planner.js"
import { adversarialBytes, referenceChunks } from "./Reference.js"

/** The environment of every command in these tests: byte order, whatever the machine's locale. */
export const C_ENV: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C" }

/** `/bin/sh -c command` over `input`: its stdout. Throws unless it exits with 0. */
export const sh = (command: string, input: Uint8Array): Buffer => {
  const result = spawnSync("/bin/sh", ["-c", command], { input, env: C_ENV, maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status}: ${result.stderr.toString()}`)
  return result.stdout
}

/** `sh`, without waiting: the pieces of one property run at once. */
export const shAsync = (command: string, input: Uint8Array): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], { env: C_ENV, stdio: ["pipe", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (piece: Buffer) => out.push(piece))
    child.stderr.on("data", (piece: Buffer) => err.push(piece))
    child.stdin.on("error", () => undefined)
    child.stdin.end(input)
    child.once("error", reject)
    child.once("close", (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command} exited with ${code}: ${Buffer.concat(err).toString()}`)))
  })

/** `bytes` cut into `chunks` line-aligned pieces, as `run` cuts the object (the plan, then line ownership). */
export const linePieces = (bytes: Uint8Array, chunks: number): Array<Uint8Array> =>
  referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks }))

/** The number of lines of `bytes` (an unterminated last line counts). */
export const lineCount = (bytes: Uint8Array): number =>
  bytes.filter((byte) => byte === 0x0a).length + (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a ? 1 : 0)

/** The bytes of `piece` delivered `size` at a time (the merges must not care how they arrive). */
const inPieces = (bytes: Uint8Array, size: number) =>
  Stream.fromIterable(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)))

/**
 * `outputs` as a run's `ChunkOutputs`: `stream(i)` in pieces of `pieceSize` bytes (recording
 * each index opened in `opened`), `file(i)` a temporary file removed when its scope closes.
 */
export const memoryOutputs = (
  outputs: ReadonlyArray<Uint8Array>,
  options: { readonly pieceSize?: number; readonly opened?: Array<number> } = {}
): ChunkOutputs<never> => ({
  count: outputs.length,
  stream: (index) =>
    Stream.suspend(() => {
      options.opened?.push(index)
      return inPieces(outputs[index]!, options.pieceSize ?? 5)
    }),
  file: (index) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-merge-test-"))
        const file = path.join(dir, `output-${index}`)
        fs.writeFileSync(file, outputs[index]!)
        return file
      }),
      (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }))
    )
})

const ascii = (text: string) => Buffer.from(text, "latin1")

/**
 * Inputs for the properties: the adversarial shapes of the split tests (NUL, invalid UTF-8,
 * CRLF, blank runs, no final newline, long lines), and lines drawn from a few values so that
 * equal lines and keys meet across chunks (`uniq`, `sort -k2`, counts of `x`).
 */
export const mergeInputs: FastCheck.Arbitrary<Uint8Array> = FastCheck.oneof(
  adversarialBytes,
  FastCheck.tuple(
    FastCheck.array(
      FastCheck.constantFrom("a 1", "a 1", "b 10", "x 2", "x 2", "", "x", "b\r", "c 3\u0000", "A 02", " x 10", "-1 -1", "a 1 x"),
      { maxLength: 16 }
    ),
    FastCheck.boolean()
  ).map(([lines, finalNewline]) => ascii(lines.join("\n") + (finalNewline && lines.length > 0 ? "\n" : "")))
)

/** An input and a chunk count from 1 to a few more than its lines (at most 12: each chunk is a process). */
export const inputAndChunks: FastCheck.Arbitrary<[Uint8Array, number]> = mergeInputs.chain((bytes) =>
  FastCheck.tuple(FastCheck.constant(bytes), FastCheck.integer({ min: 1, max: Math.min(12, lineCount(bytes) + 3) }))
)
