/**
 * How to reach S3: the endpoint, the region and the request timeouts, and the `Config` that
 * reads them from the environment. A module of its own so that the command line can read the
 * settings without loading the AWS SDK, which only `S3ObjectStore` imports.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { DEFAULT_PART_BUDGET } from "./S3Multipart.js"
import { parseSize } from "./Size.js"

/**
 * How long one request may take before it is a transient fault (retried; a body resumes from
 * the next unread byte). The defaults make an endpoint that accepts connections but never
 * answers fail within 60 s with the default 8 attempts: each attempt ends after the 5 s
 * first-byte timeout, so 8 × 5 s plus at most 13.6 s of backoff (100 ms doubling, capped at
 * 5 s, +20% jitter) is under 54 s. A host that drops connection attempts fails as fast (3 s).
 * A body stall of 10 s is far outside S3's normal pauses yet ends a dead transfer quickly.
 */
export interface S3Timeouts {
  /** Establishing the connection (TCP, and TLS for https). Default 3 s. */
  readonly connect: Duration.Duration
  /**
   * From sending a request to its response headers, connecting included. Default 5 s. A
   * request that uploads n bytes gets `stall` more per MiB (it must move 1 MiB per stall
   * period on average); server-side work (UploadPartCopy, CompleteMultipartUpload) gets `stall`
   * more per 64 MiB copied or per 100 parts completed.
   */
  readonly firstByte: Duration.Duration
  /** The longest wait for the next piece of a response body (a GET's bytes). Default 10 s. */
  readonly stall: Duration.Duration
}

export const defaultTimeouts: S3Timeouts = {
  connect: Duration.seconds(3),
  firstByte: Duration.seconds(5),
  stall: Duration.seconds(10)
}

export interface S3Settings {
  /** A custom endpoint (S3-compatible server); path-style addressing is used with it. */
  readonly endpoint: Option.Option<string>
  readonly region: string
  /** Request timeouts; `defaultTimeouts` when absent. */
  readonly timeouts?: S3Timeouts
  /**
   * Bytes of upload parts (filling or in flight) all the store's uploads may hold together;
   * `S3Multipart.DEFAULT_PART_BUDGET` (64 MiB) when absent.
   */
  readonly partBudget?: number
}

/**
 * The timeouts from the environment: `S3SPLIT_CONNECT_TIMEOUT` (default 3 seconds),
 * `S3SPLIT_FIRST_BYTE_TIMEOUT` (5 seconds), `S3SPLIT_STALL_TIMEOUT` (10 seconds), each a
 * duration such as `5 seconds` or `500 millis`.
 */
export const timeoutsConfig: Config.Config<S3Timeouts> = Config.all({
  connect: Config.duration("S3SPLIT_CONNECT_TIMEOUT").pipe(
    Config.withDefault(defaultTimeouts.connect),
    Config.withDescription("time to establish a connection to S3")
  ),
  firstByte: Config.duration("S3SPLIT_FIRST_BYTE_TIMEOUT").pipe(
    Config.withDefault(defaultTimeouts.firstByte),
    Config.withDescription("time from sending a request to its response headers, connecting included")
  ),
  stall: Config.duration("S3SPLIT_STALL_TIMEOUT").pipe(
    Config.withDefault(defaultTimeouts.stall),
    Config.withDescription("longest wait for the next byte of a response body")
  )
})

/**
 * The S3 settings from the environment: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
 * `AWS_REGION`, the timeouts of `timeoutsConfig`, and `S3SPLIT_PART_BUDGET` (a size such as
 * `64MiB`, the default: the upload part bytes the process may hold at once).
 */
export const settingsConfig: Config.Config<Required<S3Settings>> = Config.all({
  endpoint: Config.option(Config.string("AWS_ENDPOINT_URL_S3")).pipe(
    Config.zipWith(Config.option(Config.string("AWS_ENDPOINT_URL")), (specific, generic) =>
      Option.orElse(specific, () => generic))
  ),
  region: Config.string("AWS_REGION").pipe(Config.withDefault("us-east-1")),
  timeouts: timeoutsConfig,
  partBudget: Config.string("S3SPLIT_PART_BUDGET").pipe(
    Config.mapOrFail((text) =>
      Either.mapLeft(parseSize(text, "S3SPLIT_PART_BUDGET"), (error) => ConfigError.InvalidData([], error.reason))
    ),
    Config.withDefault(DEFAULT_PART_BUDGET),
    Config.withDescription("bytes of upload parts (being filled or in flight) the process may hold at once")
  )
})
