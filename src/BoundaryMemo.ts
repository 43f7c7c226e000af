/**
 * A `Boundary` that remembers its boundary searches: `alignUp` of the same object version and
 * position is searched once per layer, however many callers ask, and callers asking while the
 * search runs share it. A split's chunks ask for each interior cut twice (chunk i's end is
 * chunk i + 1's start): with the memo a run of N chunks makes N - 1 searches, not 2N - 2.
 * `readChunk` is the underlying one's, unchanged.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import { Boundary, make as makeBoundary } from "./Boundary.js"
import type { ReadOptions } from "./Boundary.js"
import type { ReadError } from "./Errors.js"
import type { ObjectVersion } from "./ObjectStore.js"
import type { ObjectUri } from "./ObjectUri.js"
import { format } from "./ObjectUri.js"
import type { Stats } from "./Stats.js"

/** One search: the object, its version (ETag and version id, so a rewritten object is searched afresh) and the position. */
const keyOf = (uri: ObjectUri, version: ObjectVersion, x: number) =>
  `${format(uri)}\u0000${version.etag}\u0000${version.versionId ?? ""}\u0000${version.size}\u0000${x}`

/**
 * `boundary` with `alignUp` remembered: the same results, each search made once. The result
 * does not depend on `options` (the lookahead only sizes the windows), so it is not in the key.
 * The search counts its requests into the `Stats` of the caller that started it; callers
 * served from the memo count none. A failed search is not remembered (the next caller searches
 * again) and its waiting callers fail as it did; when the caller that started it is
 * interrupted, each waiting caller searches itself.
 */
export const memoize = (boundary: Boundary["Type"]): Boundary["Type"] => {
  const searches = new Map<string, Deferred.Deferred<number, ReadError>>()
  const alignUp = (uri: ObjectUri, version: ObjectVersion, x: number, options: ReadOptions): Effect.Effect<number, ReadError, Stats> =>
    // The ends need no search (and no request).
    x <= 0 || x >= version.size ? boundary.alignUp(uri, version, x, options) : Effect.suspend(() => {
      const key = keyOf(uri, version, x)
      const shared = searches.get(key)
      if (shared !== undefined) {
        return Effect.catchAllCause(
          Deferred.await(shared),
          (cause) => Cause.isInterruptedOnly(cause) ? alignUp(uri, version, x, options) : Effect.failCause(cause)
        )
      }
      // Looked up and set in one synchronous step: no other fiber runs in between.
      const search = Deferred.unsafeMake<number, ReadError>(FiberId.none)
      searches.set(key, search)
      return boundary.alignUp(uri, version, x, options).pipe(
        Effect.onExit((exit) => {
          if (Exit.isFailure(exit)) searches.delete(key)
          return Deferred.done(search, exit)
        })
      )
    })
  return Boundary.of({ alignUp, readChunk: boundary.readChunk })
}

/** `Boundary.layer` with its searches remembered for the life of the layer (`memoize`); needs an `ObjectStore`. */
export const layer = Layer.effect(Boundary, Effect.map(makeBoundary, memoize))
