/**
 * The side-by-side suite: s3split (a bundle, as an installed user runs it) beside the Unix
 * tool a user would pick for the same job, on the same newline-delimited file, in one run:
 * GNU `split -n l/N` for `split --out`, GNU `parallel --pipepart` (when installed) for `run`.
 * Runs alternate (each s3split variant, then the tool, then again), each under
 * `/usr/bin/time`, and the report is one Markdown table of medians: wall time, CPU seconds
 * (user + system, the commands' included), CPU seconds per GiB, peak RSS, and the ratio of each
 * variant's wall time to the tool's. `split --out` is checked byte for byte against GNU split.
 *
 *   npm run build && npx tsx src/bench/SideBySide.ts FILE [--chunks 16] [--jobs 2] [--runs 3]
 *     [--backend local,threads] [--cli LABEL=PATH[#BACKENDS] ...] [--only split,gzip,cat] [--cpus 0,1]
 *
 * `--cli` names the bundles to compare (default: this checkout's `dist/cli.mjs`, as `s3split`);
 * each runs with the backends after its `#`, or else with every `--backend` (`local` passes no
 * flag, so an older bundle without the option runs too). `--cpus` runs everything, the tools included, under `taskset -c CPUS`.
 * Apt: `apt-get install -y parallel time` for the tools this compares with.
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
    backend: { type: "string", default: "local" },
    cli: { type: "string", multiple: true },
    only: { type: "string", default: "split,gzip,cat" },
    cpus: { type: "string" }
  }
})
const file = positionals[0]
if (file === undefined) {
  throw new Error("usage: SideBySide.ts FILE [--chunks N] [--jobs J] [--runs R] [--backend local,threads] [--cli LABEL=PATH] [--only split,gzip,cat] [--cpus 0,1]")
}
const chunks = Number(values.chunks)
const jobs = Number(values.jobs)
const runs = Number(values.runs)
const backends = values.backend.split(",").map((name) => name.trim()).filter((name) => name !== "")
const only = new Set(values.only.split(",").map((name) => name.trim()))
/** `[LABEL=]PATH[#BACKEND,...]`: a bundle, its label, and the backends it runs with (default `--backend`). */
const bundles = (values.cli ?? [`s3split=${path.resolve(import.meta.dirname, "..", "..", "dist", "cli.mjs")}`]).map((spec) => {
  const [head, tail] = spec.split("#") as [string, string | undefined]
  const at = head.indexOf("=")
  return {
    label: at < 0 ? "s3split" : head.slice(0, at),
    cli: path.resolve(at < 0 ? head : head.slice(at + 1)),
    backends: tail === undefined ? backends : tail.split(",").map((name) => name.trim()).filter((name) => name !== "")
  }
})
for (const { cli } of bundles) if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`)
const gib = fs.statSync(file).size / 2 ** 30
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0
const work = fs.mkdtempSync(path.join(os.tmpdir(), "s3split-sbs-"))
const pin = values.cpus === undefined ? "" : `taskset -c ${values.cpus} `

/** Runs `command` in `sh -c` under /usr/bin/time, output discarded; its wall, CPU and peak RSS. */
const measure = (command: string): Sample => {
  const timing = path.join(work, "time")
  const done = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "-o", timing, "sh", "-c", `${pin}${command} > /dev/null`], { cwd: work, stdio: ["ignore", "ignore", "inherit"] })
  if (done.status !== 0) throw new Error(`failed (${done.status}): ${command}`)
  const [wall, user, system, rssKb] = fs.readFileSync(timing, "utf8").trim().split("\n").pop()!.split(" ").map(Number)
  return { wallS: wall!, cpuS: user! + system!, rssMB: rssKb! / 1024 }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
const parts = path.join(work, "parts")
const gnu = path.join(work, "gnu")

interface Job {
  readonly key: string
  readonly name: string
  /** s3split's arguments after the bundle (the backend flag is added per variant). */
  readonly ours: string
  readonly theirs: string | undefined
  readonly theirName: string
  readonly prepare?: () => void
  /** Checks the output of the run just measured. */
  readonly check?: () => void
}

const pipepart = (command: string) => has("parallel") ? `parallel --pipepart -a ${q(file)} --block -8 -j${jobs} -k ${q(command)}` : undefined
const JOBS: ReadonlyArray<Job> = [
  {
    key: "split",
    name: `split FILE --chunks ${chunks} --out DIR`,
    ours: `split ${q(file)} --chunks ${chunks} --out ${q(parts)}`,
    theirs: `split -n l/${chunks} ${q(file)} ${q(gnu + "/x")}`,
    theirName: `split -n l/${chunks}`,
    prepare: () => {
      fs.rmSync(parts, { recursive: true, force: true })
      fs.rmSync(gnu, { recursive: true, force: true })
      fs.mkdirSync(gnu)
    },
    check: () => {
      // The parts must be GNU split's, byte for byte (GNU split's of the same file, made here once).
      if (fs.readdirSync(gnu).length === 0) execFileSync("split", ["-n", `l/${chunks}`, file, path.join(gnu, "x")])
      const mine = fs.readdirSync(parts).filter((name) => name.startsWith("part-")).sort()
      const its = fs.readdirSync(gnu).sort()
      if (mine.length !== its.length) throw new Error(`split --out wrote ${mine.length} parts, GNU split ${its.length}`)
      mine.forEach((name, i) => execFileSync("cmp", [path.join(parts, name), path.join(gnu, its[i]!)]))
    }
  },
  {
    key: "gzip",
    name: `run FILE --chunks ${chunks} --concurrency ${jobs} --exec 'gzip -1 \\| wc -c'`,
    ours: `run ${q(file)} --chunks ${chunks} --concurrency ${jobs} --exec 'gzip -1 | wc -c'`,
    theirs: pipepart("gzip -1 | wc -c"),
    theirName: `parallel --pipepart -j${jobs}`
  },
  {
    key: "cat",
    name: `run FILE --chunks ${chunks} --exec cat`,
    ours: `run ${q(file)} --chunks ${chunks} --exec cat`,
    theirs: pipepart("cat"),
    theirName: `parallel --pipepart -j${jobs}`
  }
]

const variants = bundles.flatMap(({ backends, cli, label }) =>
  backends.map((backend) => ({
    label: `${label} (${backend})`,
    command: (args: string) => `node ${q(cli)} ${args}${backend === "local" ? "" : ` --backend ${backend}`}`
  }))
)

const rows: Array<string> = []
const cell = (samples: ReadonlyArray<Sample>) => {
  const cpu = median(samples.map((s) => s.cpuS))
  return `${median(samples.map((s) => s.wallS)).toFixed(2)} s | ${cpu.toFixed(2)} | ${(cpu / gib).toFixed(2)} | ${median(samples.map((s) => s.rssMB)).toFixed(0)} MB`
}
try {
  for (const job of JOBS.filter((job) => only.has(job.key))) {
    const ours = variants.map(() => [] as Array<Sample>)
    const theirs: Array<Sample> = []
    for (let i = 0; i < runs; i++) {
      variants.forEach((variant, v) => {
        job.prepare?.()
        ours[v]!.push(measure(variant.command(job.ours)))
        if (i === 0) job.check?.()
      })
      if (job.theirs !== undefined) {
        job.prepare?.()
        theirs.push(measure(job.theirs))
      }
    }
    const toolWall = theirs.length === 0 ? undefined : median(theirs.map((s) => s.wallS))
    variants.forEach((variant, v) => {
      const ratio = toolWall === undefined ? "n/a" : `${(median(ours[v]!.map((s) => s.wallS)) / toolWall).toFixed(2)}x`
      rows.push(`| \`${job.name}\` | ${variant.label} | ${cell(ours[v]!)} | ${ratio} |`)
      console.error(rows[rows.length - 1])
    })
    if (theirs.length > 0) {
      rows.push(`| \`${job.name}\` | ${job.theirName} | ${cell(theirs)} | 1.00x |`)
      console.error(rows[rows.length - 1])
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}

console.log(
  `Side by side on ${path.basename(file)} (${gib.toFixed(2)} GiB), N = ${chunks}, jobs ${jobs}, medians of ${runs} alternating runs, ${os.availableParallelism()} cores${values.cpus === undefined ? "" : `, taskset -c ${values.cpus}`}.`
)
console.log("")
console.log("| job | program | wall | CPU-s | CPU-s/GiB | peak RSS | wall vs the tool |")
console.log("| --- | --- | --- | --- | --- | --- | --- |")
for (const row of rows) console.log(row)
