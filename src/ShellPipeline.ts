/**
 * Just enough of the POSIX shell grammar to read a `--exec` command's pipeline: its stages and
 * each stage's words, after quote removal. Anything this reader cannot know statically (a
 * `$` expansion, a glob, a subshell, a redirection of stdout, a list of several pipelines)
 * makes the command opaque (`undefined`), and the merge chosen for an opaque command is
 * `concat`, as before. Pure; nothing is executed.
 */

/** A word after quote removal; `dynamic` when its value depends on an expansion or a glob. */
interface Word {
  readonly text: string
  readonly dynamic: boolean
}

type Token =
  | { readonly _tag: "Word"; readonly word: Word }
  | { readonly _tag: "Op"; readonly op: string }
  | { readonly _tag: "Redirect"; readonly fd: number | undefined; readonly op: string }

/** One stage of a pipeline: leading `NAME=value` assignments, then the command's words. */
export interface Stage {
  readonly assignments: ReadonlyArray<string>
  readonly words: ReadonlyArray<string>
}

const BLANK = /[ \t]/
const GLOB = /[*?[]/

/** The tokens of `command`, or `undefined` when a quote is left open. */
const tokenize = (command: string): Array<Token> | undefined => {
  const tokens: Array<Token> = []
  let text = ""
  let dynamic = false
  let started = false
  let quoted = false
  const endWord = () => {
    if (started) tokens.push({ _tag: "Word", word: { text, dynamic } })
    text = ""
    dynamic = false
    started = false
    quoted = false
  }
  let i = 0
  while (i < command.length) {
    const c = command[i]!
    if (BLANK.test(c)) {
      endWord()
      i++
    } else if (c === "\n") {
      endWord()
      tokens.push({ _tag: "Op", op: ";" })
      i++
    } else if (c === "#" && !started) {
      while (i < command.length && command[i] !== "\n") i++
    } else if (c === "'") {
      const close = command.indexOf("'", i + 1)
      if (close === -1) return undefined
      text += command.slice(i + 1, close)
      started = quoted = true
      i = close + 1
    } else if (c === "\"") {
      i++
      started = quoted = true
      for (;;) {
        if (i >= command.length) return undefined
        const d = command[i]!
        if (d === "\"") break
        if (d === "\\" && i + 1 < command.length && "$`\"\\\n".includes(command[i + 1]!)) {
          if (command[i + 1] !== "\n") text += command[i + 1]
          i += 2
          continue
        }
        if (d === "$" || d === "`") dynamic = true
        text += d
        i++
      }
      i++
    } else if (c === "\\") {
      if (i + 1 < command.length && command[i + 1] !== "\n") {
        text += command[i + 1]
        started = true
      }
      i += 2
    } else if (c === "|" || c === "&" || c === ";" || c === "(" || c === ")") {
      endWord()
      const two = command.slice(i, i + 2)
      const op = two === "||" || two === "&&" || two === ";;" ? two : c
      tokens.push({ _tag: "Op", op })
      i += op.length
    } else if (c === "<" || c === ">") {
      // Digits right before a redirection operator name the descriptor it redirects.
      const fd = started && !quoted && /^\d+$/.test(text) ? Number(text) : undefined
      if (fd === undefined) endWord()
      else text = "", started = false
      const three = command.slice(i, i + 3)
      const two = command.slice(i, i + 2)
      const op = three === "<<-" ? three : [">>", ">|", ">&", "<&", "<<", "<>"].includes(two) ? two : c
      tokens.push({ _tag: "Redirect", fd, op })
      i += op.length
    } else {
      if (c === "$" || c === "`" || GLOB.test(c) || (c === "~" && !started)) dynamic = true
      text += c
      started = true
      i++
    }
  }
  endWord()
  return tokens
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/

/** A stage from its tokens, or `undefined` when it redirects anything but stderr to a file. */
const toStage = (tokens: ReadonlyArray<Token>): Stage | undefined => {
  const assignments: Array<string> = []
  const words: Array<string> = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token._tag === "Op") return undefined
    if (token._tag === "Redirect") {
      // Only `2> file` and `2>> file`: stderr to a file leaves stdout as it is.
      const target = tokens[i + 1]
      if (token.fd !== 2 || (token.op !== ">" && token.op !== ">>") || target?._tag !== "Word" || target.word.dynamic) {
        return undefined
      }
      i++
      continue
    }
    if (token.word.dynamic) return undefined
    if (words.length === 0 && ASSIGNMENT.test(token.word.text)) assignments.push(token.word.text)
    else words.push(token.word.text)
  }
  return words.length === 0 ? undefined : { assignments, words }
}

/** `|| true` and `|| :` only hide the exit status; they print nothing. */
const isTrue = (tokens: ReadonlyArray<Token>) =>
  tokens.length === 1 && tokens[0]!._tag === "Word" && ["true", ":"].includes(tokens[0]!.word.text)

/**
 * The stages of `command` when it is one pipeline (`a | b | c`), optionally followed by
 * `|| true` or `|| :`; `undefined` for anything else (several pipelines, `&&`, `;`, `&`, a
 * subshell, an expansion, a glob, a redirection other than stderr to a file, open quotes).
 */
export const pipelineStages = (command: string): ReadonlyArray<Stage> | undefined => {
  const tokens = tokenize(command)
  if (tokens === undefined) return undefined
  // A trailing `;` or newline ends the list without starting another pipeline.
  while (tokens.length > 0 && tokens[tokens.length - 1]!._tag === "Op" && (tokens[tokens.length - 1] as { op: string }).op === ";") {
    tokens.pop()
  }
  const orAt = tokens.findIndex((token) => token._tag === "Op" && token.op === "||")
  const pipeline = orAt === -1 ? tokens : isTrue(tokens.slice(orAt + 1)) ? tokens.slice(0, orAt) : undefined
  if (pipeline === undefined) return undefined
  const stages: Array<Stage> = []
  let start = 0
  for (let i = 0; i <= pipeline.length; i++) {
    const token = pipeline[i]
    if (token === undefined || (token._tag === "Op" && token.op === "|")) {
      const stage = toStage(pipeline.slice(start, i))
      if (stage === undefined) return undefined
      stages.push(stage)
      start = i + 1
    }
  }
  return stages
}

/** An option of a parsed command line: its short name (or long name) and its argument. */
export interface Option {
  readonly name: string
  readonly value?: string
}

/** What a command accepts: short options (`true` when they take an argument) and long ones. */
export interface OptionSpec {
  readonly short: Readonly<Record<string, boolean>>
  /** Long option -> the short name it means (or itself) and whether it takes an argument. */
  readonly long: Readonly<Record<string, { readonly name: string; readonly arg: boolean }>>
}

/**
 * GNU-style option parsing of `args` (options may follow operands; `--` ends them; `-` is an
 * operand): the options in order and the operands, or `undefined` when an option is unknown or
 * lacks its argument.
 */
export const getopt = (
  args: ReadonlyArray<string>,
  spec: OptionSpec
): { readonly options: ReadonlyArray<Option>; readonly operands: ReadonlyArray<string> } | undefined => {
  const options: Array<Option> = []
  const operands: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      operands.push(...args.slice(i + 1))
      break
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const long = spec.long[eq === -1 ? arg.slice(2) : arg.slice(2, eq)]
      if (long === undefined) return undefined
      if (!long.arg) {
        if (eq !== -1) return undefined
        options.push({ name: long.name })
      } else if (eq !== -1) {
        options.push({ name: long.name, value: arg.slice(eq + 1) })
      } else {
        if (i + 1 >= args.length) return undefined
        options.push({ name: long.name, value: args[++i]! })
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const name = arg[j]!
        const takesArg = spec.short[name]
        if (takesArg === undefined) return undefined
        if (!takesArg) {
          options.push({ name })
          continue
        }
        const rest = arg.slice(j + 1)
        if (rest !== "") options.push({ name, value: rest })
        else if (i + 1 < args.length) options.push({ name, value: args[++i]! })
        else return undefined
        break
      }
    } else {
      operands.push(arg)
    }
  }
  return { options, operands }
}
