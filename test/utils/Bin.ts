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
  /** Waits until stdout has a line matching `pattern`; dies if the child has ended without printing one. */
  readonly waitForLine: (pattern: RegExp) => Effect.Effect<RegExpMatchArray>
  /** Waits until stderr has a line matching `pattern`; dies if the child has ended without printing one. */
  readonly waitForStderr: (pattern: RegExp) => Effect.Effect<RegExpMatchArray>
  /**
   * Waits until `condition` holds, looking again at every output of the child, at its end, and whenever `wake` is
   * called (by the test, for events of its own).
   */
  readonly until: (condition: () => boolean) => Effect.Effect<void>
  readonly wake: () => void
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: string | null }>
}

/** Starts the built CLI with `args`; the child is killed when the scope closes if it is still running. */
export const spawn = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => spawnNode([bin, ...args], env)

/** Starts `node` with `args`; the child is killed when the scope closes if it is still running. */
export const spawnNode = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  start(() =>
    ChildProcess.spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env }
    })
  )

/** Starts a bash command line (to set `ulimit` first, or to run under `script`), killed as {@link spawn}. */
export const spawnShell = (command: string) =>
  start(() => ChildProcess.spawn("bash", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] }))

const start = (launch: () => ChildProcess.ChildProcessByStdio<null, Readable, Readable>) =>
  Effect.acquireRelease(
    Effect.sync(launch),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(Effect.map((child): Child => {
    let out = ""
    let err = ""
    // Set once the child has exited and its output has been read to the end.
    let closed = false
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
    child.once("close", () => {
      closed = true
      wake()
    })
    const until = (condition: () => boolean): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        const check = () => {
          if (!condition()) return
          wakers.delete(check)
          resume(Effect.void)
        }
        wakers.add(check)
        check()
        return Effect.sync(() => wakers.delete(check))
      })
    const match = (text: () => string, pattern: RegExp) =>
      text().split("\n").map((line) => line.match(pattern)).find((m) => m !== null) ?? undefined
    const waitIn = (text: () => string) => (pattern: RegExp): Effect.Effect<RegExpMatchArray> =>
      Effect.flatMap(until(() => closed || match(text, pattern) !== undefined), () => {
        const found = match(text, pattern)
        return found === undefined
          ? Effect.dieMessage(`the program ended without printing ${pattern}:\n${out}\n${err}`)
          : Effect.succeed(found)
      })
    return {
      process: child,
      stdout: () => out,
      stderr: () => err,
      waitForLine: waitIn(() => out),
      waitForStderr: waitIn(() => err),
      until,
      wake,
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
