// Soak test: holds N connections to the built server at M messages per second in all for T seconds, and
// prints every few seconds the server's RSS, open descriptors, active connections and round-trip latency
// percentiles, then a verdict (stable or growing). Talks only to 127.0.0.1 and stops by itself.
// Compiled like bench/run.ts (tsconfig.bench.json, to dist-bench/); it starts the built CLI, dist/bin.js.
//
//   npm run soak -- --connections 2000 --rate 2000 --duration 300 [--every 5]
import iconv from "iconv-lite"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"

const args = new Map<string, string>()
{
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i] ?? ""
    const value = argv[i + 1]
    if (!["--connections", "--rate", "--duration", "--every"].includes(name) || value === undefined) {
      console.error(`soak: unexpected ${name} (usage: soak [--connections N] [--rate N] [--duration S] [--every S])`)
      process.exit(2)
    }
    args.set(name.slice(2), value)
  }
}
const numberOf = (name: string, fallback: number) => {
  const value = Number(args.get(name) ?? fallback)
  if (!(value > 0)) {
    console.error(`soak: --${name} must be a number above 0`)
    process.exit(2)
  }
  return value
}
const connections = numberOf("connections", 2000)
const rate = numberOf("rate", 2000)
const duration = numberOf("duration", 60)
const every = numberOf("every", 5)
const root = Path.join(import.meta.dirname, "..")
const message = iconv.encode("你好，服务器", "gbk")
const reply = iconv.encode("ok，问题正在处理中...", "gbk")

const server = spawn("bash", [
  "-c",
  `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec "${process.execPath}" "${
    Path.join(root, "dist", "bin.js")
  }" serve --host 127.0.0.1 --port 0 --quiet --stats 1 --idle-timeout 0`
], { stdio: ["ignore", "pipe", "pipe"] })
let active = 0
server.stderr.setEncoding("utf8").on("data", (text: string) => {
  for (const m of text.matchAll(/stats: active=(\d+)/g)) active = Number(m[1])
  for (const line of text.split("\n")) if (line && !line.startsWith("stats:")) console.log(`server: ${line}`)
})
const port = await new Promise<number>((resolve, reject) => {
  server.stdout.setEncoding("utf8").on("data", (text: string) => {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text)
    if (m) resolve(Number(m[1]))
  })
  server.once("exit", (code) => reject(new Error(`server exited with ${code}`)))
})

const procStatus = (field: string) => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(Fs.readFileSync(`/proc/${server.pid}/status`, "utf8"))
  return m ? Number(m[1]) / 1024 : NaN
}
const descriptors = () => Fs.readdirSync(`/proc/${server.pid}/fd`).length

interface Client {
  readonly socket: Net.Socket
  busy: boolean
  sentAt: bigint
  got: number
}

// Clients: a round trip at a time per connection.
const clients: Array<Client> = []
let errors = 0
let latencies: Array<number> = []
const open = (i: number) =>
  new Promise<void>((resolve) => {
    const socket = Net.connect({ port, host: "127.0.0.1" }, () => resolve())
    const client: Client = { socket, busy: false, sentAt: 0n, got: 0 }
    clients[i] = client
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => {
      client.got += chunk.length
      if (client.busy && client.got >= reply.length) {
        client.got -= reply.length
        client.busy = false
        latencies.push(Number(process.hrtime.bigint() - client.sentAt) / 1e6)
      }
    })
    socket.on("error", () => {
      errors++
      resolve()
    })
  })
for (let i = 0; i < connections; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, connections - i) }, (_, k) => open(i + k)))
}
console.log(`soak: ${connections} connections open, ${rate} messages/s for ${duration}s, report every ${every}s`)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

interface Sample {
  readonly t: number
  readonly rssMiB: number
  readonly fds: number
  readonly active: number
  readonly replies: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

const samples: Array<Sample> = []
let next = 0
let sent = 0
const started = Date.now()
const tick = 10
const perTick = rate * tick / 1000
let budget = 0
const sender = setInterval(() => {
  budget += perTick
  for (let tries = 0; budget >= 1 && tries < connections; tries++) {
    const client = clients[next]
    next = (next + 1) % connections
    if (client === undefined || client.busy || client.socket.destroyed) continue
    client.busy = true
    client.sentAt = process.hrtime.bigint()
    client.socket.write(message)
    sent++
    budget--
  }
  budget = Math.min(budget, perTick * 10)
}, tick)

await new Promise<void>((resolve) => {
  const reporter = setInterval(() => {
    const sorted = latencies.sort((a, b) => a - b)
    const sample: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      rssMiB: procStatus("VmRSS"),
      fds: descriptors(),
      active,
      replies: sorted.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? NaN
    }
    latencies = []
    samples.push(sample)
    console.log(
      `t=${String(sample.t).padStart(4)}s rss=${
        sample.rssMiB.toFixed(1)
      }MiB fds=${sample.fds} active=${sample.active} ` +
        `replies/s=${Math.round(sample.replies / every)} p50=${sample.p50.toFixed(2)}ms p99=${
          sample.p99.toFixed(2)
        }ms max=${sample.max.toFixed(2)}ms errors=${errors}`
    )
    if (Date.now() - started >= duration * 1000) {
      clearInterval(reporter)
      resolve()
    }
  }, every * 1000)
})
clearInterval(sender)
for (const client of clients) client.socket.destroy()
const peak = procStatus("VmHWM")
server.kill("SIGINT")
const exitCode = await new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)))

// Verdict: after the first third (warm-up), RSS and descriptors must not keep growing.
const steady = samples.slice(Math.floor(samples.length / 3))
const half = Math.floor(steady.length / 2)
const mean = (xs: ReadonlyArray<Sample>, f: (sample: Sample) => number) =>
  xs.reduce((sum, x) => sum + f(x), 0) / Math.max(1, xs.length)
const rssEarly = mean(steady.slice(0, half), (s) => s.rssMiB)
const rssLate = mean(steady.slice(half), (s) => s.rssMiB)
const first = steady[0]
const last = steady.at(-1)
const fdsGrew = first !== undefined && last !== undefined && last.fds > first.fds + 5
const rssGrew = rssLate > rssEarly * 1.1 + 5
console.log(
  `verdict: ${rssGrew || fdsGrew ? "GROWING" : "stable"} — rss ${rssEarly.toFixed(1)} -> ${rssLate.toFixed(1)} MiB, ` +
    `fds ${first?.fds} -> ${last?.fds}, peak rss ${peak.toFixed(1)} MiB, ${sent} messages sent, ` +
    `${errors} errors, server exit code ${exitCode}`
)
process.exit(rssGrew || fdsGrew || exitCode !== 0 ? 1 : 0)
