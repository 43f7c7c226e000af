/**
 * `run` with a local work directory: the output that is due streams on while its command
 * produces it, byte for byte what the sequential pipeline gives, and a merge that completes
 * early stops the chunks it did not need.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import { plan } from "../src/Planner.js"
import * as Report from "../src/Report.js"
import { expectSameBytes, fibers, runLocal, sequentialOutputs, threads, workRoot } from "./utils/LocalRun.js"
import { liveGroups, recordingGroup } from "./utils/Processes.js"
import { referenceChunks } from "./utils/Reference.js"
import { adversarialBytes } from "./utils/Reference.js"
import { lines } from "./utils/RunCli.js"

const work = workRoot("runstream")
afterAll(work.remove)

const numbered = (count: number) => Buffer.from(Array.from({ length: count }, (_, i) => `${i}\n`).join(""))

describe("the output that is due streams while its command runs", () => {
  for (const [name, layer] of [["fibers", fibers], ["threads", threads]] as const) {
    it.live(`${name}: chunk 0's first bytes arrive before any command has exited`, () =>
      Effect.gen(function*() {
        const dir = work.fresh()
        const gate = path.join(dir, "gate")
        const bytes = numbered(3000)
        // Every command prints its chunk, then waits for the gate, which only the reader of the
        // merged output opens, on its first piece: the run can end only if that piece arrived
        // while chunk 0's command was still running.
        const command = `cat; while [ ! -e '${gate}' ]; do sleep 0.01; done; echo after`
        let seenAtGate: Buffer | undefined
        const received: Array<Uint8Array> = []
        const { bytes: merged } = yield* runLocal(dir, bytes, 3, command, {
          concurrency: 3,
          onPiece: (piece) => {
            received.push(piece)
            if (seenAtGate === undefined) {
              seenAtGate = Buffer.concat(received)
              fs.writeFileSync(gate, "")
            }
          }
        })
        const chunks = referenceChunks(bytes, plan(bytes.length, { _tag: "Chunks", chunks: 3 }))
        expectSameBytes(merged, Buffer.concat(chunks.flatMap((chunk) => [chunk, Buffer.from("after\n")])))
        // What had arrived when the gate opened is part of chunk 0's own bytes, without "after".
        expect(seenAtGate!.length).toBeGreaterThan(0)
        expectSameBytes(seenAtGate!, chunks[0]!.subarray(0, seenAtGate!.length))
        expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
      }).pipe(Effect.provide(layer)), 60_000)
  }
})

describe("streamed outputs are byte-exact", () => {
  it.live("for any shape, N and command, the merged output is the sequential pipeline's (with or without reused read buffers)", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(fibers)
      // `dd bs=7` writes its output in many small pieces; the last one writes more than one
      // read of the follower (1 MiB) after its input.
      const commands = ["cat", "dd bs=7 status=none", "tr a-z A-Z; head -c 1200000 /dev/zero | tr '\\0' z"]
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(
            adversarialBytes,
            FastCheck.integer({ min: 1, max: 9 }),
            FastCheck.constantFrom(...commands),
            FastCheck.boolean(),
            (bytes, chunks, command, copying) =>
              Effect.runPromise(Effect.gen(function*() {
                const dir = work.fresh()
                const { bytes: merged, results } = yield* runLocal(dir, bytes, chunks, command, { copying })
                expectSameBytes(merged, Buffer.concat(sequentialOutputs(bytes, chunks, command)))
                expect(results.map((result) => Option.map(result, (r) => r.index))).toEqual(
                  Array.from({ length: chunks }, (_, i) => Option.some(i))
                )
                expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
                fs.rmSync(dir, { recursive: true, force: true })
              }).pipe(Effect.provide(context)))
          ),
          { numRuns: 12 }
        )
      )
    }).pipe(Effect.scoped), 180_000)
})

describe("a merge that completes early ends the run", () => {
  it.live("chunks it did not need are stopped or never started, and --json reports them skipped", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const groups = path.join(dir, "groups")
      // Chunk 0 prints its first line and ends; every other chunk would sleep for 1000 s.
      const command = recordingGroup(groups, `IFS= read -r first; echo "$first"; [ "$first" = 0 ] || exec sleep 1000`)
      const { bytes: merged, results } = yield* runLocal(dir, numbered(100), 4, command, {
        concurrency: 2,
        merge: (outputs) => outputs.stream(0)
      })
      expect(merged.toString("utf8")).toBe("0\n")
      expect(Option.map(results[0]!, (result) => result.index)).toEqual(Option.some(0))
      expect(results.slice(1).every(Option.isNone)).toBe(true)
      expect(lines(Report.resultLines(results)).slice(1).map((line) => JSON.parse(line))).toEqual([
        { index: 1, skipped: true },
        { index: 2, skipped: true },
        { index: 3, skipped: true }
      ])
      // Chunk 3 cannot have started: chunks 1 and 2 held both places until the end.
      expect(lines(fs.readFileSync(groups, "utf8")).length).toBeLessThanOrEqual(3)
      expect(liveGroups(groups)).toEqual([])
      expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
    }).pipe(Effect.provide(fibers)), 60_000)

  it.live("a merge that stops in the middle of an output stops that output's command too", () =>
    Effect.gen(function*() {
      const dir = work.fresh()
      const groups = path.join(dir, "groups")
      const bytes = numbered(20_000)
      const { bytes: merged, results } = yield* runLocal(dir, bytes, 2, recordingGroup(groups, "cat; exec sleep 1000"), {
        merge: (outputs) => Stream.take(outputs.stream(0), 1)
      })
      expect(merged.length).toBeGreaterThan(0)
      expectSameBytes(merged, bytes.subarray(0, merged.length))
      expect(results.every(Option.isNone)).toBe(true)
      expect(liveGroups(groups)).toEqual([])
      expect(fs.readdirSync(path.join(dir, "work"))).toEqual([])
    }).pipe(Effect.provide(fibers)), 60_000)
})
