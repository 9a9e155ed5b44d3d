// The baseline of bench/run.ts: the tutorial's protocol on a plain node:net server, no Effect.
// Every read is decoded as GBK with one streaming decoder per connection; a read that completes at least one
// character gets the pre-encoded GBK reply, as effect-tcp-server does.
// Usage: node dist-bench/plain-server.js [--port N] [--log]
//   --port N  port on 127.0.0.1 (default 0: an ephemeral port); prints "listening on 127.0.0.1:PORT"
//   --log     print the tutorial's lines (connect, every message, disconnect) on stdout, with console.log
import Iconv from "iconv-lite"
import * as Net from "node:net"

const args = process.argv.slice(2)
let port = 0
let log = false
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--port") port = Number(args[++i])
  else if (args[i] === "--log") log = true
  else {
    console.error(`plain-server: unknown argument ${args[i]} (usage: plain-server.js [--port N] [--log])`)
    process.exit(2)
  }
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`plain-server: --port must be a whole number from 0 to 65535`)
  process.exit(2)
}

const reply = Iconv.encode("ok，问题正在处理中...", "gbk")
const sockets = new Set<Net.Socket>()

const server = Net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket)
  const peer = `('${socket.remoteAddress}', ${socket.remotePort})`
  if (log) console.log(`客户端连接成功: ${peer}`)
  const decoder = Iconv.getDecoder("gbk")
  socket.on("data", (chunk: Buffer) => {
    const text = decoder.write(chunk)
    if (text.length === 0) return
    if (log) console.log(`${text} ${peer}`)
    socket.write(reply)
  })
  socket.on("error", () => {})
  socket.on("close", () => {
    sockets.delete(socket)
    if (log) console.log(`客户端下线了: ${peer}`)
  })
})

server.on("error", (error) => {
  console.error(`plain-server: ${error.message}`)
  process.exit(1)
})

server.listen({ host: "127.0.0.1", port }, () => {
  const address = server.address()
  console.log(`listening on 127.0.0.1:${typeof address === "object" && address !== null ? address.port : port}`)
})

const stop = () => {
  server.close(() => process.exit(0))
  for (const socket of sockets) socket.destroy()
  setTimeout(() => process.exit(0), 2000).unref()
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
