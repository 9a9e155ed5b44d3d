import { Duration, Effect, Schedule } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import type { Readable } from "node:stream"

/** The built CLI (`npm run build`). */
export const bin = Path.join(import.meta.dirname, "..", "..", "dist", "bin.js")

export interface Child {
  readonly process: ChildProcess.ChildProcessByStdio<null, Readable, Readable>
  readonly stdout: () => string
  readonly stderr: () => string
  /** Waits until stdout has a line matching `pattern`. */
  readonly waitForLine: (pattern: RegExp) => Effect.Effect<RegExpMatchArray>
  /** Waits until stderr has a line matching `pattern`. */
  readonly waitForStderr: (pattern: RegExp) => Effect.Effect<RegExpMatchArray>
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: string | null }>
}

/** Starts the built CLI with `args`; the child is killed when the scope closes if it is still running. */
export const spawn = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => spawnNode([bin, ...args], env)

/** Starts `node` with `args`; the child is killed when the scope closes if it is still running. */
export const spawnNode = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      ChildProcess.spawn(process.execPath, args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...env }
      })
    ),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(Effect.map((child): Child => {
    let out = ""
    let err = ""
    const wakers = new Set<() => void>()
    const wake = () => [...wakers].forEach((w) => w())
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      out += text
      wake()
    })
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      err += text
      wake()
    })
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal }))
    )
    child.once("exit", wake)
    const waitIn = (text: () => string) => (pattern: RegExp): Effect.Effect<RegExpMatchArray> =>
      Effect.suspend(() => {
        const match = text().split("\n").map((line) => line.match(pattern)).find((m) => m !== null)
        if (match) return Effect.succeed(match)
        if (child.exitCode !== null || child.signalCode !== null) {
          return Effect.dieMessage(`the CLI exited before printing ${pattern}:\n${out}\n${err}`)
        }
        return Effect.async<void>((resume) => {
          const w = () => {
            wakers.delete(w)
            resume(Effect.void)
          }
          wakers.add(w)
        }).pipe(Effect.zipRight(waitIn(text)(pattern)))
      })
    return {
      process: child,
      stdout: () => out,
      stderr: () => err,
      waitForLine: waitIn(() => out),
      waitForStderr: waitIn(() => err),
      exited: Effect.promise(() => exit)
    }
  }))

/**
 * Retries `effect` (failed assertions included) every 50 ms until it succeeds, for at most `limit`: for what no
 * event announces (a file's content, another process's HTTP answers).
 */
export const eventually = <A, E>(effect: Effect.Effect<A, E>, limit: Duration.DurationInput = "30 seconds") =>
  effect.pipe(
    Effect.sandbox,
    Effect.retry(Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(limit))),
    Effect.unsandbox
  )
