#!/usr/bin/env node
// The floor of the design: the smallest server with the architecture this project is asked to have, written
// plainly with Effect, for `node bench/run.mjs --ours bench/floor-server.mjs`. The accept loop is a Stream of
// sockets; each connection runs in a daemon fiber (Effect.forkDaemon, tracked in a FiberSet) with a Scope of its
// own that closes the socket; the per-client logic is an Effect loop: wait for data, decode GBK with a streaming
// decoder, log the line (unless --quiet), write the pre-encoded reply. Log lines go through Effect's Logger to
// dist/LineLogger.js's batched writer, as the CLI's do.
//
// It has none of the server's guarantees (no backpressure, limits, timeouts, framing or graceful shutdown), so
// what it costs is a lower bound for any server built this way: compare its ratios with those of dist/bin.js.
// Accepted sockets are handed to the accept loop by the server's own pacer (dist/internal/pacer.js: 16 at a
// time while they keep arriving less than 0.5 ms apart, at most every 10 ms); --unpaced hands each on at once.
// Usage: node bench/floor-server.mjs serve --host 127.0.0.1 --port N [--backlog N] [--quiet] [--unpaced]
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import Iconv from "iconv-lite"
import * as Net from "node:net"
import * as Pacer from "../dist/internal/pacer.js"
import * as LineLogger from "../dist/LineLogger.js"

const args = process.argv.slice(2)
let port = 0
let host = "127.0.0.1"
let backlog = 511
let quiet = false
let paced = true
for (let i = 0; i < args.length; i++) {
  if (args[i] === "serve") continue
  else if (args[i] === "--port") port = Number(args[++i])
  else if (args[i] === "--host") host = args[++i]
  else if (args[i] === "--backlog") backlog = Number(args[++i])
  else if (args[i] === "--quiet") quiet = true
  else if (args[i] === "--unpaced") paced = false
  else {
    console.error(`floor-server: unknown argument ${args[i]}`)
    process.exit(2)
  }
}

const reply = Iconv.encode("ok，问题正在处理中...", "gbk")

/** One connection: the tutorial's protocol as an Effect loop, one wait per read. */
const handle = (socket) =>
  Effect.suspend(() => {
    const peer = `('${socket.remoteAddress}', ${socket.remotePort})`
    const decoder = Iconv.getDecoder("gbk")
    const chunks = []
    let ended = false
    let waiter
    const wake = () => {
      const resume = waiter
      waiter = undefined
      resume?.(Effect.void)
    }
    socket.on("data", (chunk) => {
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
    const wait = Effect.async((resume) => {
      waiter = resume
    })
    const loop = Effect.suspend(() => {
      if (chunks.length > 0) {
        const text = decoder.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
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

const serve = (socket, scope) =>
  Scope.addFinalizer(scope, Effect.sync(() => socket.destroy())).pipe(
    Effect.zipRight(Effect.exit(handle(socket))),
    Effect.flatMap((exit) => Scope.close(scope, exit))
  )

const program = Effect.gen(function*() {
  const waiting = []
  let waiter
  const handOn = (sockets) => {
    for (const socket of sockets) waiting.push(socket)
    const resume = waiter
    waiter = undefined
    resume?.(Effect.void)
  }
  const pacer = paced ? Pacer.make(handOn) : undefined
  const server = Net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on("error", () => {})
    if (pacer === undefined) handOn([socket])
    else pacer.add(socket)
  })
  yield* Effect.acquireRelease(
    Effect.async((resume) => {
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen({ host, port, backlog }, () => resume(Effect.void))
    }),
    () => Effect.async((resume) => server.close(() => resume(Effect.void)))
  )
  console.log(`listening on ${host}:${server.address().port}`)
  const fibers = yield* FiberSet.make()
  const pull = Effect.suspend(() =>
    waiting.length > 0
      ? Effect.succeed(Chunk.unsafeFromArray(waiting.splice(0)))
      : Effect.zipRight(Effect.async((resume) => void (waiter = resume)), pull)
  )
  const accepted = Stream.repeatEffectChunkOption(Effect.mapError(pull, Option.some))
  yield* Stream.runForEach(accepted, (socket) =>
    Effect.flatMap(Scope.make(), (scope) =>
      Effect.forkDaemon(serve(socket, scope)).pipe(Effect.flatMap((fiber) => FiberSet.add(fibers, fiber)))).pipe(
        Effect.uninterruptible
      ))
})

const logging = Layer.merge(LineLogger.layer, quiet ? Logger.minimumLogLevel(LogLevel.Warning) : Layer.empty)
const fiber = Effect.runFork(Effect.scoped(program).pipe(Effect.provide(logging)))
const stop = () => {
  Effect.runFork(fiber.interruptAsFork(fiber.id()))
  fiber.addObserver(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
