/**
 * The S3-compatible server every bench suite measures against: s3rver on 127.0.0.1 with a
 * fresh temporary directory and one bucket, plus a plain SDK client that uploads the bench
 * objects (synthetic, or a local file) straight to it (not through the model). s3rver is a development dependency, so it is loaded
 * only when a bench starts.
 */
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import * as Effect from "effect/Effect"
import type { Scope } from "effect/Scope"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import type * as http from "node:http"
import { createRequire } from "node:module"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { BenchError } from "./BenchError.js"
import { blocks } from "./SyntheticObject.js"

/** The credentials s3rver accepts (it checks the key id, not the signature's secret). */
export const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const
export const REGION = "us-east-1"
export const BUCKET = "s3split-bench"

/** The environment a child process needs to reach the server with the default credential chain. */
export const credentialsEnv: Record<string, string> = {
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  AWS_REGION: REGION,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
}

/** A plain SDK client for s3rver at `endpoint`, configured as s3split configures one for custom endpoints. */
export const clientFor = (endpoint: string): S3Client => {
  // The SDK's notice that it will need Node 22 from 2027 is noise here.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  return new S3Client({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
}

interface S3rverInstance {
  run(): Promise<net.AddressInfo>
  close(): Promise<void>
  readonly httpServer?: http.Server
}
type S3rverConstructor = new(options: Record<string, unknown>) => S3rverInstance

export interface LocalS3 {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  /**
   * Writes the synthetic object of `size` bytes (seed `seed`) to `key` in `BUCKET`, streamed;
   * it is removed again when the enclosing scope closes.
   */
  readonly upload: (key: string, size: number, seed: number) => Effect.Effect<void, BenchError, Scope>
  /** Writes the local file `file` to `key` in `BUCKET`, streamed; removed when the enclosing scope closes. */
  readonly uploadFile: (key: string, file: string) => Effect.Effect<void, BenchError, Scope>
}

const loadS3rver = Effect.try({
  try: () => createRequire(import.meta.url)("s3rver") as S3rverConstructor,
  catch: () => new BenchError({ reason: "the bench needs the development dependencies (s3rver): run npm ci" })
})

const failure = (what: string) => (error: unknown) =>
  new BenchError({ reason: `${what}: ${error instanceof Error ? error.message : String(error)}` })

/** s3rver, its bucket and an upload client for the enclosing scope; all removed when it closes. */
export const scoped: Effect.Effect<LocalS3, BenchError, Scope> = Effect.gen(function*() {
  const S3rver = yield* loadS3rver
  const directory = yield* Effect.acquireRelease(
    Effect.tryPromise({ try: () => fs.mkdtemp(path.join(os.tmpdir(), "s3split-bench-s3rver-")), catch: failure("temporary directory") }),
    (directory) => Effect.promise(() => fs.rm(directory, { recursive: true, force: true }))
  )
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, vhostBuckets: false })
  const address = yield* Effect.acquireRelease(
    Effect.tryPromise({ try: () => server.run(), catch: failure("cannot start s3rver") }),
    () =>
      Effect.promise(() => {
        // Keep-alive sockets of clients would otherwise hold `close` open.
        server.httpServer?.closeAllConnections()
        return server.close()
      })
  )
  const endpoint = `http://127.0.0.1:${address.port}`
  const client = yield* Effect.acquireRelease(Effect.sync(() => clientFor(endpoint)), (client) =>
    Effect.sync(() => client.destroy()))
  yield* Effect.tryPromise({
    try: (abortSignal) => client.send(new CreateBucketCommand({ Bucket: BUCKET }), { abortSignal }),
    catch: failure("cannot create the bench bucket")
  })

  const put = (key: string, body: () => Readable, size: number) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: (abortSignal) =>
          client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body(), ContentLength: size }), { abortSignal }),
        catch: failure(`cannot upload ${key}`)
      }),
      () => Effect.ignore(Effect.tryPromise((abortSignal) => client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }), { abortSignal })))
    ).pipe(Effect.asVoid)
  const upload = (key: string, size: number, seed: number) => put(key, () => Readable.from(blocks(size, seed)), size)
  const uploadFile = (key: string, file: string) =>
    Effect.flatMap(
      Effect.tryPromise({ try: () => fs.stat(file), catch: failure(`cannot read ${file}`) }),
      (stat) => put(key, () => createReadStream(file, { highWaterMark: 1024 * 1024 }), stat.size)
    )

  return { endpoint, upload, uploadFile }
})
