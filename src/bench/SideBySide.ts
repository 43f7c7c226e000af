/**
 * The side-by-side suite: s3split (the bundle, as an installed user runs it) beside the Unix
 * tool a user would pick for the same job, on the same newline-delimited file, in one run:
 * GNU `split -n l/N` for `split --out`, GNU `parallel --pipepart` (when installed) for `run`.
 * Runs alternate (s3split, tool, s3split, ...), each under `/usr/bin/time`, and the report is
 * one Markdown table of medians: wall time, CPU seconds per GiB, peak RSS, and the ratio of
 * s3split's wall time to the tool's. `split --out` is checked byte for byte against GNU split.
 *
 *   npm run build && npx tsx src/bench/SideBySide.ts FILE [--chunks 16] [--jobs 2] [--runs 3] [--executor fibers|threads]
 *
 * (`--executor threads` sets S3SPLIT_EXECUTOR=threads for s3split's runs.) Apt: `apt-get install
 * -y parallel time` for the tools this compares with.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"

interface Sample {
  readonly wallS: number
  readonly cpuS: number
  readonly rssMB: number
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    chunks: { type: "string", default: "16" },
    jobs: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    executor: { type: "string", default: "fibers" }
  }
})
const file = positionals[0]
if (file === undefined) throw new Error("usage: SideBySide.ts FILE [--chunks N] [--jobs J] [--runs R] [--executor fibers|threads]")
const chunks = Number(values.chunks)
const jobs = Number(values.jobs)
const runs = Number(values.runs)
const cli = path.resolve(import.meta.dirname, "..", "..", "dist", "cli.mjs")
if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`)
const gib = fs.statSync(file).size / 2 ** 30
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0
const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-sbs-"))
const env = { ...process.env, ...(values.executor === "threads" ? { S3SPLIT_EXECUTOR: "threads" } : {}) }

/** Runs `command` in `sh -c` under /usr/bin/time, output discarded; its wall, CPU and peak RSS. */
const measure = (command: string, cwd = work): Sample => {
  const timing = path.join(work, "time")
  const done = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "-o", timing, "sh", "-c", `${command} > /dev/null`], { cwd, env, stdio: "ignore" })
  if (done.status !== 0) throw new Error(`failed (${done.status}): ${command}`)
  const [wall, user, system, rssKb] = fs.readFileSync(timing, "utf8").trim().split("\n").pop()!.split(" ").map(Number)
  return { wallS: wall!, cpuS: user! + system!, rssMB: rssKb! / 1024 }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Job {
  readonly name: string
  readonly ours: string
  readonly theirs: string | undefined
  readonly prepare?: () => void
}

const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
const parts = path.join(work, "parts")
const gnu = path.join(work, "gnu")
const pipepart = (command: string) => has("parallel") ? `parallel --pipepart -a ${q(file)} --block -8 -j${jobs} -k ${q(command)}` : undefined
const JOBS: ReadonlyArray<Job> = [
  {
    name: `split --out DIR (N=${chunks})`,
    ours: `node ${q(cli)} split ${q(file)} --chunks ${chunks} --out ${q(parts)}`,
    theirs: `split -n l/${chunks} ${q(file)} ${q(gnu + "/x")}`,
    prepare: () => {
      fs.rmSync(parts, { recursive: true, force: true })
      fs.rmSync(gnu, { recursive: true, force: true })
      fs.mkdirSync(gnu)
    }
  },
  {
    name: `run --exec 'gzip -1 | wc -c' (j=${jobs})`,
    ours: `node ${q(cli)} run ${q(file)} --chunks ${chunks} --concurrency ${jobs} --exec 'gzip -1 | wc -c'`,
    theirs: pipepart("gzip -1 | wc -c")
  },
  {
    name: "run --exec cat",
    ours: `node ${q(cli)} run ${q(file)} --chunks ${chunks} --exec cat`,
    theirs: pipepart("cat")
  }
]

const rows: Array<string> = []
try {
  for (const job of JOBS) {
    const ours: Array<Sample> = []
    const theirs: Array<Sample> = []
    for (let i = 0; i < runs; i++) {
      job.prepare?.()
      ours.push(measure(job.ours))
      if (job.theirs !== undefined) theirs.push(measure(job.theirs))
    }
    if (job.prepare !== undefined) {
      // The parts must be GNU split's, byte for byte.
      const mine = fs.readdirSync(parts).filter((name) => name.startsWith("part-")).sort()
      const its = fs.readdirSync(gnu).sort()
      mine.forEach((name, i) => execFileSync("cmp", [path.join(parts, name), path.join(gnu, its[i]!)]))
    }
    const cell = (samples: ReadonlyArray<Sample>) =>
      samples.length === 0
        ? "n/a | n/a | n/a"
        : `${median(samples.map((s) => s.wallS)).toFixed(2)} s | ${(median(samples.map((s) => s.cpuS)) / gib).toFixed(2)} | ${median(samples.map((s) => s.rssMB)).toFixed(0)} MB`
    const ratio = theirs.length === 0 ? "n/a" : `${(median(ours.map((s) => s.wallS)) / median(theirs.map((s) => s.wallS))).toFixed(2)}x`
    rows.push(`| ${job.name} | ${cell(ours)} | ${cell(theirs)} | ${ratio} |`)
    console.error(rows[rows.length - 1])
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}

console.log(`Side by side on ${path.basename(file)} (${gib.toFixed(2)} GiB), N = ${chunks}, executor ${values.executor}, medians of ${runs} alternating runs, ${os.availableParallelism()} cores.`)
console.log("")
console.log("| job | s3split wall | s3split CPU-s/GiB | s3split peak RSS | tool wall | tool CPU-s/GiB | tool peak RSS | ratio |")
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (const row of rows) console.log(row)
