/**
 * The outputs of a `run`'s chunks, as the merge sees them: one byte stream per chunk, in chunk
 * order, each available while (or once) its command produces it. `Run` builds it from the
 * executor's results; a merge (`Merge`) turns it into the run's one result stream. A merge
 * that completes before reading every output (e.g. `head -n K`) ends the run: the chunks still
 * running are stopped and those not started never start.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

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
