/**
 * A half-open byte range `[start, end)` of an object. Every range in s3split is half-open; the
 * only inclusive range is the HTTP `Range` header, built by `toHttpRange`.
 */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

export const length = (range: ByteRange): number => range.end - range.start

/** The HTTP header value for a non-empty half-open range (`bytes=start-(end-1)`, inclusive). */
export const toHttpRange = (range: ByteRange): string => `bytes=${range.start}-${range.end - 1}`
