/**
 * What `bench` does once its flags are parsed: runs the load generator, prints progress, the summary and the JSON
 * line. `BenchCli` loads this module with a dynamic `import()` only when `bench` runs.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Bench from "./Bench.js"

/**
 * The parsed flags of `bench`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parsed {
  readonly host: string
  readonly port: number
  readonly mode: Bench.Mode
  readonly connections: number
  readonly durationSec: number
  readonly warmupSec: number
  readonly holdWaitSec: number
  readonly timeoutSec: number
  readonly message: Uint8Array
  readonly expect: Uint8Array
  readonly json: boolean
}

/**
 * No correct reply came back at all: the server is not there, or `--expect` does not match what it sends.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoReplyError extends Data.TaggedError("NoReplyError")<{
  readonly host: string
  readonly port: number
  readonly errors: number
  readonly errorKinds: Readonly<Record<string, number>>
}> {
  override get message(): string {
    const kinds = Object.keys(this.errorKinds)
    const hint = kinds.includes("ECONNREFUSED")
      ? "is the server running there?"
      : kinds.includes("mismatch")
      ? "the server's reply differs from the expected one: check --expect/--expect-hex and --encoding"
      : kinds.includes("timeout")
      ? "the server did not answer in time: does it reply to this message?"
      : "check that the server runs there and replies to this message"
    return `no correct reply from ${this.host}:${this.port} (${this.errors} errors: ${
      formatKinds(this.errorKinds)
    }): ${hint}`
  }
}

const seconds = (option: string, value: number, zeroAllowed: boolean) =>
  Number.isFinite(value) && (zeroAllowed ? value >= 0 : value > 0)
    ? Effect.succeed(Duration.millis(value * 1000))
    : Effect.fail(
      new Bench.BenchOptionError({
        option,
        value: String(value),
        expected: zeroAllowed ? "a number of seconds, 0 or more" : "a number of seconds above 0"
      })
    )

const formatKinds = (kinds: Readonly<Record<string, number>>): string =>
  Object.entries(kinds).map(([kind, count]) => `${kind} ${count}`).join(", ")

const fixed = (value: number, digits: number) => value.toFixed(digits)

/**
 * One line of live progress.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatProgress = (progress: Bench.Progress): string =>
  `[${fixed(progress.elapsedSec, 0).padStart(4)} s] replies ${String(progress.replies).padStart(9)}  ` +
  `${fixed(progress.rate, 0).padStart(7)}/s  errors ${progress.errors}  open ${progress.open}`

/**
 * The human summary of a result.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSummary = (result: Bench.Result): string => {
  const latency = result.latencyMs
  const target = `${result.host}:${result.port}`
  const lines: Array<string> = []
  switch (result.mode) {
    case "pingpong":
      lines.push(
        `pingpong: ${result.connections} connections to ${target} for ${fixed(result.durationSec, 2)} s`,
        `  replies        ${result.replies}  (${fixed(result.perSec, 1)} per second)`
      )
      break
    case "churn":
      lines.push(
        `churn: ${result.connections} workers connecting to ${target} for ${fixed(result.durationSec, 2)} s`,
        `  cycles         ${result.completed}  (${fixed(result.perSec, 1)} per second: connect, one round trip, close)`
      )
      break
    case "hold":
      lines.push(
        `hold: ${result.connections} connections to ${target}, ${fixed(result.durationSec, 2)} s in all`,
        `  opened         ${result.opened} of ${result.connections} in ${fixed(result.openSec, 2)} s`,
        `  replies        ${result.completed} of ${result.connections} connections got their reply ` +
          `(${fixed(result.perSec, 1)} per second)`
      )
      break
  }
  lines.push(
    `  latency (ms)   p50 ${latency.p50}  p90 ${latency.p90}  p99 ${latency.p99}  p99.9 ${latency["p99.9"]}  ` +
      `max ${latency.max}  mean ${latency.mean}${result.mode === "churn" ? "  (whole cycle)" : ""}`,
    `  errors         ${result.errors}${result.errors > 0 ? `  (${formatKinds(result.errorKinds)})` : ""}`
  )
  return lines.join("\n")
}

/**
 * The result as the one-line JSON object printed last: `mode`, `connections`, `durationSec`, `replies`,
 * `perSec`, `latencyMs`, `errors`, `completed`, then `opened`, `openSec`, `errorKinds`, `host` and `port`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatJson = (result: Bench.Result): string =>
  JSON.stringify({
    mode: result.mode,
    connections: result.connections,
    durationSec: result.durationSec,
    replies: result.replies,
    perSec: result.perSec,
    latencyMs: result.latencyMs,
    errors: result.errors,
    completed: result.completed,
    opened: result.opened,
    openSec: result.openSec,
    errorKinds: result.errorKinds,
    host: result.host,
    port: result.port
  })

/**
 * Runs `bench`: the load, progress on standard error once a second (unless `json`), the summary and the JSON line
 * on standard output. Fails with {@link NoReplyError} (after printing the result) when no correct reply came back
 * at all.
 *
 * @since 0.1.0
 * @category running
 */
export const main = Effect.fn("BenchMain.main")(function*(options: Parsed) {
  const runFor = yield* seconds("duration", options.durationSec, false)
  const warmupFor = yield* seconds("warmup", options.warmupSec, true)
  const holdFor = yield* seconds("hold-wait", options.holdWaitSec, true)
  const timeoutAfter = yield* seconds("timeout", options.timeoutSec, false)
  const result = yield* Bench.run({
    host: options.host,
    port: options.port,
    mode: options.mode,
    connections: options.connections,
    duration: runFor,
    warmup: warmupFor,
    message: options.message,
    expect: options.expect,
    holdWait: holdFor,
    timeout: timeoutAfter,
    onProgress: options.json ? undefined : (progress) => Console.error(formatProgress(progress))
  })
  if (!options.json) yield* Console.log(formatSummary(result))
  yield* Console.log(formatJson(result))
  if (result.replies === 0 && result.errors > 0) {
    return yield* new NoReplyError({
      host: result.host,
      port: result.port,
      errors: result.errors,
      errorKinds: result.errorKinds
    })
  }
})
