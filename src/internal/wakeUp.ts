import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"

/**
 * Wakes one waiting fiber: `wait` suspends until `notify` is called; a `notify` with nobody waiting is dropped
 * (the waiter looks at its state before it waits again). Cheaper than a Deferred or a Queue for a hand-over that
 * happens on every message or connection.
 *
 * A class, so that one of these per connection is a single object: its methods live on the prototype, and the
 * only function made per instance is `notify`, which socket events call unbound. `onWait` is a hook for
 * subclasses: it runs each time a fiber starts waiting, and each time `check` finds nothing to wake it for.
 *
 * @internal
 */
export class WakeUp {
  private waiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  /** The waiter of `watchUntil`. */
  private watcher: (() => void) | undefined = undefined
  private waitEffect: Effect.Effect<void> | undefined = undefined

  /** Called each time a fiber starts waiting, and each time `check` finds nothing to wake it for. */
  protected onWait(): void {}

  /** Suspends until the next `notify`. */
  get wait(): Effect.Effect<void> {
    // Built on first use: a connection read with `respond` never waits here.
    return this.waitEffect ??= Effect.async<void>((resume) => {
      this.onWait()
      this.waiter = resume
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    })
  }

  /**
   * Runs `check` now and on every `notify`, inside the caller of `notify`, until it returns an effect; then
   * `fiber` (the fiber that runs this effect) wakes up and runs that effect. Work that needs no effect is done by
   * `check` itself, without waking the fiber at all.
   *
   * Without a canceler, and so the one device of this module: Effect wraps an `async` that has a canceler in an
   * interruption handler whose frames stay on the stack of the waiting fiber, about 1.5 KB for each connection
   * held (heap snapshot of 2,000 connections: 13.9 against 12.4 KB per connection), and a connection waits here
   * for as long as its client is connected. Instead, `check` is not run any more once the fiber has been
   * interrupted while `interruptible` (the runtime then resumes the fiber itself, and ignores a later resume):
   * the work `check` does for the fiber stops with it. `interruptible` is the fiber's interruptibility where it
   * waits; an uninterruptible fiber is never resumed by an interruption, and keeps being served.
   */
  watchUntil<A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    interruptible: boolean,
    check: () => Effect.Effect<A, E, R> | undefined
  ): Effect.Effect<A, E, R> {
    return Effect.async<A, E, R>((resume) => {
      const first = check()
      if (first !== undefined) return resume(first)
      this.onWait()
      this.watcher = () => {
        if (interruptible && !Cause.isEmpty(fiber.getFiberRef(FiberRef.interruptedCause))) {
          this.watcher = undefined
          return
        }
        const next = check()
        if (next === undefined) {
          this.onWait()
          return
        }
        // Cleared first: the fiber may run at once and wait again.
        this.watcher = undefined
        resume(next)
      }
    })
  }

  /** Wakes the waiter, if any. An own property: socket events call it unbound. */
  readonly notify = (): void => {
    const watcher = this.watcher
    if (watcher !== undefined) return watcher()
    const resume = this.waiter
    if (resume !== undefined) {
      this.waiter = undefined
      resume(Effect.void)
    }
  }

  /** Whether a fiber is waiting in `wait`. */
  waiting(): boolean {
    return this.waiter !== undefined
  }

  /** Forgets the waiter, if any. */
  clear(): void {
    this.waiter = undefined
    this.watcher = undefined
  }
}

/** @internal */
export const make = (): WakeUp => new WakeUp()

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
