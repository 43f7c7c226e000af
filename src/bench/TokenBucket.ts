/**
 * A token bucket in its virtual-scheduling form (GCRA): tokens arrive at `rate` per second and
 * the bucket holds at most `burst` seconds of them. Instead of counting tokens it keeps the
 * theoretical arrival time of the next unit; a request may go once that time, less the burst,
 * has come. Pure arithmetic over a clock the caller passes in (milliseconds).
 */

export class TokenBucket {
  /** When the bucket will have caught up with everything reserved so far (ms). */
  private tat = Number.NEGATIVE_INFINITY

  constructor(
    /** Units (bytes or requests) per second; positive and finite. */
    readonly rate: number,
    /** How far ahead of the steady rate a burst may run, in milliseconds. */
    readonly burstMs: number
  ) {}

  /** The earliest time (ms) at which `units` may pass, without reserving them. */
  earliest(now: number): number {
    return Math.max(now, this.tat - this.burstMs)
  }

  /** Takes `units` at time `at` (which must be at or after `earliest`). */
  take(units: number, at: number): void {
    this.tat = Math.max(this.tat, at) + (units * 1000) / this.rate
  }

  /** Takes `units` now if they may pass now; says whether they did. */
  tryTake(units: number, now: number): boolean {
    if (this.earliest(now) > now) return false
    this.take(units, now)
    return true
  }

  /**
   * Reserves `units` in every bucket at the earliest moment all of them allow, and returns
   * how long to wait for it from `now` (0 when it may go at once). Waiters are served in the
   * order they reserve.
   */
  static reserveAll(buckets: ReadonlyArray<TokenBucket>, units: number, now: number): number {
    let at = now
    for (const bucket of buckets) at = Math.max(at, bucket.earliest(now))
    for (const bucket of buckets) bucket.take(units, at)
    return at - now
  }
}
