/**
 * Starts an HTTP server on 127.0.0.1 at a free port: the one way the bench's proxy and the
 * test and measurement servers listen, and the one way they stop (open connections dropped,
 * the upstream agent, if any, destroyed).
 */
import type * as http from "node:http"
import type * as net from "node:net"

export interface Listening {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  readonly close: () => Promise<void>
}

export const listenOnLoopback = (server: http.Server, agent?: http.Agent): Promise<Listening> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            agent?.destroy()
            server.close(() => done())
          })
      })
    })
  })
