/**
 * `run --merge` and `--reduce` through the real command line, on the shipped sample: each
 * merge prints what the sequential pipeline prints (`sh -c CMD < sample`, `LC_ALL=C`), the
 * `--json` summary names the merge chosen, and misuse is one line on stderr. The merges
 * themselves are tested as properties in `Merge.test.ts`; this is the wiring.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { lines, runCli } from "./utils/RunCli.js"

const SAMPLE = path.resolve(import.meta.dirname, "../samples/access.log")
const C = { LC_ALL: "C" }

/** What `command` prints over the whole sample, run once, sequentially. */
const sequential = (command: string) =>
  execFileSync("/bin/sh", ["-c", command], { input: fs.readFileSync(SAMPLE), env: { ...process.env, ...C } }).toString("utf8")

const runMerged = (args: ReadonlyArray<string>) => runCli(["run", SAMPLE, "--chunks", "7", ...args], C)

describe("run --merge auto on the sample equals the sequential pipeline", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["cut -f2 | sort", "sort -m"],
    ["sort -t '\t' -k6,6 -n", "sort -m -t '\t' -k 6,6 -n"],
    ["wc -l", "sum"],
    ["wc", "sum"],
    ["grep -c ERROR", "sum"],
    ["cut -f2 | sort | uniq -c", "sort -m | uniq -c"],
    ["cut -f2 | uniq", "uniq (boundary merge)"],
    ["head -n 5", "head -n 5"],
    ["tail -n 5", "tail -n 5"]
  ]
  for (const [command, merge] of cases) {
    it(`${command} (merged by ${merge})`, async () => {
      const result = await runMerged(["--exec", command, "--merge", "auto", "--json"])
      expect(result.stderr.split("\n")[0]).toBe(JSON.stringify({ merge }))
      expect(result.code).toBe(0)
      expect(result.stdout).toBe(sequential(command))
    }, 120_000)
  }

  it("with threads as the workers too", async () => {
    const result = await runMerged(["--exec", "cut -f3 | sort", "--merge", "auto", "--backend", "threads"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(sequential("cut -f3 | sort"))
  }, 120_000)
})

describe("run --reduce, --merge sum, --header", () => {
  it("--reduce 'sort -m \"$@\"' after sort equals sort", async () => {
    const result = await runMerged(["--exec", "sort", "--reduce", "sort -m \"$@\""])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(sequential("sort"))
  }, 120_000)

  it("--merge sum adds awk's counts; outputs of different shapes fail with one line naming a chunk", async () => {
    const counted = await runMerged(["--exec", "awk '/ERROR/ { e++ } END { print e + 0, NR }'", "--merge", "sum"])
    expect(counted.code).toBe(0)
    expect(counted.stdout).toBe(sequential("awk '/ERROR/ { e++ } END { print e + 0, NR }'"))
    const mismatched = await runMerged(["--exec", "cat", "--merge", "sum"])
    expect(mismatched.code).not.toBe(0)
    expect(mismatched.stdout).toBe("")
    expect(lines(mismatched.stderr)).toHaveLength(1)
    expect(mismatched.stderr).toMatch(/^s3split: merge: chunk \d+: /)
  }, 120_000)

  it("--header 1: cat gives the source; a filter that keeps the header prints it once", async () => {
    const source = fs.readFileSync(SAMPLE, "utf8")
    const copied = await runMerged(["--exec", "cat", "--header", "1"])
    expect(copied.code).toBe(0)
    expect(copied.stdout).toBe(source)
    const filter = "awk 'NR == 1 || /ERROR/'"
    const filtered = await runMerged(["--exec", filter, "--header", "1"])
    expect(filtered.code).toBe(0)
    expect(filtered.stdout).toBe(sequential(filter))
  }, 120_000)

  it("misuse is one line: an unknown mode, --reduce with --merge sum", async () => {
    for (
      const [args, pattern] of [
        [["--exec", "cat", "--merge", "sorted"], /--merge must be concat, sum or auto/],
        [["--exec", "sort", "--merge", "sum", "--reduce", "sort -m \"$@\""], /either --merge sum or --reduce/]
      ] as const
    ) {
      const result = await runMerged(args)
      expect(result.code).not.toBe(0)
      expect(result.stdout).toBe("")
      expect(lines(result.stderr)).toHaveLength(1)
      expect(result.stderr).toMatch(pattern)
    }
  }, 120_000)
})
