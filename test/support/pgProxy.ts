/**
 * A TCP proxy in front of PostgreSQL that can lose one connection exactly at a `COMMIT`: before the server gets it
 * (the transaction rolls back) or after the server answered it (it committed, and the client never hears so). The
 * two outcomes a client cannot tell apart, made on demand, which no timing of `pg_terminate_backend` makes reliably.
 */
import * as net from "node:net"

export type CommitLoss = "before-commit" | "after-commit"

export interface PgProxy {
  readonly port: number
  /** The next `COMMIT` any connection sends is lost this way, once. */
  loseNextCommit(loss: CommitLoss): void
  /** Whether the armed loss has happened. */
  readonly lost: () => boolean
  /** The database goes away: every connection is cut, and new ones are refused until `restore`. */
  cut(): void
  restore(): void
  close(): Promise<void>
}

const commitText = Buffer.from("COMMIT")

export const startPgProxy = (target = { host: "127.0.0.1", port: 5432 }): Promise<PgProxy> =>
  new Promise((resolve, reject) => {
    let armed: CommitLoss | undefined
    let happened = false
    const sockets = new Set<net.Socket>()
    let down = false
    const server = net.createServer((client) => {
      if (down) return client.destroy()
      const upstream = net.connect(target)
      sockets.add(client).add(upstream)
      let dropOnAnswer = false
      const drop = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on("data", (chunk) => {
        if (armed !== undefined && chunk.includes(commitText)) {
          const loss = armed
          armed = undefined
          happened = true
          if (loss === "before-commit") return drop()
          dropOnAnswer = true
        }
        upstream.write(chunk)
      })
      upstream.on("data", (chunk) => {
        if (dropOnAnswer) return drop()
        client.write(chunk)
      })
      for (const socket of [client, upstream]) {
        socket.on("error", drop)
        socket.on("close", () => {
          sockets.delete(socket)
          drop()
        })
      }
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        loseNextCommit: (loss) => {
          armed = loss
          happened = false
        },
        lost: () => happened,
        cut: () => {
          down = true
          for (const socket of sockets) socket.destroy()
        },
        restore: () => {
          down = false
        },
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }),
      })
    })
  })
