/**
 * `Exec`: a command over a byte stream ends when the command exits, whatever it leaves running
 * in the background, and what it left is killed with it.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as LocalOutput from "../src/LocalOutput.js"
import { workRoot } from "./utils/LocalRun.js"
import { processesWith } from "./utils/Processes.js"

const work = workRoot("exec")
afterAll(work.remove)

describe("Exec.pipeInto (through LocalOutput.write)", () => {
  it.live("a command that leaves a process behind holding its stderr ends the chunk, and the leftover is killed", () =>
    Effect.gen(function*() {
      const output = path.join(work.fresh(), "out")
      // A duration no other test uses, to find the leftover by its command line.
      const seconds = `${70 + (process.pid % 7)}.321`
      const size = yield* LocalOutput.write(output, `sleep ${seconds} & cat`, 0, Stream.make(new TextEncoder().encode("a\nb\n")))
      expect(size).toBe(4)
      expect(fs.readFileSync(output, "latin1")).toBe("a\nb\n")
      expect(processesWith(seconds)).toEqual([])
    }), 45_000)
})
