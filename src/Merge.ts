/**
 * A run's merge: turns the chunk outputs into the one result stream that the sequential
 * pipeline would print, by the mode chosen (`MergeMode`). Each mode reads the outputs in chunk
 * order; a merge that ends early (`head`) stops reading, which ends the run.
 */
import type * as Stream from "effect/Stream"
import type { ChunkOutputs } from "./ChunkOutputs.js"
import type { MergeError } from "./Errors.js"
import { reduce } from "./MergeCommand.js"
import { concat, head, tail, uniq, uniqCount } from "./MergeLines.js"
import type { MergeMode } from "./MergeMode.js"
import { sortMerge, sortUniq } from "./MergeSort.js"
import { sum } from "./MergeSum.js"

export interface MergeOptions {
  /**
   * The object's header lines (`--header N`): for `Concat`, `Head` and `Tail`, the leading
   * lines of every output after the first that equal them are dropped. Other modes ignore it.
   */
  readonly header?: Uint8Array | undefined
  /**
   * The environment the chunk commands ran in (default: this process's), for the commands a
   * merge runs (`sort -m` must collate as the chunks' `sort` did; `--reduce`).
   */
  readonly env?: NodeJS.ProcessEnv | undefined
}

/**
 * The merged result of `outputs` under `mode`. Fails with a chunk's own error (from
 * `outputs`), or with `MergeError` when the outputs cannot be merged (a shape `sum` cannot add,
 * a line that is not `uniq -c`'s, a merge command that failed). Every process and temporary
 * file it starts is gone once the stream has ended, failed or been interrupted.
 */
export const merge = <E>(
  mode: MergeMode,
  outputs: ChunkOutputs<E>,
  options: MergeOptions = {}
): Stream.Stream<Uint8Array, E | MergeError> => {
  const env = options.env ?? process.env
  switch (mode._tag) {
    case "Concat":
      return concat(outputs, options.header)
    case "Sum":
      return sum(outputs)
    case "SortMerge":
      return sortMerge(outputs, mode.flags, mode.assignments, env)
    case "SortUniq":
      return sortUniq(outputs, mode.flags, mode.assignments, mode.count, env)
    case "Uniq":
      return mode.count ? uniqCount(outputs) : uniq(outputs)
    case "Head":
      return head(mode.k, concat(outputs, options.header))
    case "Tail":
      return tail(mode.k, concat(outputs, options.header))
    case "Reduce":
      return reduce(mode.command, outputs, env)
  }
}
