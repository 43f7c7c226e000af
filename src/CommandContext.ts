/**
 * What a chunk's command is told besides its bytes: its context in the environment, and the
 * object's header lines, which it reads before the chunk's own lines. The context includes
 * the chunk's resolved start, which the reader knows only once it has found the chunk's first
 * line, so the command is started after the chunk's first bytes (or its end) have arrived.
 */
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { pipeThrough } from "./Exec.js"
import * as ObjectUri from "./ObjectUri.js"

/**
 * What the command's context is made of: a `ChunkTask`, or a `MultiChunkTask` (which has no
 * one `source`: a chunk of many objects).
 */
export interface CommandTask {
  readonly index: number
  readonly chunks?: number | undefined
  readonly header?: Uint8Array | undefined
  readonly source?: ObjectUri.ObjectUri | undefined
}

/**
 * The variables a chunk's command gets: `S3SPLIT_CHUNK` (its index, from 0),
 * `S3SPLIT_CHUNKS` (N, when the task carries it), and for a chunk of one object
 * `S3SPLIT_SOURCE` (the object's URI, as typed: `s3://bucket/key` or an absolute path) and
 * `S3SPLIT_OFFSET` (`offset`: the byte at which the chunk's own lines start in the object).
 */
export const environment = (task: CommandTask, offset: number): Record<string, string> => ({
  S3SPLIT_CHUNK: String(task.index),
  ...(task.chunks === undefined ? {} : { S3SPLIT_CHUNKS: String(task.chunks) }),
  ...(task.source === undefined ? {} : {
    S3SPLIT_SOURCE: ObjectUri.format(task.source),
    S3SPLIT_OFFSET: String(offset)
  })
})

/**
 * What a chunk's command reads and the environment it runs in: `task.header` (if any) before
 * the chunk's bytes `chunk`, and `environment(task, offset)`. `start` gives the chunk's
 * resolved start: it must be known once `chunk` has emitted its first piece or ended (the
 * reader's `onStart` sets it), so this pulls the first piece, in the caller's scope, before
 * it returns. A failure of `chunk` before its first piece fails here, before any command.
 */
export const commandInput = <E>(task: CommandTask, chunk: Stream.Stream<Uint8Array, E>, start: Effect.Effect<number>) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(chunk)
    const first: Option.Option<Chunk.Chunk<Uint8Array>> = yield* pull.pipe(
      Effect.asSome,
      Effect.catchAll(Option.match({ onNone: () => Effect.succeedNone, onSome: (error: E) => Effect.fail(error) }))
    )
    const offset = yield* start
    const own = Option.match(first, {
      onNone: () => Stream.empty,
      onSome: (pieces) => Stream.concat(Stream.fromChunk(pieces), Stream.repeatEffectChunkOption(pull))
    })
    const input = task.header === undefined ? own : Stream.concat(Stream.succeed(task.header), own)
    return { input, env: environment(task, offset) }
  })

/**
 * The stdout of `command` run on the chunk's bytes `chunk`, as `Exec.pipeThrough`, with the
 * chunk's context and header (`commandInput`).
 */
export const commandOutput = <E>(
  task: CommandTask,
  command: string,
  chunk: Stream.Stream<Uint8Array, E>,
  start: Effect.Effect<number>
) =>
  Stream.unwrapScoped(Effect.map(commandInput(task, chunk, start), ({ env, input }) =>
    pipeThrough(command, task.index, input, { env })))
