/**
 * The plan: N approximate, half-open byte ranges that cover an object of S bytes. Pure integer
 * arithmetic, no I/O; the cut points equal those of GNU `split -n l/N` and of PaSh's planner.
 */
import type { ByteRange } from "./ByteRange.js"

/** How the object is to be cut: into a number of chunks, or into chunks of about B bytes. */
export type PlanSpec =
  | { readonly _tag: "Chunks"; readonly chunks: number }
  | { readonly _tag: "ChunkSize"; readonly chunkSize: number }

/**
 * The most chunks a job may have. Each chunk is a task, a part and a row, so a plan is held
 * in memory whole; a million is far beyond any useful fan-out and still small.
 */
export const MAX_CHUNKS = 1_000_000

/** The number of chunks `spec` gives for an object of `size` bytes. */
export const chunkCount = (size: number, spec: PlanSpec): number =>
  spec._tag === "Chunks" ? spec.chunks : Math.max(1, Math.ceil(size / spec.chunkSize))

/**
 * The approximate ranges `[a_i, a_{i+1})` for an object of `size` bytes.
 * By count: `q = max(1, floor(S/N))`, `a_i = min(S, i*q)` for i < N, `a_N = S`.
 * By size: `N = max(1, ceil(S/B))`, `a_i = min(S, i*B)`, `a_N = S`.
 * Ranges may be empty (when N > S); they are contiguous and end at S.
 */
export const plan = (size: number, spec: PlanSpec): ReadonlyArray<ByteRange> => {
  const count = chunkCount(size, spec)
  const step = spec._tag === "Chunks" ? Math.max(1, Math.floor(size / spec.chunks)) : spec.chunkSize
  const cut = (i: number) => (i >= count ? size : Math.min(size, i * step))
  return Array.from({ length: count }, (_, i) => ({ start: cut(i), end: cut(i + 1) }))
}
