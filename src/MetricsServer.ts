/**
 * An HTTP server for operators: `GET /metrics` (every metric in Effect's registry, in the Prometheus text format,
 * serialized by OpenTelemetry's Prometheus exporter), `GET /healthz` (200 while the process runs) and
 * `GET /readyz` (200 while {@link Readiness} says ready, 503 otherwise). Anything else is 404.
 *
 * @since 0.1.0
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Prometheus from "@opentelemetry/exporter-prometheus"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import * as Metrics from "./Metrics.js"
import * as ReadinessModule from "./Readiness.js"

/**
 * @since 0.1.0
 * @category tags
 */
export const Readiness = ReadinessModule.Readiness

/**
 * @since 0.1.0
 * @category tags
 */
export type Readiness = ReadinessModule.Readiness

/**
 * @since 0.1.0
 * @category layers
 */
export const layerReadiness = ReadinessModule.layer

/**
 * Where the metrics server listens (the port it got when asked for port 0).
 *
 * @since 0.1.0
 * @category tags
 */
export class MetricsServer extends Context.Tag("effect-tcp-server/MetricsServer")<MetricsServer, {
  readonly host: string
  readonly port: number
}>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `127.0.0.1`: metrics are for the operator, not for the clients. */
  readonly host?: string | undefined
  /** 0 for any free port. */
  readonly port: number
}

/**
 * The metrics server could not start listening.
 *
 * @since 0.1.0
 * @category errors
 */
export class MetricsServerError extends Data.TaggedError("MetricsServerError")<{
  readonly reason: "AddressInUse" | "PermissionDenied" | "AddressNotAvailable" | "Listen"
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const where = `${this.host}:${this.port}`
    switch (this.reason) {
      case "AddressInUse":
        return `metrics port ${this.port} on ${this.host} is already in use: stop the program using it or choose another port`
      case "PermissionDenied":
        return `permission denied to listen for metrics on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port of 1024 or more`
      case "AddressNotAvailable":
        return `cannot listen for metrics on ${where}: "${this.host}" is not an address of this machine`
      case "Listen":
        return `cannot listen for metrics on ${where}: ${
          this.cause instanceof Error ? this.cause.message : String(this.cause)
        }`
    }
  }
}

const errorCode = (cause: unknown): unknown =>
  typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined

const listenError = (host: string, port: number, cause: unknown): MetricsServerError => {
  const code = errorCode(cause)
  const reason = code === "EADDRINUSE"
    ? "AddressInUse"
    : code === "EACCES"
    ? "PermissionDenied"
    : code === "EADDRNOTAVAIL"
    ? "AddressNotAvailable"
    : "Listen"
  return new MetricsServerError({ reason, host, port, cause })
}

/**
 * The content type of the Prometheus text exposition format.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Every metric in Effect's registry in the Prometheus text format, as `GET /metrics` serves it. Counters get the
 * `_total` suffix; the OpenTelemetry scope label is left out.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeScrape: Effect.Effect<Effect.Effect<string>> = Effect.gen(function*() {
  const producer = yield* OtelMetrics.makeProducer.pipe(
    Effect.provide(OtelResource.layer({ serviceName: "effect-tcp-server" }))
  )
  const serializer = new Prometheus.PrometheusSerializer("", false, undefined, false, true)
  return Effect.promise(() => producer.collect()).pipe(
    Effect.map((result) => serializer.serialize(result.resourceMetrics))
  )
})

/**
 * Starts the metrics server in the current scope, answering `/readyz` from {@link Readiness}. Registers every
 * metric of {@link Metrics} at zero first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("MetricsServer.make")(function*(options: Options) {
  const readiness = yield* Readiness
  const host = options.host ?? "127.0.0.1"
  yield* Metrics.register
  const scrape = yield* makeScrape
  const server = yield* NodeHttpServer.make(() => Http.createServer(), { host, port: options.port }).pipe(
    Effect.mapError((error) => listenError(host, options.port, error.cause))
  )
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/metrics", Effect.map(scrape, (text) => HttpServerResponse.text(text, { contentType }))),
    HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.text("ok\n"))),
    HttpRouter.get(
      "/readyz",
      Effect.map(
        readiness.isReady,
        (ready) => ready ? HttpServerResponse.text("ready\n") : HttpServerResponse.text("not ready\n", { status: 503 })
      )
    )
  )
  yield* HttpServer.serveEffect(router).pipe(Effect.provideService(HttpServer.HttpServer, server))
  const port = server.address._tag === "TcpAddress" ? server.address.port : options.port
  return MetricsServer.of({ host, port })
})

/**
 * The metrics server on `host` (default `127.0.0.1`) and `port`, with its {@link Readiness}, not ready until
 * someone sets it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<MetricsServer | Readiness, MetricsServerError> =>
  Layer.scoped(MetricsServer, make(options)).pipe(Layer.provideMerge(layerReadiness))
