/**
 * The `sum` merge, for outputs that are tables of counts (`wc`, `wc -l`, `grep -c`, an awk
 * count): every output has the same shape, lines of blank-separated fields; each whole-number
 * field is summed across the outputs, every other field must be the same in all of them. The
 * result keeps the first output's layout: a number padded with spaces keeps its right edge,
 * as `wc` pads its columns, and grows to the left if the sum is wider. Sums are exact (bigint).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { ChunkOutputs } from "./ChunkOutputs.js"
import { MergeError } from "./Errors.js"

/** An output larger than this is not a table of counts, and is refused rather than held. */
export const MAX_SUM_OUTPUT = 16 * 1024 * 1024

/** A field and the blanks before it. */
interface Field {
  readonly lead: string
  readonly text: string
}

interface Line {
  readonly fields: ReadonlyArray<Field>
  readonly trail: string
}

interface Table {
  readonly lines: ReadonlyArray<Line>
  readonly finalNewline: boolean
}

const FIELD = /([ \t\r\v\f]*)([^ \t\r\v\f]+)/gy
const NUMBER = /^-?\d+$/

/** Reads an output as a table; bytes are read as latin1, which maps each byte to one char. */
const parseTable = (bytes: Uint8Array): Table => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")
  const finalNewline = text.endsWith("\n")
  const rows = text === "" ? [] : (finalNewline ? text.slice(0, -1) : text).split("\n")
  return {
    finalNewline,
    lines: rows.map((row) => {
      const fields: Array<Field> = []
      FIELD.lastIndex = 0
      let end = 0
      for (let match = FIELD.exec(row); match !== null; match = FIELD.exec(row)) {
        fields.push({ lead: match[1]!, text: match[2]! })
        end = FIELD.lastIndex
      }
      return { fields, trail: row.slice(end) }
    })
  }
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`

/** Why `table` is not shaped like `first`, or `undefined` when it is. */
const mismatch = (first: Table, table: Table): string | undefined => {
  if (table.lines.length !== first.lines.length) {
    return `${plural(table.lines.length, "line")} where chunk 0 has ${first.lines.length}`
  }
  for (const [row, line] of table.lines.entries()) {
    const expected = first.lines[row]!
    if (line.fields.length !== expected.fields.length) {
      return `line ${row + 1} has ${plural(line.fields.length, "field")} where chunk 0's has ${expected.fields.length}`
    }
    for (const [column, field] of line.fields.entries()) {
      const other = expected.fields[column]!.text
      const numeric = NUMBER.test(field.text)
      if (numeric !== NUMBER.test(other) || (!numeric && field.text !== other)) {
        return `line ${row + 1}, field ${column + 1} is "${field.text}" where chunk 0's is "${other}"`
      }
    }
  }
  return table.finalNewline === first.finalNewline ? undefined : "its last line ends differently from chunk 0's"
}

/** `sum` right-aligned where `field` was: the same right edge, at least one blank after a field. */
const place = (field: Field, column: number, sum: bigint): string => {
  const text = sum.toString()
  // A lead of spaces is padding (and, after the first field, the separator): keep the right edge.
  if (!/^ *$/.test(field.lead)) return field.lead + text
  const width = field.lead.length + field.text.length
  return " ".repeat(Math.max(column === 0 ? 0 : 1, width - text.length)) + text
}

/** The outputs of `outputs`, in order, as one table with every numeric field summed. */
export const sum = <E>(outputs: ChunkOutputs<E>): Stream.Stream<Uint8Array, E | MergeError> =>
  Stream.unwrap(Effect.gen(function*() {
    let first: Table | undefined
    let sums: Array<Array<bigint>> = []
    for (let index = 0; index < outputs.count; index++) {
      const tooLarge = new MergeError({ index, reason: `its output is larger than ${MAX_SUM_OUTPUT} bytes: not a table of counts to sum` })
      const pieces = yield* Stream.runFoldEffect(outputs.stream(index), { pieces: [] as Array<Uint8Array>, size: 0 }, (held, piece) => {
        held.pieces.push(piece)
        held.size += piece.length
        return held.size > MAX_SUM_OUTPUT ? Effect.fail(tooLarge) : Effect.succeed(held)
      })
      const table = parseTable(Buffer.concat(pieces.pieces))
      if (first === undefined) {
        first = table
        sums = table.lines.map((line) => line.fields.map((field) => NUMBER.test(field.text) ? BigInt(field.text) : 0n))
        continue
      }
      const why = mismatch(first, table)
      if (why !== undefined) return yield* new MergeError({ index, reason: `output not shaped like chunk 0's: ${why}` })
      table.lines.forEach((line, row) =>
        line.fields.forEach((field, column) => {
          if (NUMBER.test(field.text)) sums[row]![column]! += BigInt(field.text)
        })
      )
    }
    if (first === undefined) return Stream.empty
    const text = first.lines.map((line, row) =>
      line.fields.map((field, column) => NUMBER.test(field.text) ? place(field, column, sums[row]![column]!) : field.lead + field.text)
        .join("") + line.trail
    ).join("\n") + (first.finalNewline ? "\n" : "")
    return Stream.make(Buffer.from(text, "latin1"))
  }))
