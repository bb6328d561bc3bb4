/**
 * Stopping the Node server within a bounded time, with an answer for every request that reached it. Node's own
 * `server.close()` fits neither half: it closes idle keep-alive sockets at once, a request already on its way over
 * one included, and then waits without bound for the rest, so a never-reading or slowloris client held a stopping
 * server for minutes. Here the server stops listening but keeps the sockets it accepted: what is in flight
 * finishes, a request arriving on them is refused with an answer (503, `Connection: close`, so the client closes
 * the socket), and once every socket is closed, or the drain time is over, the sockets left are destroyed.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { Server as NetServer, type Socket } from "node:net"
import { Duration, Effect } from "effect"

export class Drain {
  private server: Server | undefined = undefined
  private readonly sockets = new Set<Socket>()
  private readonly inFlight = new Set<ServerResponse>()
  private readonly late = new WeakSet<IncomingMessage>()
  private draining = false
  private onClosed: (() => void) | undefined = undefined

  /** Follows `server`'s sockets and requests; given the server before it listens. */
  readonly track = (server: Server): Server => {
    this.server = server
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket)
      socket.once("close", () => {
        this.sockets.delete(socket)
        if (this.sockets.size === 0) this.onClosed?.()
      })
    })
    // Prepended, so a request is marked before the platform's handler runs for it. One close handler for every
    // response (a response closes once): a closure and a `once` wrapper per request showed in the served register's
    // allocations.
    const inFlight = this.inFlight
    function closed(this: ServerResponse) {
      inFlight.delete(this)
    }
    server.prependListener("request", (request: IncomingMessage, response: ServerResponse) => {
      if (this.draining) {
        this.late.add(request)
        response.setHeader("connection", "close")
      }
      inFlight.add(response)
      response.on("close", closed)
    })
    return server
  }

  /** Whether the request arrived after the drain began: it is refused, not started. */
  readonly arrivedLate = (request: IncomingMessage): boolean => this.late.has(request)

  /**
   * The drain: stop listening, end the event streams (`endStreams`), wait until every socket is closed, at most
   * `drainMs`, then destroy the sockets left.
   */
  readonly run = (drainMs: number, endStreams: Effect.Effect<unknown>): Effect.Effect<void> =>
    Effect.gen(this, function* () {
      this.draining = true
      // Answers not begun yet tell the client not to reuse the socket; begun ones keep the headers they sent.
      for (const response of this.inFlight) if (!response.headersSent) response.setHeader("connection", "close")
      // Closing the listener resets the connections the kernel completed but Node has not accepted yet; a timer
      // and then an immediate put one poll phase of the event loop, which accepts them, before the close.
      yield* Effect.async<void>((resume) => {
        setTimeout(() => setImmediate(() => resume(Effect.void)), 0)
      })
      // net's close, not http's: http's also closes idle sockets, a request arriving on one included.
      if (this.server?.listening) NetServer.prototype.close.call(this.server)
      yield* endStreams
      // Finalizers run uninterruptibly, and a timeout cannot interrupt an uninterruptible wait: it would wait it out.
      yield* Effect.timeoutOption(Effect.interruptible(this.allClosed), Duration.millis(drainMs))
      for (const socket of this.sockets) socket.destroy()
    })

  private readonly allClosed = Effect.async<void>((resume) => {
    if (this.sockets.size === 0) return resume(Effect.void)
    this.onClosed = () => {
      this.onClosed = undefined
      resume(Effect.void)
    }
    return Effect.sync(() => {
      this.onClosed = undefined
    })
  })
}
