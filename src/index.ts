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
export * as TcpServer from "./TcpServer.js"
/**
 * @since 0.1.0
 */
export * as TestClient from "./TestClient.js"
