/**
 * The outputs of a `run`'s chunks, as the merge sees them: one byte stream per chunk, in chunk
 * order, each available while (or once) its command produces it. `Run` builds it from the
 * executor's results; a merge (`Merge`) turns it into the run's one result stream. A merge
 * that completes before reading every output (e.g. `head -n K`) ends the run: the chunks still
 * running are stopped and those not started never start.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

export interface ChunkOutputs<E> {
  /** N, the number of chunks; indices are `0 .. count - 1`. */
  readonly count: number
  /**
   * Chunk `index`'s whole output, from its first byte, streamed while the chunk's command
   * produces it where the executor allows, or once the chunk has finished. Fails with the
   * chunk's own error (or the run's) instead of ending short. Read each index at most once.
   */
  readonly stream: (index: number) => Stream.Stream<Uint8Array, E>
  /**
   * A local file holding chunk `index`'s complete output, once the chunk has finished: the
   * work file itself when the work location is a local directory, otherwise a temporary copy
   * removed when the scope closes. For merges that hand files to a command (`sort -m`,
   * `--reduce`). Fails with the chunk's own error.
   */
  readonly file: (index: number) => Effect.Effect<string, E, Scope.Scope>
}

/** What a merge knows of the run besides its outputs. */
export interface MergeContext {
  /** N, the number of chunks (as `outputs.count`). */
  readonly chunks: number
}

/**
 * A merge: the run's one result stream from its chunks' outputs. It may read any outputs in
 * any order, each at most once; when its stream ends, the run ends (chunks it did not need are
 * stopped or never started). Its failure fails the run; nothing is committed then.
 */
export type Merge<E> = (outputs: ChunkOutputs<E>, context: MergeContext) => Stream.Stream<Uint8Array, E>

/** The default merge: every output, in chunk order, each streamed as soon as it is due. */
export const concatenate = <E>(outputs: ChunkOutputs<E>): Stream.Stream<Uint8Array, E> =>
  Stream.flatMap(Stream.fromIterable(Array.from({ length: outputs.count }, (_, index) => index)), outputs.stream)
