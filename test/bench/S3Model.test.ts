/**
 * The S3 model: token-bucket arithmetic on a clock the test controls, the slow-down that keeps
 * ratios, and the proxy's forwarding, counting and throttling against a plain HTTP server (no timing
 * asserted: only what the proxy forwarded, answered and counted).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as http from "node:http"
import type * as net from "node:net"
import * as S3Model from "../../src/bench/S3Model.js"
import { TokenBucket } from "../../src/bench/TokenBucket.js"

describe("TokenBucket", () => {
  it("lets a burst through at once, then paces at its rate", () => {
    // 1000 units per second = 1 per ms, with a 10 ms burst.
    const bucket = new TokenBucket(1000, 10)
    expect(TokenBucket.reserveAll([bucket], 10, 0)).toBe(0)
    expect(TokenBucket.reserveAll([bucket], 10, 0)).toBe(0)
    // 20 units are reserved up to t = 20; the next may go once 20 - 10 = 10 has come.
    expect(TokenBucket.reserveAll([bucket], 5, 0)).toBe(10)
    expect(TokenBucket.reserveAll([bucket], 5, 30)).toBe(0)
  })

  it("reserves in several buckets for the moment the slowest allows", () => {
    const connection = new TokenBucket(1000, 0)
    const total = new TokenBucket(500, 0)
    expect(TokenBucket.reserveAll([connection, total], 100, 0)).toBe(0)
    // The connection is free at 100 ms, the shared bucket only at 200 ms.
    expect(TokenBucket.reserveAll([connection, total], 100, 0)).toBe(200)
  })

  it("refuses what it cannot take now without reserving it", () => {
    const bucket = new TokenBucket(2, 500)
    expect(bucket.tryTake(1, 0)).toBe(true)
    expect(bucket.tryTake(1, 0)).toBe(true)
    expect(bucket.tryTake(1, 0)).toBe(false)
    expect(bucket.tryTake(1, 500)).toBe(true)
  })
})

describe("model scaling", () => {
  it("slows every rate down and every latency up by the same factor", () => {
    const slow = S3Model.scaled(S3Model.lambdaDefaults, 4)
    expect(slow).toMatchObject({ latencyMs: 100, connMBps: 22.5, totalMBps: 312.5, getRate: 1375, slowdownRate: 0 })
  })
})

describe("model proxy", () => {
  const BODY = Buffer.alloc(200_000, 0x61)
  let upstream: http.Server | undefined
  let target = ""

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      req.resume()
      res.writeHead(200, { "content-length": req.method === "HEAD" ? 0 : BODY.length })
      res.end(req.method === "HEAD" ? undefined : BODY)
    })
    await new Promise<void>((resolve) => upstream!.listen(0, "127.0.0.1", resolve))
    target = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`
  })
  afterAll(async () => {
    upstream?.closeAllConnections()
    await new Promise((resolve) => upstream?.close(resolve))
  })

  const get = (endpoint: string, path: string) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      http.get(`${endpoint}${path}`, (res) => {
        const pieces: Array<Buffer> = []
        res.on("data", (piece: Buffer) => pieces.push(piece))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(pieces) }))
      }).on("error", reject)
    })

  it("forwards bodies whole under caps and counts GETs and body bytes", async () => {
    const proxy = await S3Model.start(target, { ...S3Model.lambdaDefaults, latencyMs: 1, connMBps: 50, totalMBps: 100 })
    try {
      const answers = await Promise.all([get(proxy.endpoint, "/b/k1"), get(proxy.endpoint, "/b/k2")])
      expect(answers.map((answer) => [answer.status, answer.body.equals(BODY)])).toEqual([[200, true], [200, true]])
      expect(proxy.counters()).toEqual({ gets: 2, heads: 0, slowdowns: 0, getBodyBytes: 2 * BODY.length })
    } finally {
      await proxy.close()
    }
  })

  it("answers a seeded fraction of requests 503 SlowDown, the same ones for the same seed", async () => {
    const outcomes = async () => {
      const proxy = await S3Model.start(target, { ...S3Model.unlimited, slowdownRate: 0.3, seed: 7 })
      try {
        const statuses: Array<number> = []
        for (let i = 0; i < 40; i++) statuses.push((await get(proxy.endpoint, `/b/k${i}`)).status)
        return { statuses, counters: proxy.counters() }
      } finally {
        await proxy.close()
      }
    }
    const first = await outcomes()
    const second = await outcomes()
    expect(second.statuses).toEqual(first.statuses)
    const throttled = first.statuses.filter((status) => status === 503).length
    expect(throttled).toBeGreaterThan(0)
    expect(throttled).toBeLessThan(40)
    expect(first.counters.slowdowns).toBe(throttled)
    expect(first.counters.getBodyBytes).toBe((40 - throttled) * BODY.length)
  })

  it("answers 503 SlowDown above the request rate of a prefix, and not for another prefix", async () => {
    // One request per second per prefix, with a burst of one second: the third at once is refused.
    const proxy = await S3Model.start(target, { ...S3Model.unlimited, getRate: 1 })
    try {
      const statuses = [
        (await get(proxy.endpoint, "/b/p/1")).status,
        (await get(proxy.endpoint, "/b/p/2")).status,
        (await get(proxy.endpoint, "/b/p/3")).status,
        (await get(proxy.endpoint, "/b/q/1")).status
      ]
      expect(statuses).toEqual([200, 200, 503, 200])
    } finally {
      await proxy.close()
    }
  })
})
