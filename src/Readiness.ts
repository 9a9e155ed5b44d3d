/**
 * Whether the TCP server is ready for clients: set once it listens, cleared the moment a shutdown starts. The
 * metrics server's `GET /readyz` answers from it; the TCP server updates it when one is provided.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * Whether the server is ready for clients: `GET /readyz` answers 200 while it is, 503 while it is not. It starts
 * not ready; the TCP server sets it once it listens and clears it when a shutdown starts.
 *
 * @since 0.1.0
 * @category tags
 */
export class Readiness extends Context.Tag("effect-tcp-server/MetricsServer/Readiness")<Readiness, {
  readonly isReady: Effect.Effect<boolean>
  readonly setReady: (ready: boolean) => Effect.Effect<void>
}>() {}

/**
 * A {@link Readiness}, not ready at first.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Readiness> = Layer.effect(
  Readiness,
  Effect.map(
    Ref.make(false),
    (ref) => Readiness.of({ isReady: Ref.get(ref), setReady: (ready) => Ref.set(ref, ready) })
  )
)
