/**
 * Network failures of an AWS SDK call that are worth retrying, as the SDK itself classifies
 * them: a connection reset, refused, timed out or closed early, a name that did not resolve.
 * Shared by every client (S3, Lambda), so they retry the same faults.
 */

/** The parts of an SDK or Node error that classification reads. */
export interface SdkErrorShape {
  readonly name?: string
  readonly code?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
  readonly cause?: unknown
}

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_STREAM_PREMATURE_CLOSE"
])

/** Codes that mean the server was never reached: messages should name the endpoint. */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

/** The transient network code of `error` or of its cause, if it has one. */
export const transientNetworkCode = (error: SdkErrorShape): string | undefined => {
  if (error.code !== undefined && TRANSIENT_CODES.has(error.code)) return error.code
  const cause = error.cause as SdkErrorShape | undefined
  return cause?.code !== undefined && TRANSIENT_CODES.has(cause.code) ? cause.code : undefined
}

/** Views anything thrown as an `SdkErrorShape`. */
export const asSdkError = (error: unknown): SdkErrorShape =>
  (typeof error === "object" && error !== null ? error : { message: String(error) }) as SdkErrorShape
