import * as Effect from "effect/Effect"

/**
 * Wakes one waiting fiber: `wait` suspends until `notify` is called; a `notify` with nobody waiting is dropped
 * (the waiter looks at its state before it waits again). Cheaper than a Deferred or a Queue for a hand-over that
 * happens on every message or connection.
 *
 * @internal
 */
export interface WakeUp {
  readonly wait: Effect.Effect<void>
  /**
   * Runs `check` now and on every `notify`, inside the caller of `notify`, until it returns an effect; then the
   * fiber wakes up and runs that effect. Work that needs no effect is done by `check` itself, without waking the
   * fiber at all.
   */
  readonly waitUntil: <A, E, R>(check: () => Effect.Effect<A, E, R> | undefined) => Effect.Effect<A, E, R>
  readonly notify: () => void
  /** Whether a fiber is waiting in `wait`. */
  readonly waiting: () => boolean
  /** Forgets the waiter, if any. */
  readonly clear: () => void
}

/**
 * `onWait` runs each time a fiber starts waiting, and each time `check` finds nothing to wake it for.
 *
 * @internal
 */
export const make = (onWait?: () => void): WakeUp => {
  let waiter: ((effect: Effect.Effect<void>) => void) | undefined
  // The waiter of `waitUntil`.
  let watcher: (() => void) | undefined
  return {
    wait: Effect.async<void>((resume) => {
      onWait?.()
      waiter = resume
      return Effect.sync(() => {
        if (waiter === resume) waiter = undefined
      })
    }),
    waitUntil: <A, E, R>(check: () => Effect.Effect<A, E, R> | undefined) =>
      Effect.async<A, E, R>((resume) => {
        const first = check()
        if (first !== undefined) return resume(first)
        onWait?.()
        watcher = () => {
          const next = check()
          if (next === undefined) {
            onWait?.()
            return
          }
          // Cleared first: the fiber may run at once and wait again.
          watcher = undefined
          resume(next)
        }
        // A canceler here, unlike `wait`: `check` does the fiber's work, which must stop with the fiber.
        return Effect.sync(() => {
          watcher = undefined
        })
      }),
    notify: () => {
      if (watcher !== undefined) return watcher()
      const resume = waiter
      if (resume !== undefined) {
        waiter = undefined
        resume(Effect.void)
      }
    },
    waiting: () => waiter !== undefined,
    clear: () => {
      waiter = undefined
      watcher = undefined
    }
  }
}

/**
 * Completes in a later turn of the event loop (after pending I/O callbacks), where `Effect.yieldNow` may run
 * again before any I/O: how a connection that has had its share lets the others run.
 *
 * @internal
 */
export const nextTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
