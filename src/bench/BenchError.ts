/**
 * The one error of the bench harness: a server that would not start, a measurement that
 * failed or disagreed with the others. Local to this process, so a plain tagged error.
 */
import * as Data from "effect/Data"

export class BenchError extends Data.TaggedError("BenchError")<{ readonly reason: string }> {
  override get message() {
    return `bench: ${this.reason}`
  }
}
