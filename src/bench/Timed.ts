/**
 * One shell command run as a user runs it, measured from outside: wall time (taken here),
 * CPU seconds (user + system of the whole process tree: the command, its shell, the programs
 * it starts) and peak RSS (of the largest single process in the tree, as the kernel counts it
 * in `getrusage(RUSAGE_CHILDREN)`). GNU time (`/usr/bin/time -f`) reads them when installed;
 * otherwise a three-line python3 wrapper reads the same `getrusage`. The command runs in its
 * own process group, killed when the measurement is interrupted.
 */
import * as Command from "@effect/platform/Command"
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { BenchError } from "./BenchError.js"

/** What one run of a command cost. */
export interface Sample {
  readonly wallMs: number
  /** User + system CPU seconds of the command and all its descendants. */
  readonly cpuSeconds: number
  /** The largest resident set of any one process of the tree, in bytes. */
  readonly peakRssBytes: number
}

/** How the tree's resource usage is read. */
export type Meter = "gnu-time" | "python3"

const GNU_TIME = "/usr/bin/time"

/** GNU time's format: elapsed, user, system seconds and peak RSS in KiB, one line. */
const FORMAT = "%e %U %S %M"

/** The same four numbers as GNU time, from python3's `resource` module. */
const PYTHON = [
  "import resource, subprocess, sys",
  "code = subprocess.run(['/bin/sh', '-c', sys.argv[2]]).returncode",
  "u = resource.getrusage(resource.RUSAGE_CHILDREN)",
  "open(sys.argv[1], 'w').write('0 %f %f %d\\n' % (u.ru_utime, u.ru_stime, u.ru_maxrss))",
  "sys.exit(code if code >= 0 else 128 - code)"
].join("\n")

/** GNU time when it is installed, else python3 (which every machine of this kind has). */
export const defaultMeter = (): Meter => (fs.existsSync(GNU_TIME) ? "gnu-time" : "python3")

/** How much of a failed command's stderr goes into the error: its end says why. */
const TAIL = 800

export interface TimedOptions {
  readonly cwd: string
  /** Added to this process's environment. */
  readonly env?: Record<string, string>
  /** A scratch file for the meter's report (overwritten). */
  readonly report: string
  readonly meter?: Meter
}

/**
 * Runs `command` under `/bin/sh -c` with stdin closed and stdout discarded (a command that
 * wants its output redirects it itself), and measures it. Fails with `BenchError` (naming the
 * command, its exit status and the end of its stderr) when it exits non-zero.
 */
export const timed = (command: string, options: TimedOptions): Effect.Effect<Sample, BenchError, CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const meter = options.meter ?? defaultMeter()
    fs.rmSync(options.report, { force: true })
    // Stdout goes to /dev/null from inside the shell, so the tree has no extra process for it.
    const script = `exec > /dev/null\n${command}`
    const argv = meter === "gnu-time"
      ? [GNU_TIME, "-f", FORMAT, "-o", options.report, "/bin/sh", "-c", script]
      : ["python3", "-c", PYTHON, options.report, script]
    const started = process.hrtime.bigint()
    const child = yield* Command.start(
      Command.make(argv[0]!, ...argv.slice(1)).pipe(
        Command.workingDirectory(options.cwd),
        Command.env(options.env ?? {}),
        // Stdin is closed at once: nothing measured here reads it.
        Command.feed("")
      )
    )
    const [stderr, , code] = yield* Effect.all([
      Stream.mkString(Stream.decodeText(child.stderr)),
      Stream.runDrain(child.stdout),
      child.exitCode
    ], { concurrency: 3 })
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6
    if (code !== 0) {
      return yield* new BenchError({ reason: `\`${command}\` exited with ${code}: ${stderr.trim().slice(-TAIL)}` })
    }
    const line = fs.existsSync(options.report) ? fs.readFileSync(options.report, "utf8").trim().split("\n").pop() ?? "" : ""
    const [, user, system, rssKiB] = line.split(" ").map(Number)
    if (user === undefined || system === undefined || rssKiB === undefined || [user, system, rssKiB].some(Number.isNaN)) {
      return yield* new BenchError({ reason: `${meter} reported no usage for \`${command}\` (${path.basename(options.report)}: "${line}")` })
    }
    return { wallMs, cpuSeconds: user + system, peakRssBytes: rssKiB * 1024 }
  })).pipe(
    Effect.catchTags({
      SystemError: (error) => Effect.fail(new BenchError({ reason: `cannot run \`${command}\`: ${error.message}` })),
      BadArgument: (error) => Effect.fail(new BenchError({ reason: `cannot run \`${command}\`: ${error.message}` }))
    })
  )

/** The median of `values` (the mean of the middle two for an even count). */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The median of each measure over `samples` (at least one). */
export const medianSample = (samples: ReadonlyArray<Sample>): Sample => ({
  wallMs: median(samples.map((sample) => sample.wallMs)),
  cpuSeconds: median(samples.map((sample) => sample.cpuSeconds)),
  peakRssBytes: median(samples.map((sample) => sample.peakRssBytes))
})

/**
 * The first line `program --version` prints when it runs and that line matches `expected`
 * (a shim or a namesake is not the tool), else undefined.
 */
export const toolVersion = (program: string, expected: RegExp): string | undefined => {
  const probe = spawnSync(program, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 })
  const first = `${probe.stdout ?? ""}${probe.stderr ?? ""}`.trim().split("\n")[0] ?? ""
  return probe.status === 0 && expected.test(first) ? first : undefined
}
