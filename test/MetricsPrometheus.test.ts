import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schedule, Schema } from "effect"
import Iconv from "iconv-lite"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Handler } from "../src/index.js"
import { spawn } from "./utils/Bin.js"
import { type Client, connect } from "./utils/Client.js"

// A real Prometheus (Debian package `prometheus`; .ci/run installs it) scrapes the built CLI's metrics server every
// second with the scrape configuration and the alert rules shown in the README, while real clients connect, send,
// get refused and time out.

const replyBytes = Iconv.encode(Handler.defaultReply, "gbk")

const root = Path.join(import.meta.dirname, "..")

const prometheus = ChildProcess.spawnSync("prometheus", ["--version"], { stdio: "ignore" }).status === 0
const inCi = process.env.CI !== undefined && process.env.CI !== ""
if (!prometheus && !inCi) {
  console.warn("SKIPPED: the Prometheus integration test needs `prometheus` on PATH (apt-get install prometheus)")
}

const readmeBlock = (name: string): string => {
  const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
  const block = readme.match(new RegExp(`<!-- prometheus: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\``))
  assert.isNotNull(block, `README has the ${name} block`)
  return block![1]!
}

const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const QueryResponse = Schema.Struct({
  data: Schema.Struct({
    result: Schema.Array(Schema.Struct({
      metric: Schema.Record({ key: Schema.String, value: Schema.String }),
      value: Schema.Tuple(Schema.Number, Schema.String)
    }))
  })
})

const AlertsResponse = Schema.Struct({
  data: Schema.Struct({
    alerts: Schema.Array(Schema.Struct({
      labels: Schema.Record({ key: Schema.String, value: Schema.String }),
      state: Schema.String
    }))
  })
})

const query = (port: number, promql: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`)
    return Schema.decodeUnknownSync(QueryResponse)(await response.json()).data.result
  })

/**
 * Retries `effect` (failed assertions included) every 200 ms until it succeeds, for at most `limit`; the test's
 * timeout leaves room for every wait to run out, so that a failure shows its assertion rather than a timeout.
 */
const eventually = <A, E>(effect: Effect.Effect<A, E>, limit: Duration.DurationInput = "30 seconds") =>
  effect.pipe(
    Effect.sandbox,
    Effect.retry(Schedule.spaced(Duration.millis(200)).pipe(Schedule.upTo(limit))),
    Effect.unsandbox
  )

const startPrometheus = (metricsPort: number) =>
  Effect.gen(function*() {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "prometheus-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
    Fs.writeFileSync(Path.join(dir, "rules.yml"), readmeBlock("rules"))
    const config = readmeBlock("scrape config")
      .replace("scrape_interval: 15s", "scrape_interval: 1s")
      .replace("127.0.0.1:9464", `127.0.0.1:${metricsPort}`)
    assert.include(config, `127.0.0.1:${metricsPort}`)
    Fs.writeFileSync(
      Path.join(dir, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n${config}`
    )
    const port = yield* freePort
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn("prometheus", [
          `--config.file=${Path.join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${Path.join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`
        ], { stdio: ["ignore", "pipe", "pipe"] })
        child.stdout.on("data", (chunk) => output += chunk)
        child.stderr.on("data", (chunk) => output += chunk)
        return child
      }),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGTERM")
        })
    )
    yield* eventually(Effect.tryPromise(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`)
      const response = await fetch(`http://127.0.0.1:${port}/-/ready`)
      if (response.status !== 200) throw new Error(`prometheus not ready: ${response.status}`)
    })).pipe(Effect.orDie)
    return port
  })

const get = (url: string) =>
  Effect.tryPromise(() =>
    fetch(url).then(async (response) => ({ status: response.status, body: await response.text() }))
  )

describe.skipIf(!prometheus && !inCi)("serve --metrics-port with a real Prometheus", () => {
  it.scopedLive(
    "Prometheus scrapes the exact counts of real traffic; /readyz turns 503 when a shutdown starts",
    () =>
      Effect.gen(function*() {
        assert.isTrue(
          prometheus,
          "`prometheus` is not on PATH; in CI, .ci/run installs it (apt-get install prometheus)"
        )
        const child = yield* spawn([
          "serve",
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--metrics-port",
          "0",
          "--framing",
          "line",
          "--idle-timeout",
          "1",
          "--max-connections-per-ip",
          "2",
          "--shutdown-grace",
          "3",
          "--quiet"
        ])
        const [, port] = yield* child.waitForLine(/^effect-tcp-server listening on 127\.0\.0\.1:(\d+) /)
        const [, metricsPort] = yield* child.waitForLine(/^metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics$/)
        const metrics = `http://127.0.0.1:${metricsPort}`
        const promPort = yield* startPrometheus(Number(metricsPort))

        // Prometheus has the series at 0 before anything moves (the alert's increase() needs a sample before).
        yield* eventually(Effect.gen(function*() {
          const up = yield* query(promPort, "up{job=\"effect-tcp-server\"}")
          assert.strictEqual(up[0]?.value[1], "1")
          const refused = yield* query(promPort, "tcp_server_connections_refused_total{reason=\"per_ip\"}")
          assert.strictEqual(refused[0]?.value[1], "0")
        }))

        const reply = Buffer.concat([replyBytes, Buffer.from("\n")])
        const exchange = (client: Client, text: string) =>
          Effect.gen(function*() {
            yield* client.write(Iconv.encode(`${text}\n`, "gbk"))
            assert.deepStrictEqual(yield* client.read(reply.length), reply)
          })
        // A: two messages, then leaves (eof).
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* connect(Number(port))
          yield* exchange(a, "你好")
          yield* exchange(a, "再见")
          yield* a.end
          yield* a.closed
        }))
        // B stays silent (closed after the 1 s idle timeout); with C open too, D is one too many from 127.0.0.1.
        const b = yield* connect(Number(port))
        const c = yield* connect(Number(port))
        yield* exchange(c, "x")
        const d = yield* connect(Number(port))
        yield* d.closed
        yield* c.end
        yield* c.closed
        yield* b.closed

        const exact: ReadonlyArray<readonly [string, number]> = [
          ["tcp_server_connections_accepted_total", 3],
          ["tcp_server_connections_active", 0],
          ["tcp_server_connections_refused_total{reason=\"per_ip\"}", 1],
          ["tcp_server_connections_closed_total{reason=\"eof\"}", 2],
          ["tcp_server_connections_closed_total{reason=\"idle\"}", 1],
          ["tcp_server_frames_received_total", 3],
          ["tcp_server_replies_sent_total", 3],
          ["tcp_server_received_bytes_total", 5 + 5 + 2],
          ["tcp_server_sent_bytes_total", 3 * reply.length],
          ["tcp_server_reply_seconds_count", 3],
          ["tcp_server_handler_defects_total", 0]
        ]
        yield* eventually(Effect.forEach(exact, ([promql, value]) =>
          Effect.gen(function*() {
            const result = yield* query(promPort, promql)
            assert.strictEqual(result.length, 1, promql)
            assert.strictEqual(Number(result[0]!.value[1]), value, promql)
          }), { discard: true }))

        // The README's alert on refused connections fires; the one on handler defects does not.
        const alerts = yield* eventually(Effect.gen(function*() {
          const firing = yield* Effect.promise(async () => {
            const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/alerts`)
            const body = Schema.decodeUnknownSync(AlertsResponse)(await response.json())
            return body.data.alerts.filter((alert) => alert.state === "firing")
          })
          assert.strictEqual(firing.length, 1)
          return firing
        }))
        assert.strictEqual(alerts[0]!.labels.alertname, "TcpServerRefusingConnections")
        assert.strictEqual(alerts[0]!.labels.severity, "warning")

        // A client that sends without reading its replies: the server's writes block, and the shutdown waits for
        // the connection up to the grace, during which /readyz must say 503.
        assert.strictEqual((yield* get(`${metrics}/readyz`)).status, 200)
        const stuck = yield* connect(Number(port))
        stuck.socket.pause()
        // Not waited for: once the server stops reading, the kernel may never take all of it.
        stuck.socket.write(Buffer.alloc(4 * 1024 * 1024, "a\n"))
        yield* eventually(Effect.gen(function*() {
          const sent = yield* query(promPort, "tcp_server_replies_sent_total")
          assert.isAbove(Number(sent[0]?.value[1]), 3)
        }))
        child.process.kill("SIGTERM")
        const during = yield* eventually(
          Effect.flatMap(get(`${metrics}/readyz`), (answer) =>
            Effect.sync(() => {
              assert.strictEqual(answer.status, 503)
              return answer
            })),
          "5 seconds"
        )
        assert.strictEqual(during.body, "not ready\n")
        // Still shutting down: the connection is being drained.
        assert.isNull(child.process.exitCode)
        assert.strictEqual((yield* get(`${metrics}/healthz`)).status, 200)
        assert.deepStrictEqual(yield* child.exited, { code: 0, signal: null })
      }),
    { timeout: 90_000 }
  )
})
