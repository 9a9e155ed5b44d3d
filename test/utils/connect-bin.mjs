// Runs `connect` from the build (dist/ConnectCli.js) as a program of its own, reporting failures as dist/bin.js
// does: for the tests that need a real process (a pseudo-terminal, exit codes) before the command is wired into
// dist/bin.js. Usage: node test/utils/connect-bin.mjs HOST PORT [flags]
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Process from "node:process"
import * as ConnectCli from "../../dist/ConnectCli.js"

const report = (cause) => {
  const failure = Cause.failureOption(cause)
  if (Cause.isInterruptedOnly(cause) || (Option.isSome(failure) && ValidationError.isValidationError(failure.value))) {
    return Effect.void
  }
  return Console.error(
    Option.isSome(failure) ? `effect-tcp-server: ${failure.value.message}` : Cause.pretty(cause)
  )
}

Command.run(ConnectCli.connect, { name: "effect-tcp-server connect", version: "0.0.0" })(Process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
