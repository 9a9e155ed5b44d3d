/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"
/**
 * @since 0.1.0
 */
export * as Connection from "./Connection.js"
/**
 * @since 0.1.0
 */
export * as Encoding from "./Encoding.js"
/**
 * @since 0.1.0
 */
export * as Framing from "./Framing.js"
/**
 * @since 0.1.0
 */
export * as Handler from "./Handler.js"
/**
 * @since 0.1.0
 */
export * as LineLogger from "./LineLogger.js"
/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"
/**
 * @since 0.1.0
 */
export * as MetricsServer from "./MetricsServer.js"
/**
 * @since 0.1.0
 */
export * as TcpServer from "./TcpServer.js"
/**
 * @since 0.1.0
 */
export * as Tracing from "./Tracing.js"
