/**
 * The observability of `serve`, made from its flags: the logger (`--log-format`, `--log-file`, reopened on
 * SIGHUP), the metrics server (`--metrics-port`, `--metrics-host`) under the TCP server, and the tracer
 * (`--otlp-endpoint`). The metrics server and the tracer load OpenTelemetry, so their modules are
 * imported only when their flag is set.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as LineLogger from "../LineLogger.js"
import type { MetricsServerError } from "../MetricsServer.js"
import type * as TcpServer from "../TcpServer.js"
import * as Signals from "./signals.js"

/**
 * What the observability flags of `serve` say, as parsed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly logFormat: LineLogger.Format
  readonly logFile: Option.Option<string>
  readonly metricsPort: Option.Option<number>
  readonly metricsHost: string
  readonly otlpEndpoint: Option.Option<string>
}

// The logger main.ts installed for every command is replaced, not joined: each line is written once.
const withoutLoggers: Layer.Layer<never> = Layer.scopedDiscard(
  Effect.locallyScopedWith(FiberRef.currentLoggers, HashSet.filter(() => false))
)

/**
 * The logger of `serve` in place of any other, and, with a log file, the {@link Signals.LogReopener} that SIGHUP
 * runs.
 *
 * @since 0.1.0
 * @category layers
 */
export const logging = (
  settings: Settings
): Layer.Layer<LineLogger.LineLogger, LineLogger.LineLoggerError> => {
  const logger = LineLogger.layerWith({ format: settings.logFormat, file: Option.getOrUndefined(settings.logFile) })
    .pipe(Layer.provide(withoutLoggers))
  return Option.isNone(settings.logFile) ? logger : Layer.provideMerge(
    Layer.effect(
      Signals.LogReopener,
      Effect.map(LineLogger.LineLogger, (service) => Option.some<Effect.Effect<void, unknown>>(service.reopen))
    ),
    logger
  )
}

/**
 * Where the metrics server listens, when there is one.
 *
 * @since 0.1.0
 * @category tags
 */
export class MetricsAddress extends Context.Reference<MetricsAddress>()("effect-tcp-server/cli/MetricsAddress", {
  defaultValue: (): Option.Option<{ readonly host: string; readonly port: number }> => Option.none()
}) {}

/**
 * The TCP server, built on top of the metrics server when `--metrics-port` is set, so that it sets and clears the
 * same `Readiness` that `/readyz` answers from.
 *
 * @since 0.1.0
 * @category layers
 */
export const withMetrics = <E, R>(
  settings: Settings,
  server: Layer.Layer<TcpServer.TcpServer, E, R>
): Layer.Layer<TcpServer.TcpServer, E | MetricsServerError, R> =>
  Option.match(settings.metricsPort, {
    onNone: () => server,
    onSome: (port) =>
      Layer.unwrapEffect(Effect.map(
        Effect.promise(() => import("../MetricsServer.js")),
        (MetricsServer) =>
          Layer.provideMerge(
            Layer.effect(MetricsAddress, Effect.map(MetricsServer.MetricsServer, (address) => Option.some(address))),
            server.pipe(Layer.provideMerge(MetricsServer.layer({ host: settings.metricsHost, port })))
          )
      ))
  })

/**
 * The tracer: OTLP/HTTP to `--otlp-endpoint`, or, without one, Effect's tracer disabled, so that the server
 * opens no connection spans at all.
 *
 * @since 0.1.0
 * @category layers
 */
export const tracing = (settings: Settings): Layer.Layer<never> =>
  Option.match(settings.otlpEndpoint, {
    onNone: () => Layer.setTracerEnabled(false),
    onSome: (endpoint) =>
      Layer.unwrapEffect(Effect.map(
        Effect.promise(() => import("../Tracing.js")),
        (Tracing) => Tracing.layer({ endpoint })
      ))
  })
