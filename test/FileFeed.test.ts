/**
 * `run` from a local file to a local work directory: each command reads its chunk from a `dd`
 * reader over the file (`FileFeed`), never through this process. Outputs stay the sequential
 * pipeline's byte for byte, a file changed during the run fails it with `ObjectChangedError`
 * and leaves nothing, and an interrupted run leaves no reader and no command alive.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import * as FileFeed from "../src/FileFeed.js"
import * as LocalOutput from "../src/LocalOutput.js"
import { expectSameBytes, fibers, runLocal, sequentialOutputs, threads, workRoot } from "./utils/LocalRun.js"
import { liveGroups, processesWith, recordingGroup, waitForLines } from "./utils/Processes.js"
import { plan } from "../src/Planner.js"
import { adversarialBytes, referenceChunks } from "./utils/Reference.js"

const work = workRoot("filefeed")
afterAll(work.remove)

const backends = [["fibers", fibers], ["threads", threads]] as const

/** The tag of the first typed failure of `exit`, if it failed with one. */
const failureTag = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.map(Cause.failureOption(exit.cause), (error) => (error as { readonly _tag: string })._tag) : Option.none()

describe("outputs read through the file feed are byte-exact", () => {
  for (const [name, layer] of backends) {
    it.live(`${name}: for any shape and N (N > lines included), every command's output is the sequential pipeline's`, () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(layer)
        // `head -c 3` stops reading early; `wc -c` and `od` show every byte, NUL and CR included.
        const commands = ["cat", "wc -c", "head -c 3", "od -An -c", "printf '<%s>' \"$S3SPLIT_OFFSET\"; cat"]
        yield* Effect.promise(() =>
          FastCheck.assert(
            FastCheck.asyncProperty(
              adversarialBytes,
              FastCheck.integer({ min: 1, max: 12 }),
              FastCheck.constantFrom(...commands),
              (bytes, chunks, command) =>
                Effect.runPromise(Effect.gen(function*() {
                  const dir = work.fresh()
                  const { bytes: merged, results } = yield* runLocal(dir, bytes, chunks, command)
                  const expected = command.startsWith("printf")
                    ? Buffer.concat(offsetsAndChunks(bytes, chunks))
                    : Buffer.concat(sequentialOutputs(bytes, chunks, command))
                  expectSameBytes(merged, expected)
                  // Each chunk's input counts its resolved range: together, the whole object.
                  const bytesIn = results.reduce((sum, result) => sum + Option.match(result, { onNone: () => 0, onSome: (r) => r.bytesIn }), 0)
                  expect(bytesIn).toBe(bytes.length)
                  expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
                  fs.rmSync(dir, { recursive: true, force: true })
                }).pipe(Effect.provide(context)))
            ),
            { numRuns: 12 }
          )
        )
      }).pipe(Effect.scoped), 240_000)
  }

  it.live("a chunk far larger than a pipe's buffer whose command stops reading early succeeds (the reader's broken pipe is no error)", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const bytes = Buffer.from(Array.from({ length: 400_000 }, (_, i) => `line ${i}\n`).join(""))
      const { bytes: merged } = yield* runLocal(dir, bytes, 2, "head -c 5")
      const chunks = referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks: 2 }))
      expectSameBytes(merged, Buffer.concat(chunks.map((chunk) => chunk.subarray(0, 5))))
    }).pipe(Effect.provide(fibers)), 60_000)
})

/** What `printf '<%s>' "$S3SPLIT_OFFSET"; cat` prints for each reference chunk, sequentially. */
const offsetsAndChunks = (bytes: Uint8Array, chunks: number) => {
  const outputs = sequentialOutputs(bytes, chunks, "cat")
  let offset = 0
  // A chunk that owns no line starts where the next line starts: after the chunks before it.
  return outputs.flatMap((output) => {
    const start = offset
    offset += output.length
    return [Buffer.from(`<${start}>`), output]
  })
}

describe("a source that changes during the run", () => {
  for (const [name, layer] of backends) {
    it.live(`${name}: a file appended to while its chunk's command runs fails with ObjectChangedError, and no output is left`, () =>
      Effect.gen(function*() {
        const dir = work.fresh()
        const source = path.join(dir, "source")
        // The one chunk's reader has passed the version check; the command then changes the file.
        const exit = yield* Effect.exit(runLocal(dir, Buffer.from("a\nb\nc\n"), 1, `cat; printf 'd\\n' >> '${source}'`))
        expect(failureTag(exit)).toEqual(Option.some("ObjectChangedError"))
        expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
      }).pipe(Effect.provide(layer)), 60_000)
  }
})

describe("an interrupted run", () => {
  for (const [name, layer] of backends) {
    it.live(`${name}: leaves no reader, no command and no work file once the run's layers are released`, () =>
      Effect.gen(function*() {
        const dir = work.fresh()
        const source = path.join(dir, "source")
        const groups = path.join(dir, "groups")
        // 4 MiB per chunk: more than a pipe holds, so each reader waits on a command that never reads.
        const bytes = Buffer.alloc(8 * 1024 * 1024, "0123456789abcde\n")
        yield* Effect.gen(function*() {
          const fiber = yield* Effect.fork(runLocal(dir, bytes, 2, recordingGroup(groups, "exec sleep 1000"), { concurrency: 2 }))
          yield* Effect.promise(() => waitForLines(groups, 2))
          while (processesWith(`if=${source}`).length < 2) yield* Effect.sleep("20 millis")
          yield* Fiber.interrupt(fiber)
        }).pipe(Effect.provide(layer))
        expect(processesWith(`if=${source}`)).toEqual([])
        expect(liveGroups(groups)).toEqual([])
        expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
      }), 60_000)
  }
})

describe("FileFeed.feed", () => {
  it.live("a reader that cannot read its file fails with StoreError naming the range and dd's message", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const output = path.join(dir, "out")
      const missing = path.join(dir, "missing")
      const exit = yield* Effect.exit(LocalOutput.writeWith(
        output,
        FileFeed.feed({ path: missing, range: { start: 0, end: 10 }, header: undefined, command: "cat", index: 0, env: {}, verify: Effect.void })
      ))
      expect(failureTag(exit)).toEqual(Option.some("StoreError"))
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toMatch(/bytes 0-10 exited with code 1: .*No such file/)
      expect(fs.existsSync(output)).toBe(false)
    }), 30_000)

  it.live("the header comes first, then exactly the range", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const output = path.join(dir, "out")
      const file = path.join(dir, "file")
      fs.writeFileSync(file, "h1\nh2\nabc\ndef\nghi\n")
      const size = yield* LocalOutput.writeWith(
        output,
        FileFeed.feed({ path: file, range: { start: 10, end: 14 }, header: Buffer.from("h1\n\0\r\n"), command: "cat", index: 0, env: {}, verify: Effect.void })
      )
      expect(fs.readFileSync(output).toString("latin1")).toBe("h1\n\0\r\ndef\n")
      expect(size).toBe(10)
    }), 30_000)

  it.live("a failing command is the command's error (its status and stderr), even when its reader failed too", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const file = path.join(dir, "file")
      fs.writeFileSync(file, "a\nb\n")
      const run = (source: string, command: string) =>
        Effect.flip(LocalOutput.writeWith(
          path.join(dir, "out"),
          FileFeed.feed({ path: source, range: { start: 0, end: 4 }, header: undefined, command, index: 3, env: {}, verify: Effect.void })
        ))
      const failed = yield* run(file, "cat >/dev/null; echo broken >&2; exit 7")
      expect(failed._tag).toBe("WorkerFailedError")
      expect(failed.message).toBe("chunk 3: command exited with code 7: broken")
      const both = yield* run(path.join(dir, "missing"), "cat >/dev/null; exit 5")
      expect(both.message).toBe("chunk 3: command exited with code 5")
    }), 30_000)

  it.live("a command that leaves a process behind holding its output ends the chunk, and the leftover is killed", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const file = path.join(dir, "file")
      fs.writeFileSync(file, "a\nb\n")
      const marker = `${60 + (process.pid % 7)}.123`
      yield* LocalOutput.writeWith(
        path.join(dir, "out"),
        FileFeed.feed({ path: file, range: { start: 0, end: 4 }, header: undefined, command: `sleep ${marker} & cat`, index: 0, env: {}, verify: Effect.void })
      )
      expect(fs.readFileSync(path.join(dir, "out"), "latin1")).toBe("a\nb\n")
      expect(processesWith(marker)).toEqual([])
    }), 45_000)

  it.effect("dd with byte offsets is available on this machine (the feed is what the tests above exercise)", () =>
    Effect.map(FileFeed.available, (available) => expect(available).toBe(true)))
})
