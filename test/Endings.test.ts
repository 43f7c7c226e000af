/**
 * Every way a run ends, through the real command line in a subprocess: exit status, exactly
 * one stderr line (none for a closed stdout), no process of the run's commands alive, no
 * temporary directory left, nothing committed after a failure.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { liveGroups, recordingGroup, waitForLines } from "./utils/Processes.js"
import { lines, runCli, runPipeline, startCli } from "./utils/RunCli.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-endings-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))
let counter = 0
const fresh = (name: string) => {
  const dir = path.join(work, `${name}-${counter++}`)
  fs.mkdirSync(dir)
  return dir
}

const text = Array.from({ length: 40_000 }, (_, i) => `${i}\t${i % 7 === 0 ? "ERROR" : "INFO"}\tmessage ${i}`).join("\n") + "\n"
const object = path.join(work, "object.log")
fs.writeFileSync(object, text)

/** The run's own temporary directories under `tmp` (tsx keeps a cache there too). */
const workDirs = (tmp: string) => fs.readdirSync(tmp).filter((name) => name.startsWith("s3split-"))

describe("a closed stdout ends the run quietly with status 141", () => {
  it("run ... | head -c 10: no message, no temp dir, no command left running", async () => {
    const tmp = fresh("tmp")
    const groups = path.join(tmp, "groups")
    const result = await runPipeline(
      // Chunk 0 (the one holding line 0) is done at once; the others hold on for 30 s.
      `s3split run '${object}' --chunks 4 --exec "${recordingGroup(groups, "f=\\$(mktemp -p '" + tmp + "'); cat > \\$f; cat \\$f; grep -q '^0[[:space:]]' \\$f || sleep 30; rm \\$f")}" | head -c 10`,
      { TMPDIR: tmp }
    )
    expect(result.status).toBe(141)
    expect(result.stdout).toBe(text.slice(0, 10))
    expect(result.stderr).toBe("")
    expect(workDirs(tmp)).toEqual([])
    expect(liveGroups(groups)).toEqual([])
    expect(lines(fs.readFileSync(groups, "utf8"))).toHaveLength(4)
  })

  it("split --json | head -1 with many chunks: the first row, no message", async () => {
    const result = await runPipeline(`s3split split '${object}' --chunks 1500 --json | head -1`)
    expect(result.status).toBe(141)
    expect(JSON.parse(result.stdout)).toMatchObject({ index: 0, start: 0 })
    expect(result.stderr).toBe("")
  })
})

describe("signals interrupt the run and clean up", () => {
  for (const [signal, status] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal} during run: status ${status}, one line, no command left, no temp dir, nothing committed`, async () => {
      const tmp = fresh("tmp")
      const groups = path.join(tmp, "groups")
      const target = path.join(tmp, "merged.txt")
      const { child, result } = startCli(
        ["run", object, "--chunks", "3", "--exec", recordingGroup(groups, "cat; sleep 30"), "--out", target],
        { TMPDIR: tmp }
      )
      await waitForLines(groups, 3)
      child.kill(signal)
      const ended = await result
      expect(ended.code).toBe(status)
      expect(lines(ended.stderr)).toEqual(["s3split: interrupted"])
      expect(liveGroups(groups)).toEqual([])
      expect(workDirs(tmp)).toEqual([])
      expect(fs.readdirSync(tmp).filter((name) => name.startsWith("merged"))).toEqual([])
    })
  }
})

describe("a failing chunk fails the run at once", () => {
  it("with --chunks 6 --concurrency 2, no command starts after the failure and the error is that chunk's", async () => {
    const tmp = fresh("tmp")
    const groups = path.join(tmp, "groups")
    // Chunk 1 fails at once; chunk 0 would take 30 s. Only those two ever start.
    const lines6 = Array.from({ length: 6 }, (_, i) => (i === 1 ? "FAIL" : `line ${i}`)).join("\n") + "\n"
    const source = path.join(tmp, "six.txt")
    fs.writeFileSync(source, lines6)
    const result = await runCli(
      ["run", source, "--chunks", "6", "--concurrency", "2", "--exec", recordingGroup(groups, "if grep -q FAIL; then echo boom >&2; exit 3; fi; sleep 30")],
      { TMPDIR: tmp }
    )
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toEqual(["s3split: chunk 1: command exited with code 3: boom"])
    expect(lines(fs.readFileSync(groups, "utf8"))).toHaveLength(2)
    expect(liveGroups(groups)).toEqual([])
    expect(workDirs(tmp)).toEqual([])
  })
})

describe("limits are checked before any work", () => {
  it("--chunks 5000000000 is one line naming the bound", async () => {
    const result = await runCli(["split", object, "--chunks", "5000000000"])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toEqual(["s3split: --chunks must be at most 1000000; got 5000000000"])
  })

  it("a --chunk-size that gives more than a million chunks is one line naming the bound", async () => {
    const big = path.join(work, "sparse.bin")
    fs.writeFileSync(big, "")
    fs.truncateSync(big, 2_000_000)
    const result = await runCli(["split", big, "--chunk-size", "1"])
    expect(result.code).toBe(1)
    expect(lines(result.stderr)).toHaveLength(1)
    expect(result.stderr).toMatch(/gives 2000000 chunks .* at most 1000000/)
  })
})
