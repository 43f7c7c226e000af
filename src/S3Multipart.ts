/**
 * A streamed upload in the shape of S3's multipart API, owned by Effect: the body is pulled in
 * the caller's fiber and cut into parts; a body that fits in one part is one `putObject`,
 * anything longer is `create`, `uploadPart` ..., `complete`. On any failure or interruption
 * the upload is aborted by a finalizer that awaits the abort. The requests themselves (and
 * their retries) are the store's; this module only decides part sizes, sequencing, and how
 * many part bytes are held at once: at most two parts per upload, and at most a `PartBudget`
 * for all the uploads of a process together.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"

const MiB = 1024 * 1024

/** S3's smallest part, the last one excepted. */
export const MIN_PART_SIZE = 5 * MiB
/** S3's largest part, and the largest source range of one UploadPartCopy. */
export const MAX_PART_SIZE = 5 * 1024 * MiB
/** S3's most parts in one upload. */
export const MAX_PARTS = 10_000
/** S3's largest object. */
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB

/** The first part's size without a size hint: small objects keep small parts. */
export const FIRST_PART_SIZE = 8 * MiB
/** Parts per size step: the part size doubles after each run of this many parts. */
export const PARTS_PER_STEP = 1000

/**
 * The size of part `n` (1-based). Without a hint: 8 MiB for parts 1-1000, 16 MiB for
 * 1001-2000, 32 MiB for 2001-3000, ... doubling every 1000 parts up to 4 GiB for parts
 * 9001-10000 (never above 5 GiB). The first 1000 parts hold 7.8 GiB, all 10,000 hold
 * 7.99 TiB, so every object up to S3's 5 TiB limit fits while small objects use 8 MiB parts.
 * With `sizeHint` (bytes expected), no part is smaller than `sizeHint / 9000` rounded up to a
 * MiB, which leaves 1000 parts of slack for a body longer than hinted. Every size is a whole
 * number of MiB, so every part but the last is at least 5 MiB.
 */
export const partSize = (n: number, sizeHint?: number): number => {
  const step = Math.min(Math.floor((n - 1) / PARTS_PER_STEP), 30)
  const scheduled = Math.min(FIRST_PART_SIZE * 2 ** step, MAX_PART_SIZE)
  const hinted = sizeHint === undefined || sizeHint <= 0 ? 0 : Math.ceil(sizeHint / (MAX_PARTS - PARTS_PER_STEP) / MiB) * MiB
  return Math.min(Math.max(scheduled, hinted), MAX_PART_SIZE)
}

/** The default `PartBudget`: eight 8 MiB parts, so 16 uploads at once stay well under 300 MB. */
export const DEFAULT_PART_BUDGET = 64 * MiB

/**
 * A cap on the bytes of parts held (being filled or being uploaded) by every upload that
 * shares it: a semaphore counted in bytes. Each part takes its full size before its first
 * byte is read and gives it back once it is uploaded (or the upload ended), so whatever the
 * number of concurrent uploads, at most `bytes` of parts are held. A part larger than the
 * whole budget takes all of it (it cannot be held in less).
 *
 * The budget also keeps the buffers of full-size parts that were uploaded, for the next parts
 * of that size: a process then allocates at most `bytes` of such buffers in all and leaves no
 * garbage per part (which the garbage collector would free late, raising the peak RSS).
 */
export interface PartBudget {
  /** The cap, in bytes. */
  readonly bytes: number
  /** Waits until `bytes` (at most the cap) are free and takes them; interruptible while waiting. */
  readonly take: (bytes: number) => Effect.Effect<number>
  /** Gives back bytes taken. */
  readonly release: (bytes: number) => Effect.Effect<void>
  /** The bytes taken now (for tests and reports). */
  readonly inUse: Effect.Effect<number>
  /** A kept buffer of exactly `size` bytes, if any (its contents are stale). */
  readonly reuse: (size: number) => Uint8Array | undefined
  /**
   * Keeps `buffer` for a later part of its size, once nothing refers to it any more (its
   * request has completed); at most as many as the budget can hold at once.
   */
  readonly keep: (buffer: Uint8Array) => void
}

/** A budget of `bytes` (at least 1) for the uploads that share it. */
export const makeBudget = (bytes: number): Effect.Effect<PartBudget> =>
  Effect.gen(function*() {
    const cap = Math.max(1, Math.floor(bytes))
    const semaphore = yield* Effect.makeSemaphore(cap)
    let taken = 0
    const kept: Array<Uint8Array> = []
    return {
      bytes: cap,
      reuse: (size) => {
        const at = kept.findIndex((buffer) => buffer.length === size)
        return at < 0 ? undefined : kept.splice(at, 1)[0]
      },
      keep: (buffer) => {
        const sameSize = kept.filter((other) => other.length === buffer.length).length
        if (buffer.length > 0 && (sameSize + 1) * buffer.length <= cap) kept.push(buffer)
      },
      take: (wanted) => {
        const n = Math.min(Math.max(0, wanted), cap)
        // Only the wait is interruptible: once taken, the bytes are counted and returned.
        return Effect.uninterruptibleMask((restore) =>
          Effect.zipRight(restore(semaphore.take(n)), Effect.sync(() => {
            taken += n
            return n
          }))
        )
      },
      release: (n) => Effect.zipRight(Effect.sync(() => void (taken -= n)), Effect.asVoid(semaphore.release(n))),
      inUse: Effect.sync(() => taken)
    }
  })

/** One uploaded part, as `complete` needs it. */
export interface UploadedPart {
  readonly PartNumber: number
  readonly ETag: string
}

/** The requests of one upload, each already retried as the store wants. */
export interface MultipartRequests<E> {
  /** The whole body in one request (it fits in one part). */
  readonly putObject: (bytes: Uint8Array) => Effect.Effect<void, E>
  /** Starts the multipart upload; its id. */
  readonly create: Effect.Effect<string, E>
  /** Uploads part `partNumber`; its ETag. */
  readonly uploadPart: (uploadId: string, partNumber: number, bytes: Uint8Array) => Effect.Effect<string, E>
  readonly complete: (uploadId: string, parts: ReadonlyArray<UploadedPart>) => Effect.Effect<void, E>
  /** Aborts the upload; awaited by the finalizer, so it must be bounded and may not fail. */
  readonly abort: (uploadId: string) => Effect.Effect<void>
  /** The failure for a body longer than 10,000 parts can hold. */
  readonly tooLarge: (bytes: number) => E
}

/**
 * A part being filled: a kept buffer of its capacity when the budget has one, otherwise one
 * that grows geometrically up to its capacity, so a tiny body costs little.
 */
class PartBuffer {
  filled = 0
  constructor(readonly capacity: number, public bytes: Uint8Array = new Uint8Array(0)) {}
  get full() {
    return this.filled === this.capacity
  }
  /** Copies as much of `piece` from `offset` as fits; the number of bytes taken. */
  take(piece: Uint8Array, offset: number): number {
    const n = Math.min(piece.length - offset, this.capacity - this.filled)
    if (this.filled + n > this.bytes.length) {
      const grown = new Uint8Array(Math.min(this.capacity, Math.max(64 * 1024, 2 * (this.filled + n))))
      grown.set(this.bytes.subarray(0, this.filled))
      this.bytes = grown
    }
    this.bytes.set(piece.subarray(offset, offset + n), this.filled)
    this.filled += n
    return n
  }
  get contents() {
    return this.bytes.subarray(0, this.filled)
  }
  /** Hands a full-capacity buffer back to `budget` for reuse (call once its request completed). */
  recycle(budget: PartBudget) {
    if (this.bytes.length === this.capacity) budget.keep(this.bytes)
  }
}

/**
 * Uploads `body` with `requests`. Memory: at most two parts at once, the one being filled and
 * the one being uploaded (so at most `2 × partSize(n)` bytes, 16 MiB for objects under
 * 7.8 GiB), and every part is first taken from `budget` (before the body is pulled at all, for
 * the first), so the uploads sharing a budget hold at most its size together; pulling the body
 * waits while either limit is reached. A part is sent only once a byte beyond it arrives, so a
 * body of exactly one part is still one `putObject`. Fails with the body's or a request's
 * error; in both cases, and on interruption, a started multipart upload is aborted and the
 * abort awaited before this effect ends, and every byte taken from the budget is given back.
 */
export const upload = <E, EB>(
  requests: MultipartRequests<E>,
  body: Stream.Stream<Uint8Array, EB>,
  budget: PartBudget,
  sizeHint?: number
): Effect.Effect<void, E | EB> =>
  Effect.scoped(Effect.gen(function*() {
    let uploadId: string | undefined
    let inFlight: Fiber.RuntimeFiber<void, E> | undefined
    const uploaded: Array<UploadedPart> = []
    let partNumber = 1
    let sent = 0
    // The budget held for the part being filled; an uploading part's is its uploader's.
    let filling = 0
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const held = filling
        filling = 0
        return held > 0 ? budget.release(held) : Effect.void
      })
    )
    /** A new part for `partNumber`, its budget taken first (recorded in the same uninterruptible step). */
    const nextPart = Effect.uninterruptibleMask((restore) =>
      Effect.map(restore(budget.take(partSize(partNumber, sizeHint))), (taken) => {
        filling = taken
        const capacity = partSize(partNumber, sizeHint)
        return new PartBuffer(capacity, budget.reuse(capacity))
      })
    )
    let part = yield* nextPart

    // The abort is registered in the same uninterruptible step that learns the upload id. The
    // create itself is not interruptible: a create cut off in flight may still have started an
    // upload on the server that no abort would name (it ends within its own timeouts).
    const begin = Effect.uninterruptible(
      requests.create.pipe(
        Effect.tap((id) =>
          Effect.addFinalizer((exit) => Exit.isFailure(exit) ? requests.abort(id) : Effect.void).pipe(
            Effect.zipRight(Effect.sync(() => {
              uploadId = id
            }))
          )
        )
      )
    )

    /** Hands the full part to an uploader (after the previous one is done) and, unless `last`, starts the next. */
    const ship = (last: boolean) => Effect.gen(function*() {
      if (uploadId === undefined) yield* begin
      if (inFlight !== undefined) yield* Fiber.join(inFlight)
      const id = uploadId!
      const number = partNumber
      const shipped = part
      const bytes = part.contents
      sent += bytes.length
      // Forked into the upload's scope: interrupted before the abort runs, never detached. The
      // part's budget passes to its uploader in the same uninterruptible step.
      inFlight = yield* Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const held = filling
          filling = 0
          return Effect.forkScoped(
            restore(Effect.map(requests.uploadPart(id, number, bytes), (etag) => {
              uploaded.push({ PartNumber: number, ETag: etag })
              // Sent and answered: nothing refers to the bytes any more.
              shipped.recycle(budget)
            })).pipe(Effect.ensuring(budget.release(held)))
          )
        })
      )
      partNumber += 1
      if (!last) part = yield* nextPart
    })

    const add = (piece: Uint8Array) =>
      Effect.gen(function*() {
        let offset = 0
        while (offset < piece.length) {
          if (part.full) {
            if (partNumber === MAX_PARTS) return yield* Effect.fail(requests.tooLarge(sent + part.filled + 1))
            yield* ship(false)
          }
          offset += part.take(piece, offset)
        }
      })

    yield* Stream.runForEach(body, add)
    if (uploadId === undefined) {
      yield* requests.putObject(part.contents)
      return part.recycle(budget)
    }
    yield* ship(true)
    yield* Fiber.join(inFlight!)
    yield* requests.complete(uploadId, uploaded)
  }))
