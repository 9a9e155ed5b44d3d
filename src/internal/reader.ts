import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import type * as Net from "node:net"
import { ConnectionError } from "../Connection.js"
import type * as Registry from "./registry.js"
import * as Tally from "./tally.js"
import * as WakeUp from "./wakeUp.js"

/**
 * What a reader has right now.
 *
 * @internal
 */
export type Read =
  | { readonly _tag: "Chunk"; readonly bytes: Buffer }
  | { readonly _tag: "Wait" }
  | { readonly _tag: "End" }
  | { readonly _tag: "Fail"; readonly error: ConnectionError }

const wait: Read = { _tag: "Wait" }
const end: Read = { _tag: "End" }

/**
 * The input side of a socket, and the wake-up its consumer waits on. `poll` takes what arrived since the last
 * call, or says why there is nothing; `notify` (inherited) runs when there may be something new. Nothing is read
 * from the kernel beyond the socket's high-water mark until the next poll, so a slow consumer makes a fast client
 * wait in TCP flow control.
 *
 * One object per connection (a class, its methods on the prototype; the registry watches it directly), and one
 * function of its own, `onData`, besides the inherited `notify`.
 *
 * @internal
 */
export class Reader extends WakeUp.WakeUp implements Registry.Watched {
  since: number | undefined = undefined
  expired = false
  // Flowing mode, with the chunks kept here until polled: a chunk that arrives while the reader waits is
  // handed over at once; past the high-water mark the socket is paused (this costs less per message than
  // paused mode's 'readable' and read()).
  private chunks: Array<Buffer> = []
  private queued = 0
  private paused = false
  private discarding = false

  constructor(
    private readonly socket: Net.Socket,
    private readonly registry: Registry.Registry,
    private readonly clock: Clock.Clock,
    private readonly idleTimeout: Duration.Duration | undefined,
    private readonly tally: Tally.Tally
  ) {
    super()
    socket.on("data", this.onData)
    socket.on("end", this.notify)
    // No 'error' listener: a socket that fails is destroyed and emits 'close' next, and `poll` reads the error.
    socket.on("close", this.notify)
    registry.readers.add(this)
  }

  protected override onWait(): void {
    this.since = this.clock.unsafeCurrentTimeMillis()
  }

  private readonly onData = (chunk: Buffer): void => {
    Tally.received(this.tally, chunk.length)
    if (this.discarding) return
    this.chunks.push(chunk)
    this.queued += chunk.length
    if (this.queued >= this.socket.readableHighWaterMark && !this.paused) {
      this.paused = true
      this.socket.pause()
    }
    this.notify()
  }

  poll(): Read {
    this.since = undefined
    if (this.registry.draining) return end
    const chunks = this.chunks
    if (chunks.length > 0) {
      // pop() rather than `length = 0` for the usual single chunk: setting an array's length is a runtime call.
      const bytes = chunks.length === 1 ? chunks.pop() : Buffer.concat(chunks.splice(0), this.queued)
      this.queued = 0
      this.resume()
      if (bytes !== undefined) return { _tag: "Chunk", bytes }
    }
    const socket = this.socket
    if (socket.errored !== null) {
      return { _tag: "Fail", error: new ConnectionError({ reason: "Read", cause: socket.errored }) }
    }
    if (socket.readableEnded || socket.destroyed) return end
    if (this.expired) {
      return { _tag: "Fail", error: new ConnectionError({ reason: "IdleTimeout", timeout: this.idleTimeout }) }
    }
    return wait
  }

  /** Whether the server is shutting down: frames read but not yet handled are then dropped. */
  draining(): boolean {
    return this.registry.draining
  }

  /** Stops reporting to the registry and from now on reads and discards whatever arrives. */
  discard(): void {
    this.clear()
    this.registry.readers.delete(this)
    this.discarding = true
    this.chunks = []
    this.queued = 0
    this.resume()
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false
      this.socket.resume()
    }
  }
}

/** @internal */
export const make = (
  socket: Net.Socket,
  registry: Registry.Registry,
  clock: Clock.Clock,
  idleTimeout: Duration.Duration | undefined,
  tally: Tally.Tally
): Reader => new Reader(socket, registry, clock, idleTimeout, tally)
