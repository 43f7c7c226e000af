/**
 * A small seeded pseudo-random generator (mulberry32) for the bench: the synthetic object and
 * the model's SlowDown decisions are the same on every run with the same seed.
 */

/** A generator of floats in [0, 1), fully determined by `seed`. */
export const mulberry32 = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
