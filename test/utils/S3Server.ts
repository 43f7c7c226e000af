/**
 * A real S3-compatible server for integration tests: s3rver on 127.0.0.1, a random free port
 * and a fresh temporary directory, silent. `start` / `close` for plain hooks, `scoped` and
 * `S3Server.layer` for Effect (`layer(S3Server.layer, { excludeTestServices: true })`), and a
 * raw `@aws-sdk/client-s3` client to seed buckets and objects behind the code under test.
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from "@aws-sdk/client-s3"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { clientFor, CREDENTIALS, REGION } from "../../src/bench/LocalS3.js"

export { CREDENTIALS, REGION }

/** The environment a process needs to reach the test server with the default credential chain. */
export const credentialsEnv = {
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  AWS_REGION: REGION
} as const

/** Sets `credentialsEnv` in this process (for clients built by the code under test). */
export const useTestCredentials = () =>
  Object.assign(process.env, credentialsEnv, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" })

/** The little of s3rver's API used here (the package ships no types). */
interface S3rverInstance {
  run(): Promise<net.AddressInfo>
  close(): Promise<void>
  readonly httpServer?: http.Server
}
type S3rverConstructor = new(options: Record<string, unknown>) => S3rverInstance
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor

export interface S3ServerHandle {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  /** Stops the server (dropping open connections) and removes its directory. */
  readonly close: () => Promise<void>
  /** s3rver's HTTP server, to observe its connections and requests (a bench counts them). */
  readonly httpServer: http.Server | undefined
}

export const start = async (): Promise<S3ServerHandle> => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "s3split-s3rver-"))
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, vhostBuckets: false })
  let address: net.AddressInfo
  try {
    address = await server.run()
  } catch (error) {
    await fs.rm(directory, { recursive: true, force: true })
    throw error
  }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    httpServer: server.httpServer,
    close: async () => {
      // Keep-alive sockets of clients would otherwise hold `close` open.
      server.httpServer?.closeAllConnections()
      await server.close().finally(() => fs.rm(directory, { recursive: true, force: true }))
    }
  }
}

/** The server for the enclosing scope. */
export const scoped = Effect.acquireRelease(
  Effect.promise(start),
  (handle) => Effect.promise(handle.close)
)

export class S3Server extends Context.Tag("test/S3Server")<S3Server, S3ServerHandle>() {
  /** One server for every test sharing the layer, closed when the layer is released. */
  static readonly layer = Layer.scoped(S3Server, scoped)
}

/** A server, a raw client on it and a test bucket there, shared by the tests of one layer. */
export class Fixture extends Context.Tag("test/S3Fixture")<Fixture, { readonly endpoint: string; readonly client: S3Client }>() {}

/** `Fixture` with `bucket` created, on a server of its own that closes with the layer. */
export const fixture = (bucket: string) =>
  Layer.scoped(
    Fixture,
    Effect.gen(function*() {
      const { endpoint } = yield* S3Server
      const client = yield* rawClientScoped(endpoint)
      yield* Effect.promise(() => createBucket(client, bucket))
      return { endpoint, client }
    })
  ).pipe(Layer.provideMerge(S3Server.layer))

/** A plain SDK client for `endpoint`, configured as s3split configures one for custom endpoints. */
export const rawClient = clientFor

/** `rawClient` for the enclosing scope, destroyed with it. */
export const rawClientScoped = (endpoint: string) =>
  Effect.acquireRelease(Effect.sync(() => rawClient(endpoint)), (client) => Effect.sync(() => client.destroy()))

export const createBucket = (client: S3Client, bucket: string) =>
  client.send(new CreateBucketCommand({ Bucket: bucket })).then(() => undefined)

export const putObject = (client: S3Client, bucket: string, key: string, body: Uint8Array) =>
  client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })).then((response) => response.ETag)

/** One object to seed with `seedObjects`: its key, bytes and the headers to store with it. */
export interface SeedObject {
  readonly key: string
  readonly body: Uint8Array
  /** Content-Encoding to store (s3rver keeps it and answers it on GET and HEAD). */
  readonly contentEncoding?: string
}

/**
 * Puts `objects` into `bucket` on the test server, `concurrency` at a time: plain unsigned HTTP
 * PUTs (s3rver takes anonymous requests), about 2.5 times cheaper than SDK calls, for
 * seeding thousands of objects. Fails on the first answer that is not 200.
 */
export const seedObjects = async (endpoint: string, bucket: string, objects: ReadonlyArray<SeedObject>, concurrency = 32) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const putOne = (object: SeedObject) =>
    new Promise<void>((resolve, reject) => {
      const headers = {
        "content-length": object.body.length,
        ...(object.contentEncoding === undefined ? {} : { "content-encoding": object.contentEncoding })
      }
      const path = `/${bucket}/${object.key.split("/").map(encodeURIComponent).join("/")}`
      const request = http.request(`${endpoint}${path}`, { method: "PUT", agent, headers }, (response) => {
        response.resume()
        response.on("end", () => response.statusCode === 200 ? resolve() : reject(new Error(`PUT ${path}: ${response.statusCode}`)))
      })
      request.on("error", reject)
      request.end(object.body)
    })
  let next = 0
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, async () => {
      while (next < objects.length) await putOne(objects[next++]!)
    }))
  } finally {
    agent.destroy()
  }
}

/** The whole object, or undefined when it does not exist. */
export const getObject = async (client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> => {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    return Buffer.from(await response.Body!.transformToByteArray())
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined
    throw error
  }
}

/** The keys under `prefix`, sorted. */
export const listKeys = async (client: S3Client, bucket: string, prefix: string): Promise<Array<string>> => {
  const response = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (response.Contents ?? []).map((object) => object.Key!).sort()
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.on("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
