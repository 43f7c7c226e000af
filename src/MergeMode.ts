/**
 * How a `run` turns its chunk outputs into one result, so that the parallel run prints what
 * the sequential pipeline prints (PaSh's aggregators): the modes, `--merge auto`'s choice from
 * the `--exec` pipeline, and the `--merge` / `--reduce` options. Pure; `Merge` carries a mode out.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { UsageError } from "./Errors.js"
import { getopt, pipelineStages } from "./ShellPipeline.js"
import type { OptionSpec, Stage } from "./ShellPipeline.js"

/** The outputs one after the other, in chunk order (what `run` always did). */
export class Concat extends Schema.TaggedClass<Concat>()("Concat", {}) {}

/** Outputs of one shape (lines of blank-separated fields); numeric fields summed (`wc`, `grep -c`). */
export class Sum extends Schema.TaggedClass<Sum>()("Sum", {}) {}

/**
 * Sorted outputs merged by `sort -m` with the same ordering `flags` (`sort`), run with the
 * chunk command's own leading `assignments` (`LC_ALL=C sort`) added to the environment.
 */
export class SortMerge extends Schema.TaggedClass<SortMerge>()("SortMerge", {
  flags: Schema.Array(Schema.String),
  assignments: Schema.Array(Schema.String)
}) {}

/**
 * `sort FLAGS | uniq [-c]` outputs: merged in `sort -m FLAGS` order, equal lines met across
 * outputs printed once (their counts added with `count`).
 */
export class SortUniq extends Schema.TaggedClass<SortUniq>()("SortUniq", {
  flags: Schema.Array(Schema.String),
  assignments: Schema.Array(Schema.String),
  count: Schema.Boolean
}) {}

/** `uniq [-c]` outputs: a last line equal to the next output's first line is joined with it. */
export class Uniq extends Schema.TaggedClass<Uniq>()("Uniq", { count: Schema.Boolean }) {}

/** The first `k` lines of the concatenation (`head -n k`): reading stops once they are out. */
export class Head extends Schema.TaggedClass<Head>()("Head", { k: Schema.NonNegativeInt }) {}

/** The last `k` lines of the concatenation (`tail -n k`), holding at most `k` lines. */
export class Tail extends Schema.TaggedClass<Tail>()("Tail", { k: Schema.NonNegativeInt }) {}

/** The user's `--reduce` command, run once with the outputs as `"$@"`. */
export class Reduce extends Schema.TaggedClass<Reduce>()("Reduce", { command: Schema.String }) {}

export const MergeMode = Schema.Union(Concat, Sum, SortMerge, SortUniq, Uniq, Head, Tail, Reduce)
export type MergeMode = typeof MergeMode.Type

const flag = (name: string) => ({ name, arg: false })
const withArg = (name: string) => ({ name, arg: true })

/** GNU sort's options that change the order, and those that change only resources. */
const SORT: OptionSpec = {
  short: { b: false, d: false, f: false, g: false, h: false, i: false, M: false, n: false, r: false, s: false, u: false, V: false, z: false, k: true, t: true, S: true, T: true },
  long: {
    "ignore-leading-blanks": flag("b"),
    "dictionary-order": flag("d"),
    "ignore-case": flag("f"),
    "general-numeric-sort": flag("g"),
    "human-numeric-sort": flag("h"),
    "ignore-nonprinting": flag("i"),
    "month-sort": flag("M"),
    "numeric-sort": flag("n"),
    "reverse": flag("r"),
    "stable": flag("s"),
    "unique": flag("u"),
    "version-sort": flag("V"),
    "zero-terminated": flag("z"),
    "key": withArg("k"),
    "field-separator": withArg("t"),
    "buffer-size": withArg("S"),
    "temporary-directory": withArg("T"),
    "parallel": withArg("parallel")
  }
}
const SORT_RESOURCES = new Set(["S", "T", "parallel"])

const WC: OptionSpec = {
  short: { l: false, w: false, c: false, m: false },
  long: { lines: flag("l"), words: flag("w"), bytes: flag("c"), chars: flag("m") }
}

/** grep options that keep it one output line per input line (or one count with `-c`). */
const GREP: OptionSpec = {
  short: { c: false, v: false, i: false, y: false, w: false, x: false, E: false, F: false, G: false, P: false, a: false, s: false, U: false, h: false, I: false, o: false, e: true, f: true },
  long: {
    "count": flag("c"),
    "invert-match": flag("v"),
    "ignore-case": flag("i"),
    "no-ignore-case": flag("no-ignore-case"),
    "word-regexp": flag("w"),
    "line-regexp": flag("x"),
    "extended-regexp": flag("E"),
    "fixed-strings": flag("F"),
    "basic-regexp": flag("G"),
    "perl-regexp": flag("P"),
    "text": flag("a"),
    "no-messages": flag("s"),
    "binary": flag("U"),
    "no-filename": flag("h"),
    "only-matching": flag("o"),
    "line-buffered": flag("line-buffered"),
    "regexp": withArg("e"),
    "file": withArg("f")
  }
}

const CUT: OptionSpec = {
  short: { b: true, c: true, d: true, f: true, n: false, s: false },
  long: {
    bytes: withArg("b"),
    characters: withArg("c"),
    delimiter: withArg("d"),
    fields: withArg("f"),
    "only-delimited": flag("s"),
    complement: flag("complement"),
    "output-delimiter": withArg("output-delimiter")
  }
}

const UNIQ: OptionSpec = { short: { c: false }, long: { count: flag("c") } }

/** No file operands: the command reads its stdin (`-` is stdin too). */
const readsStdin = (operands: ReadonlyArray<string>) => operands.every((operand) => operand === "-")

const commandName = (stage: Stage) => {
  const first = stage.words[0]!
  return first.slice(first.lastIndexOf("/") + 1)
}

/** The sort ordering flags of a `sort` stage, normalised, or `undefined` if it is not one. */
const sortFlags = (stage: Stage): Array<string> | undefined => {
  if (commandName(stage) !== "sort") return undefined
  const parsed = getopt(stage.words.slice(1), SORT)
  if (parsed === undefined || !readsStdin(parsed.operands)) return undefined
  return parsed.options.flatMap((option) =>
    SORT_RESOURCES.has(option.name) ? [] : option.value === undefined ? [`-${option.name}`] : [`-${option.name}`, option.value]
  )
}

/** The pattern operands and options of grep, when it reads only stdin. */
const grepOptions = (stage: Stage) => {
  if (!["grep", "egrep", "fgrep"].includes(commandName(stage))) return undefined
  const parsed = getopt(stage.words.slice(1), GREP)
  if (parsed === undefined) return undefined
  const patternGiven = parsed.options.some((option) => option.name === "e" || option.name === "f")
  const files = patternGiven ? parsed.operands : parsed.operands.slice(1)
  if (!patternGiven && parsed.operands.length === 0) return undefined
  return readsStdin(files) ? parsed.options.map((option) => option.name) : undefined
}

/** A `tr` set that cannot name a newline: plain characters, `\r`, `\t`, `\\`, ranges of printables. */
const trSetAvoidsNewline = (set: string) =>
  !set.includes("\n") && !set.includes("[") && !/\\[^rt\\]/.test(set) &&
  [...set.matchAll(/(.)-(.)/g)].every((range) => range[1]!.charCodeAt(0) > 0x0a)

/** `sed` with one `s/x/y/` command and flags that act on one line at a time. */
const simpleSed = (args: ReadonlyArray<string>) => {
  const scripts: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "-E" || arg === "-r" || arg === "--regexp-extended") continue
    if (arg === "-e") scripts.push(args[++i] ?? "")
    else if (arg.startsWith("-")) return false
    else if (scripts.length === 0) scripts.push(arg)
    else return false
  }
  if (scripts.length !== 1) return false
  const script = scripts[0]!
  const delimiter = script[1]
  if (script[0] !== "s" || delimiter === undefined || delimiter === "\\" || delimiter === "\n") return false
  let parts = 0
  let i = 2
  for (; i < script.length && parts < 2; i++) {
    if (script[i] === "\\") i++
    else if (script[i] === delimiter) parts++
  }
  return parts === 2 && /^[gI0-9]*$/.test(script.slice(i))
}

/**
 * Whether a stage's output for a concatenation of line-aligned pieces is the concatenation of
 * its outputs for the pieces, still line-aligned: then the next stage sees, chunk by chunk,
 * line-aligned pieces of what it would see in the sequential pipeline.
 */
const isLineLocal = (stage: Stage): boolean => {
  const name = commandName(stage)
  const args = stage.words.slice(1)
  switch (name) {
    case "cat":
      return args.every((arg) => arg === "-")
    case "grep":
    case "egrep":
    case "fgrep": {
      const options = grepOptions(stage)
      return options !== undefined && !options.includes("c")
    }
    case "cut": {
      const parsed = getopt(args, CUT)
      return parsed !== undefined && readsStdin(parsed.operands)
    }
    case "tr": {
      const deleting = args[0] === "-d"
      const sets = deleting ? args.slice(1) : args
      return sets.length === (deleting ? 1 : 2) && !sets.some((set) => set.startsWith("-")) && sets.every(trSetAvoidsNewline)
    }
    case "sed":
      return simpleSed(args)
    default:
      return false
  }
}

/** `head -n K`, `head -K`, `head -nK`, `head --lines=K` (and tail's), K a whole number. */
const lineCount = (args: ReadonlyArray<string>): number | undefined => {
  const text = args.length === 1
    ? /^-(?:n)?(\d+)$/.exec(args[0]!)?.[1] ?? /^--lines=(\d+)$/.exec(args[0]!)?.[1]
    : args.length === 2 && (args[0] === "-n" || args[0] === "--lines") && /^\d+$/.test(args[1]!)
    ? args[1]
    : undefined
  if (text === undefined) return undefined
  const k = Number(text)
  return Number.isSafeInteger(k) ? k : undefined
}

/** The merge of a pipeline whose stages before `last` are line-local; `undefined` when none fits. */
const mergeOfLast = (stages: ReadonlyArray<Stage>): MergeMode | undefined => {
  const last = stages[stages.length - 1]!
  const args = last.words.slice(1)
  switch (commandName(last)) {
    case "sort": {
      const flags = sortFlags(last)
      return flags === undefined ? undefined : new SortMerge({ flags, assignments: last.assignments })
    }
    case "wc": {
      const parsed = getopt(args, WC)
      return parsed !== undefined && readsStdin(parsed.operands) ? new Sum() : undefined
    }
    case "grep":
    case "egrep":
    case "fgrep":
      return grepOptions(last)?.includes("c") === true ? new Sum() : undefined
    case "uniq": {
      const parsed = getopt(args, UNIQ)
      if (parsed === undefined || !readsStdin(parsed.operands)) return undefined
      const count = parsed.options.length > 0
      // `sort F | uniq`: the outputs are sorted runs, so equal lines meet anywhere, not only
      // at the boundaries: merged in sort's order.
      const before = stages[stages.length - 2]
      const flags = before === undefined ? undefined : sortFlags(before)
      if (before === undefined || flags === undefined) return new Uniq({ count })
      // `-u` drops key-equal lines and `-z` changes the line ending: outside this merge.
      if (flags.includes("-u") || flags.includes("-z")) return undefined
      return new SortUniq({ flags, assignments: before.assignments, count })
    }
    case "head": {
      const k = lineCount(args)
      return k === undefined ? undefined : new Head({ k })
    }
    case "tail": {
      const k = lineCount(args)
      return k === undefined ? undefined : new Tail({ k })
    }
    default:
      return undefined
  }
}

/**
 * `--merge auto`: the merge that makes the parallel run print what `command` prints over the
 * whole object, chosen from the last stage of its pipeline: `sort [flags]` -> `sort -m` with
 * the same ordering flags (`-u` included), `sort | uniq [-c]` -> the same merge, joining equal
 * lines; `wc [-l -w -c -m]` and `grep -c` -> `sum`; `uniq [-c]` -> boundary merge; `head -n K`
 * / `tail -n K` -> the first / last K lines. Every earlier stage must be line-local (`cat`,
 * `grep` without `-c`, `cut`, `tr` that keeps newlines, one `sed s///`), so that the last stage
 * sees line-aligned pieces of its sequential input. Anything else is `Concat`.
 */
export const autoMerge = (command: string): MergeMode => {
  const stages = pipelineStages(command)
  if (stages === undefined || stages.length === 0) return new Concat()
  const mode = mergeOfLast(stages)
  if (mode === undefined) return new Concat()
  const consumed = mode._tag === "SortUniq" ? 2 : 1
  return stages.slice(0, -consumed).every(isLineLocal) ? mode : new Concat()
}

/** A word as a shell would need it typed (single-quoted unless plain). */
const quote = (word: string) => /^[A-Za-z0-9_,.:=+\/@%-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`

const sortCommand = (flags: ReadonlyArray<string>, assignments: ReadonlyArray<string>) =>
  [...assignments, "sort", "-m", ...flags].map(quote).join(" ")

/** One line for the `--json` summary: what the merge does, as a command a person could run. */
export const describe = (mode: MergeMode): string => {
  switch (mode._tag) {
    case "Concat":
      return "concat"
    case "Sum":
      return "sum"
    case "SortMerge":
      return sortCommand(mode.flags, mode.assignments)
    case "SortUniq":
      return `${sortCommand(mode.flags, mode.assignments)} | uniq${mode.count ? " -c" : ""}`
    case "Uniq":
      return `uniq${mode.count ? " -c" : ""} (boundary merge)`
    case "Head":
      return `head -n ${mode.k}`
    case "Tail":
      return `tail -n ${mode.k}`
    case "Reduce":
      return `reduce: ${mode.command}`
  }
}

/** The values of `--merge`. */
export type MergeOption = "concat" | "sum" | "auto"

/** Parses `--merge concat|sum|auto`. */
export const parseMergeOption = (text: string): Either.Either<MergeOption, UsageError> => {
  const value = text.trim()
  return value === "concat" || value === "sum" || value === "auto"
    ? Either.right(value)
    : Either.left(new UsageError({ reason: `--merge must be concat, sum or auto; got "${text}"` }))
}

/**
 * The run's merge from its options: `--reduce CMD` (not with a `--merge` other than the default
 * `concat`, and not empty), else `--merge` (`auto` reads `command`), else `Concat`.
 */
export const chooseMerge = (options: {
  readonly merge?: MergeOption | undefined
  readonly reduce?: string | undefined
  readonly command: string
}): Either.Either<MergeMode, UsageError> => {
  if (options.reduce !== undefined) {
    if (options.merge !== undefined && options.merge !== "concat") {
      return Either.left(new UsageError({ reason: `give either --merge ${options.merge} or --reduce, not both` }))
    }
    if (options.reduce.trim() === "") return Either.left(new UsageError({ reason: "--reduce needs a command" }))
    return Either.right(new Reduce({ command: options.reduce }))
  }
  switch (options.merge) {
    case "sum":
      return Either.right(new Sum())
    case "auto":
      return Either.right(autoMerge(options.command))
    default:
      return Either.right(new Concat())
  }
}
