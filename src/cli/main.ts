/**
 * The wiring of the `effect-tcp-server` executable, loaded by `bin.ts`: the layers @effect/cli needs, the line
 * logger, one line per failure and the exit codes.
 *
 * @since 0.1.0
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Cli from "../Cli.js"
import * as LineLogger from "../LineLogger.js"
import * as Errors from "./errors.js"
import * as Signals from "./signals.js"

const PackageJson = Schema.parseJson(Schema.Struct({ version: Schema.String }))

const isUsageError = (error: unknown): boolean =>
  error instanceof Errors.UsageError || ValidationError.isValidationError(error)

// One readable line for a failure.
const report = <E>(cause: Cause.Cause<E>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    return Console.error(`effect-tcp-server: ${error instanceof Error ? error.message : String(error)}`)
  }
  return Console.error(`effect-tcp-server: internal error\n${Cause.pretty(cause)}`)
}

// Exit codes: 0 done (or stopped by a signal), 2 a usage error, 1 any other failure.
const exitCode = <E, A>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && isUsageError(failure.value) ? Errors.usageExitCode : 1
}

/**
 * Runs the command line of the process until it ends, then exits with its code. `packageJson` is where the
 * package's version is read (the caller knows where it is, whether the CLI is bundled or not).
 *
 * @since 0.1.0
 * @category running
 */
export const main = (packageJson: URL): void => {
  const { version } = Schema.decodeUnknownSync(PackageJson)(Fs.readFileSync(packageJson, "utf8"))
  // https://no-color.org: colour only on a terminal, and not when NO_COLOR is set to anything but "".
  const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""
  Signals.tolerateRepeatedSignal()
  Cli.run({ version, colour })(process.argv).pipe(
    Effect.tapErrorCause(report),
    // What @effect/cli needs, and no more: NodeContext.layer would also load the command executor and workers.
    Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer, LineLogger.layer)),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: (exit, onExit) => onExit(exitCode(exit))
    })
  )
}
