/**
 * A performance model of S3 between the client and an S3-compatible server: a reverse proxy on
 * 127.0.0.1 that holds every response until a first-byte latency has passed, paces bodies
 * with token buckets (one per connection, one shared by all), and answers 503 SlowDown to a
 * seeded fraction of requests and to requests above a per-prefix rate. It counts the GETs it
 * sees and the body bytes it sends, which is what S3 would bill.
 */
import * as Effect from "effect/Effect"
import { listenOnLoopback } from "./Loopback.js"
import * as http from "node:http"
import type * as net from "node:net"
import { performance } from "node:perf_hooks"
import { mulberry32 } from "./Prng.js"
import { TokenBucket } from "./TokenBucket.js"

export interface ModelSettings {
  /** Time from a request's arrival to its first response byte, in milliseconds. */
  readonly latencyMs: number
  /** Bandwidth of one connection, in MB/s (10^6 bytes per second); Infinity for none. */
  readonly connMBps: number
  /** Bandwidth of all connections together, in MB/s; Infinity for none. */
  readonly totalMBps: number
  /** Fraction of requests, in [0, 1), answered 503 SlowDown at random (seeded). */
  readonly slowdownRate: number
  /** GET and HEAD requests per second per prefix; requests above it are answered 503 SlowDown. */
  readonly getRate: number
  /** Seed of the SlowDown decisions. */
  readonly seed: number
}

/**
 * S3 Standard as a Lambda function in the same Region sees it (sources in docs/BENCHMARKS.md):
 * tens of milliseconds to the first byte, 85-90 MB/s per connection, a 10 Gb/s ceiling in all,
 * 5,500 GET/HEAD per second per prefix, and no throttling at these request rates.
 */
export const lambdaDefaults: ModelSettings = {
  latencyMs: 25,
  connMBps: 90,
  totalMBps: 1250,
  slowdownRate: 0,
  getRate: 5500,
  seed: 1
}

/** The model switched off: no latency, no caps, no throttling (used to calibrate the machine). */
export const unlimited: ModelSettings = {
  latencyMs: 0,
  connMBps: Number.POSITIVE_INFINITY,
  totalMBps: Number.POSITIVE_INFINITY,
  slowdownRate: 0,
  getRate: Number.POSITIVE_INFINITY,
  seed: 1
}

/**
 * The model slowed down `factor` times: bandwidths and request rates divided by it, latencies
 * multiplied by it. Every duration grows by the same factor, so ratios between strategies hold.
 */
export const scaled = (settings: ModelSettings, factor: number): ModelSettings => ({
  ...settings,
  latencyMs: settings.latencyMs * factor,
  connMBps: settings.connMBps / factor,
  totalMBps: settings.totalMBps / factor,
  getRate: settings.getRate / factor
})

/** What the proxy has seen since it started. */
export interface Counters {
  readonly gets: number
  readonly heads: number
  /** GET requests answered 503 SlowDown by the model (included in `gets`). */
  readonly slowdowns: number
  /** Bytes of GET response bodies sent to clients. */
  readonly getBodyBytes: number
}

export interface ModelProxy {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  /** Applies new settings to requests and connections from now on. */
  readonly configure: (settings: ModelSettings) => void
  readonly counters: () => Counters
}

/** Body bytes paced as one unit: small enough to keep pacing smooth, large enough to stay cheap. */
const QUANTUM = 64 * 1024
/** How far a bucket may run ahead of its steady rate. */
const BURST_MS = 10
/** A prefix may burst one second's worth of requests, then it is held to its rate. */
const REQUEST_BURST_MS = 1000

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Resolves once `res` can take more, or once it is gone. */
const drained = (res: http.ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done)
      res.off("close", done)
      resolve()
    }
    res.on("drain", done)
    res.on("close", done)
  })

const slowDown = (res: http.ServerResponse) => {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
  res.writeHead(503, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

/** The prefix of a path-style URL (`/bucket/dir/key` -> `/bucket/dir/`), the unit S3 rate-limits. */
const prefixOf = (url: string) => {
  const path = url.split("?")[0] ?? ""
  return path.slice(0, path.lastIndexOf("/") + 1)
}

const bucketFor = (mbps: number, burstMs: number) =>
  Number.isFinite(mbps) && mbps > 0 ? new TokenBucket(mbps * 1e6, burstMs) : undefined

/** Starts the proxy in front of `target` (an `http://host:port` endpoint). */
export const start = async (target: string, initial: ModelSettings): Promise<ModelProxy & { readonly close: () => Promise<void> }> => {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true })
  let settings = initial
  let random = mulberry32(initial.seed)
  let total = bucketFor(initial.totalMBps, BURST_MS)
  let prefixes = new Map<string, TokenBucket>()
  let connections = new WeakMap<net.Socket, TokenBucket | undefined>()
  const counts = { gets: 0, heads: 0, slowdowns: 0, getBodyBytes: 0 }

  const connectionBucket = (socket: net.Socket) => {
    if (!connections.has(socket)) connections.set(socket, bucketFor(settings.connMBps, BURST_MS))
    return connections.get(socket)
  }

  const throttled = (url: string, now: number) => {
    if (settings.slowdownRate > 0 && random() < settings.slowdownRate) return true
    if (!Number.isFinite(settings.getRate)) return false
    const prefix = prefixOf(url)
    let bucket = prefixes.get(prefix)
    if (bucket === undefined) {
      bucket = new TokenBucket(settings.getRate, REQUEST_BURST_MS)
      prefixes.set(prefix, bucket)
    }
    return !bucket.tryTake(1, now)
  }

  /** Sends the body in quanta, each once every bucket it passes through allows. */
  const pump = async (from: http.IncomingMessage, to: http.ServerResponse, buckets: ReadonlyArray<TokenBucket>, isGet: boolean) => {
    try {
      for await (const data of from as AsyncIterable<Buffer>) {
        for (let offset = 0; offset < data.length; offset += QUANTUM) {
          const piece = data.subarray(offset, offset + QUANTUM)
          const wait = TokenBucket.reserveAll(buckets, piece.length, performance.now())
          // Waits under a millisecond stay within the burst allowance: not worth a timer.
          if (wait >= 1) await sleep(wait)
          if (to.destroyed) return
          if (isGet) counts.getBodyBytes += piece.length
          if (!to.write(piece)) await drained(to)
        }
      }
      to.end()
    } catch {
      to.destroy()
    }
  }

  const server = http.createServer((req, res) => {
    const arrived = performance.now()
    const model = settings
    const method = req.method ?? "GET"
    if (method === "GET") counts.gets++
    if (method === "HEAD") counts.heads++
    const firstByteAt = arrived + model.latencyMs
    const untilFirstByte = () => sleep(firstByteAt - performance.now())

    if ((method === "GET" || method === "HEAD") && throttled(req.url ?? "/", arrived)) {
      if (method === "GET") counts.slowdowns++
      req.resume()
      void untilFirstByte().then(() => res.destroyed || slowDown(res))
      return
    }

    const buckets = [connectionBucket(req.socket), total].filter((bucket): bucket is TokenBucket => bucket !== undefined)
    // The Host header is kept as the client signed it.
    const forward = http.request({
      host: upstream.hostname,
      port: upstream.port,
      method,
      path: req.url,
      headers: req.headers,
      agent
    }, (upstreamRes) => {
      // A client that walks away (a reader abandoning a body it no longer needs) frees the upstream too.
      res.on("close", () => res.writableFinished || upstreamRes.destroy())
      void untilFirstByte().then(() => {
        if (res.destroyed) {
          upstreamRes.destroy()
          return
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? "", upstreamRes.headers)
        return pump(upstreamRes, res, buckets, method === "GET")
      })
    })
    forward.on("error", () => res.destroy())
    res.on("close", () => res.writableFinished || forward.destroy())
    req.pipe(forward)
  })

  const { endpoint, close } = await listenOnLoopback(server, agent)
  return {
    endpoint,
    configure: (next) => {
      settings = next
      random = mulberry32(next.seed)
      total = bucketFor(next.totalMBps, BURST_MS)
      prefixes = new Map()
      connections = new WeakMap()
    },
    counters: () => ({ ...counts }),
    close
  }
}

/** The proxy for the enclosing scope, closed with it. */
export const scoped = (target: string, initial: ModelSettings) =>
  Effect.acquireRelease(Effect.promise(() => start(target, initial)), (proxy) => Effect.promise(proxy.close))

/** The settings in one line, for people. */
export const describe = (settings: ModelSettings): string => {
  const rate = (value: number, unit: string) => (Number.isFinite(value) ? `${round(value)} ${unit}` : "unlimited")
  return [
    `first byte after ${round(settings.latencyMs)} ms`,
    `${rate(settings.connMBps, "MB/s")} per connection`,
    `${rate(settings.totalMBps, "MB/s")} in total`,
    `${rate(settings.getRate, "GET/s")} per prefix`,
    `${round(settings.slowdownRate * 100)}% of requests answered 503 SlowDown`
  ].join(", ")
}

/** The three numbers that set the pace, for a chart's subtitle. */
export const brief = (settings: ModelSettings): string => {
  const rate = (value: number) => (Number.isFinite(value) ? `${round(value)} MB/s` : "unlimited")
  return `${round(settings.latencyMs)} ms to first byte, ${rate(settings.connMBps)} per connection, ${rate(settings.totalMBps)} in total`
}

const round = (value: number) => (Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 10) / 10).toString()
