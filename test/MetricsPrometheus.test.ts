import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Schedule, Schema } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Metrics } from "../src/index.js"
import * as MetricsServer from "../src/MetricsServer.js"

// A real Prometheus (Debian package `prometheus`; .ci/run installs it) scrapes a real metrics server every second
// with the scrape configuration and the alert rule shown in the README.
//
// Until the TCP server updates the metrics itself, the test updates them directly; once it does, drive them with
// real traffic instead (connections, messages, a refused client, an idle timeout) and check /readyz turning 503
// when a shutdown starts.

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

/** Retries `effect` (failed assertions included) every 200 ms until it succeeds, for at most 30 s. */
const eventually = <A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(
    Effect.sandbox,
    Effect.retry(Schedule.spaced(Duration.millis(200)).pipe(Schedule.upTo(Duration.seconds(30)))),
    Effect.unsandbox
  )

const scraped = (body: string, series: string): number => {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `))
  assert.isDefined(line, series)
  return Number(line!.slice(series.length + 1))
}

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

describe.skipIf(!prometheus && !inCi)("MetricsServer with a real Prometheus", () => {
  it.scopedLive("Prometheus scrapes the exact counts and fires the README's alert", () =>
    Effect.gen(function*() {
      assert.isTrue(prometheus, "`prometheus` is not on PATH; in CI, .ci/run installs it (apt-get install prometheus)")
      const context = yield* Layer.build(MetricsServer.layer({ port: 0 }))
      const { port: metricsPort } = Context.get(context, MetricsServer.MetricsServer)
      const readiness = Context.get(context, MetricsServer.Readiness)
      yield* readiness.setReady(true)
      const promPort = yield* startPrometheus(metricsPort)

      const before = yield* Effect.promise(() => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()))
      // Prometheus has the series at their starting values before anything moves.
      yield* eventually(Effect.gen(function*() {
        const up = yield* query(promPort, "up{job=\"effect-tcp-server\"}")
        assert.strictEqual(up[0]?.value[1], "1")
        const defects = yield* query(promPort, "tcp_server_handler_defects_total")
        assert.strictEqual(defects.length, 1)
      }))

      for (let i = 0; i < 5; i++) Metrics.unsafeAccepted()
      for (let i = 0; i < 3; i++) Metrics.unsafeClosed("eof")
      Metrics.unsafeClosed("idle")
      Metrics.unsafeRefused("per_ip")
      Metrics.unsafeRefused("per_ip")
      Metrics.unsafeIncrement(Metrics.receivedBytes, 4321)
      Metrics.unsafeIncrement(Metrics.framesReceived, 7)
      Metrics.unsafeIncrement(Metrics.handlerDefects)
      for (const seconds of [0.0002, 0.0004, 0.003]) Metrics.unsafeReplySeconds(seconds)

      const expected: ReadonlyArray<readonly [string, string, number]> = [
        ["tcp_server_connections_accepted_total", "tcp_server_connections_accepted_total", 5],
        ["tcp_server_connections_active", "tcp_server_connections_active", 1],
        [
          "tcp_server_connections_closed_total{reason=\"eof\"}",
          "tcp_server_connections_closed_total{reason=\"eof\"}",
          3
        ],
        [
          "tcp_server_connections_closed_total{reason=\"idle\"}",
          "tcp_server_connections_closed_total{reason=\"idle\"}",
          1
        ],
        [
          "tcp_server_connections_refused_total{reason=\"per_ip\"}",
          "tcp_server_connections_refused_total{reason=\"per_ip\"}",
          2
        ],
        ["tcp_server_received_bytes_total", "tcp_server_received_bytes_total", 4321],
        ["tcp_server_frames_received_total", "tcp_server_frames_received_total", 7],
        ["tcp_server_handler_defects_total", "tcp_server_handler_defects_total", 1],
        ["tcp_server_reply_seconds_count", "tcp_server_reply_seconds_count", 3],
        ["tcp_server_reply_seconds_bucket{le=\"0.0005\"}", "tcp_server_reply_seconds_bucket{le=\"0.0005\"}", 2]
      ]
      yield* eventually(Effect.forEach(expected, ([promql, series, delta]) =>
        Effect.gen(function*() {
          const result = yield* query(promPort, promql)
          assert.strictEqual(result.length, 1, promql)
          assert.strictEqual(Number(result[0]!.value[1]), scraped(before, series) + delta, promql)
        }), { discard: true }))

      const alerts = yield* eventually(Effect.gen(function*() {
        const firing = yield* Effect.promise(async () => {
          const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/alerts`)
          const body = Schema.decodeUnknownSync(AlertsResponse)(await response.json())
          return body.data.alerts.filter((alert) => alert.state === "firing")
        })
        assert.strictEqual(firing.length, 1)
        return firing
      }))
      assert.strictEqual(alerts[0]!.labels.alertname, "TcpServerHandlerDefects")
      assert.strictEqual(alerts[0]!.labels.severity, "page")

      const ready = yield* Effect.promise(() => fetch(`http://127.0.0.1:${metricsPort}/readyz`))
      assert.strictEqual(ready.status, 200)
      yield* readiness.setReady(false)
      const draining = yield* Effect.promise(() => fetch(`http://127.0.0.1:${metricsPort}/readyz`))
      assert.strictEqual(draining.status, 503)
    }), { timeout: 90_000 })
})
