// The floor of the design: the smallest server with the architecture this project is asked to have, written
// plainly with Effect, as the reference column of bench/run.ts. The accept loop is a Stream of sockets; each
// connection runs in a daemon fiber (Effect.forkDaemon, tracked in a FiberSet) with a Scope of its own that closes
// the socket; the per-client logic is an Effect loop: wait for data, decode GBK with a streaming decoder, log the
// line (unless --quiet), write the pre-encoded reply. Log lines go through Effect's Logger to the library's public
// LineLogger (the batched writer the CLI uses).
//
// It has none of the server's guarantees (no backpressure, limits, timeouts, framing or graceful shutdown), so
// what it costs is a lower bound for any server built this way. Each accepted socket is handed to the accept loop
// at once (the paced variant of earlier runs is gone with the server's pacer under review).
// Usage: node dist-bench/floor-server.js [serve] --host 127.0.0.1 --port N [--backlog N (511)] [--quiet]
//                                        [--variant stream|direct|no-fiber]
// --variant takes the design apart, to show what each part costs (BENCHMARKS.md, "What a connection costs"):
// `stream` (the default) is the design; `direct` forks each connection's fiber (and its scope) from the socket's
// callback through FiberSet.makeRuntime, without the Stream; `no-fiber` serves the protocol in the socket's
// callbacks, with no fiber and no scope (plain node:net with this file's decoder; with --quiet only).
import * as LineLogger from "effect-tcp-server/LineLogger"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import Iconv from "iconv-lite"
import * as Net from "node:net"

const args = process.argv.slice(2)
let port = 0
let host = "127.0.0.1"
let backlog = 511
let quiet = false
let variant: "stream" | "direct" | "no-fiber" = "stream"
for (let i = 0; i < args.length; i++) {
  const arg = args[i]
  if (arg === "serve") continue
  else if (arg === "--port") port = Number(args[++i])
  else if (arg === "--host") host = args[++i] ?? host
  else if (arg === "--backlog") backlog = Number(args[++i])
  else if (arg === "--quiet") quiet = true
  else if (arg === "--variant") {
    const value = args[++i]
    if (value !== "stream" && value !== "direct" && value !== "no-fiber") {
      console.error(`floor-server: --variant must be stream, direct or no-fiber`)
      process.exit(2)
    }
    variant = value
  } else {
    console.error(`floor-server: unknown argument ${arg}`)
    process.exit(2)
  }
}

if (variant === "no-fiber" && !quiet) {
  console.error("floor-server: --variant no-fiber logs nothing: run it with --quiet")
  process.exit(2)
}

const reply = Iconv.encode("ok，问题正在处理中...", "gbk")

type Resume = (effect: Effect.Effect<void>) => void

/** One connection: the tutorial's protocol as an Effect loop, one wait per read. */
const handle = (socket: Net.Socket): Effect.Effect<void> =>
  Effect.suspend(() => {
    const peer = `('${socket.remoteAddress}', ${socket.remotePort})`
    const decoder = Iconv.getDecoder("gbk")
    const chunks: Array<Buffer> = []
    let ended = false
    let waiter: Resume | undefined
    const wake = () => {
      const resume = waiter
      waiter = undefined
      resume?.(Effect.void)
    }
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      wake()
    })
    socket.on("end", () => {
      ended = true
      wake()
    })
    socket.on("close", () => {
      ended = true
      wake()
    })
    const wait = Effect.async<void>((resume) => {
      waiter = resume
    })
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (chunks.length > 0) {
        const text = decoder.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
        chunks.length = 0
        if (text.length === 0) return loop
        return Effect.logInfo(`${text} ${peer}`).pipe(
          Effect.zipRight(Effect.sync(() => socket.write(reply))),
          Effect.zipRight(loop)
        )
      }
      return ended ? Effect.void : Effect.zipRight(wait, loop)
    })
    return Effect.logInfo(`客户端连接成功: ${peer}`).pipe(
      Effect.zipRight(loop),
      Effect.ensuring(Effect.logInfo(`客户端下线了: ${peer}`))
    )
  })

const serve = (socket: Net.Socket, scope: Scope.CloseableScope) =>
  Scope.addFinalizer(scope, Effect.sync(() => socket.destroy())).pipe(
    Effect.zipRight(Effect.exit(handle(socket))),
    Effect.flatMap((exit) => Scope.close(scope, exit))
  )

/** The `no-fiber` variant (quiet only): the same protocol in the socket's callbacks. */
const serveInCallbacks = (socket: Net.Socket): void => {
  const decoder = Iconv.getDecoder("gbk")
  socket.on("data", (chunk: Buffer) => {
    if (decoder.write(chunk).length > 0) socket.write(reply)
  })
  socket.on("end", () => socket.destroy())
}

const program = Effect.gen(function*() {
  const waiting: Array<Net.Socket> = []
  let waiter: Resume | undefined
  let direct: ((effect: Effect.Effect<void>) => unknown) | undefined
  const server = Net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on("error", () => {})
    if (variant === "no-fiber") return serveInCallbacks(socket)
    if (direct !== undefined) {
      direct(Effect.flatMap(Scope.make(), (scope) => serve(socket, scope)))
      return
    }
    waiting.push(socket)
    const resume = waiter
    waiter = undefined
    resume?.(Effect.void)
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen({ host, port, backlog }, () => resume(Effect.void))
    }),
    () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )
  const address = server.address()
  console.log(`listening on ${host}:${typeof address === "object" && address !== null ? address.port : port}`)
  const fibers = yield* FiberSet.make()
  if (variant !== "stream") {
    direct = yield* FiberSet.makeRuntime<never, void, never>()
    return yield* Effect.never
  }
  const pull: Effect.Effect<Chunk.Chunk<Net.Socket>> = Effect.suspend(() =>
    waiting.length > 0
      ? Effect.succeed(Chunk.unsafeFromArray(waiting.splice(0)))
      : Effect.zipRight(Effect.async<void>((resume) => void (waiter = resume)), pull)
  )
  const accepted = Stream.repeatEffectChunkOption(Effect.mapError(pull, Option.some))
  yield* Stream.runForEach(
    accepted,
    (socket) =>
      Effect.flatMap(
        Scope.make(),
        (scope) => Effect.forkDaemon(serve(socket, scope)).pipe(Effect.flatMap((fiber) => FiberSet.add(fibers, fiber)))
      ).pipe(
        Effect.uninterruptible
      )
  )
})

const logging = Layer.merge(LineLogger.layer, quiet ? Logger.minimumLogLevel(LogLevel.Warning) : Layer.empty)
const fiber = Effect.runFork(Effect.scoped(program).pipe(Effect.provide(logging)))
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) {
    console.error(`floor-server: ${String(exit.cause)}`)
    process.exit(1)
  }
})
const stop = () => {
  Effect.runFork(fiber.interruptAsFork(fiber.id()))
  fiber.addObserver(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
