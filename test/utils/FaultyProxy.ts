/**
 * A reverse proxy on 127.0.0.1 in front of a test S3 server that injects faults by a
 * deterministic plan: per request it passes it on, answers 503 SlowDown, 500 InternalError or
 * 501 NotImplemented with a proper S3 XML body, forwards it and breaks the connection after k
 * bytes of the response body (the headers still announce the full Content-Length), or forwards
 * the headers and k bytes and then stalls, holding the connection open until the client
 * closes it. It records every request. `silentScoped` is a server that accepts connections
 * and never answers.
 */
import * as Effect from "effect/Effect"
import { listenOnLoopback } from "../../src/bench/Loopback.js"
import * as http from "node:http"
import * as net from "node:net"

export interface ProxiedRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** 0 for the first request the proxy receives, then 1, 2, ... */
  readonly n: number
}

export type Fault =
  | "pass"
  | "slowdown"
  | "500"
  | "501"
  | { readonly cutAfterBytes: number }
  | { readonly stallAfterBytes: number }
export type FaultPlan = (request: ProxiedRequest) => Fault

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly range: string | undefined
  readonly fault: Fault
}

export interface FaultyProxyHandle {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  /** Every request received so far, in arrival order, with the fault it met. */
  readonly requests: () => ReadonlyArray<RecordedRequest>
  /** Stalled responses whose client has not closed the connection yet. */
  readonly openStalls: () => number
  /** Stalled responses so far, open or closed. */
  readonly stalls: () => number
  readonly close: () => Promise<void>
}

/** Requests that started a multipart upload (CreateMultipartUpload). */
export const creates = (requests: ReadonlyArray<RecordedRequest>) =>
  requests.filter((r) => r.method === "POST" && /[?&]uploads(=|&|$)/.test(r.url)).length

/** Requests that aborted a multipart upload (AbortMultipartUpload). */
export const aborts = (requests: ReadonlyArray<RecordedRequest>) =>
  requests.filter((r) => r.method === "DELETE" && r.url.includes("uploadId=")).length

/** Part uploads and part copies (PUT with a part number). */
export const partPuts = (requests: ReadonlyArray<RecordedRequest>) =>
  requests.filter((r) => r.method === "PUT" && r.url.includes("partNumber=")).length

const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`

const answer = (res: http.ServerResponse, status: number, body: string) => {
  res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

/** Every GET whose number among GETs (0, 1, 2, ...) satisfies `pick` meets `fault`; the rest pass. */
export const onGets = (pick: (getNumber: number) => Fault): FaultPlan => {
  let gets = 0
  return (request) => (request.method === "GET" ? pick(gets++) : "pass")
}

const rangeOf = (request: RecordedRequest) => {
  const match = /^bytes=(\d+)-(\d+)$/.exec(request.range ?? "")
  return match === null ? undefined : { first: Number(match[1]), last: Number(match[2]) }
}

/**
 * How many cut bodies the client resumed: a cut GET followed by a GET for the rest of the same
 * range, starting at most `cutAfterBytes` further on (fewer when buffered bytes were lost).
 */
export const resumedCuts = (requests: ReadonlyArray<RecordedRequest>): number =>
  requests.filter((cut, i) => {
    const range = rangeOf(cut)
    if (typeof cut.fault !== "object" || !("cutAfterBytes" in cut.fault) || range === undefined) return false
    const k = cut.fault.cutAfterBytes
    return requests.slice(i + 1).some((later) => {
      const rest = rangeOf(later)
      return rest !== undefined && rest.last === range.last && rest.first >= range.first && rest.first <= range.first + k
    })
  }).length

/** How many requests were answered 503 SlowDown. */
export const slowdowns = (requests: ReadonlyArray<RecordedRequest>): number =>
  requests.filter((request) => request.fault === "slowdown").length

export const start = async (target: string, plan: FaultPlan): Promise<FaultyProxyHandle> => {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true })
  const recorded: Array<RecordedRequest> = []
  let openStalls = 0
  let stalls = 0

  const server = http.createServer((req, res) => {
    const request = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, n: recorded.length }
    const fault = plan(request)
    const range = req.headers["range"]
    recorded.push({ method: request.method, url: request.url, range: Array.isArray(range) ? range[0] : range, fault })

    if (fault === "slowdown" || fault === "500" || fault === "501") {
      // Drain the request body so the client sees the answer, not a reset while uploading.
      req.resume()
      req.on("end", () =>
        fault === "slowdown"
          ? answer(res, 503, s3Error("SlowDown", "Please reduce your request rate."))
          : fault === "500"
          ? answer(res, 500, s3Error("InternalError", "We encountered an internal error. Please try again."))
          : answer(res, 501, s3Error("NotImplemented", "A header you provided implies functionality that is not implemented")))
      return
    }

    // The Host header is kept as the client signed it.
    const forward = http.request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent
    }, (upstreamRes) => {
      // A client that walks away (a reader abandoning a body it no longer needs) frees the upstream too.
      res.on("close", () => res.writableFinished || upstreamRes.destroy())
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? "", upstreamRes.headers)
      if (fault === "pass") {
        upstreamRes.pipe(res)
        return
      }
      if ("stallAfterBytes" in fault) {
        stalls += 1
        openStalls += 1
        res.socket?.once("close", () => {
          openStalls -= 1
          upstreamRes.destroy()
        })
        let left = fault.stallAfterBytes
        res.flushHeaders()
        upstreamRes.on("data", (data: Buffer) => {
          if (left > 0) res.write(data.subarray(0, left))
          left -= Math.min(left, data.length)
          // Stop reading upstream: the rest of the body never comes.
          if (left === 0) upstreamRes.pause()
        })
        return
      }
      let left = fault.cutAfterBytes
      const cut = () => {
        upstreamRes.destroy()
        res.socket?.destroy()
      }
      if (left <= 0) {
        res.flushHeaders()
        res.write(Buffer.alloc(0), cut)
        return
      }
      upstreamRes.on("data", (data: Buffer) => {
        if (left <= 0) return
        const piece = data.subarray(0, left)
        left -= piece.length
        if (left > 0) res.write(piece)
        else res.write(piece, cut)
      })
      upstreamRes.on("end", () => res.end())
    })
    forward.on("error", () => res.socket?.destroy())
    res.on("close", () => res.writableFinished || forward.destroy())
    req.pipe(forward)
  })

  const { endpoint, close } = await listenOnLoopback(server, agent)
  return { endpoint, requests: () => [...recorded], openStalls: () => openStalls, stalls: () => stalls, close }
}

export interface SilentServerHandle {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Connections the client has not closed yet. */
  readonly open: () => number
}

/** A TCP server on 127.0.0.1 that accepts every connection and never sends a byte, for the scope. */
export const silentScoped = Effect.acquireRelease(
  Effect.async<{ handle: SilentServerHandle; server: net.Server; sockets: Set<net.Socket> }>((resume) => {
    const sockets = new Set<net.Socket>()
    let accepted = 0
    const server = net.createServer((socket) => {
      accepted += 1
      sockets.add(socket)
      socket.on("error", () => undefined)
      socket.on("close", () => sockets.delete(socket))
      socket.resume()
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resume(Effect.succeed({
        handle: { endpoint: `http://127.0.0.1:${port}`, accepted: () => accepted, open: () => sockets.size },
        server,
        sockets
      }))
    })
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ handle }) => handle))

/** The proxy for the enclosing scope. */
export const scoped = (target: string, plan: FaultPlan) =>
  Effect.acquireRelease(Effect.promise(() => start(target, plan)), (proxy) => Effect.promise(proxy.close))
