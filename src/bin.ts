#!/usr/bin/env node
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Cli from "./Cli.js"
import * as LineLogger from "./LineLogger.js"

const PackageJson = Schema.parseJson(Schema.Struct({ version: Schema.String }))
const { version } = Schema.decodeUnknownSync(PackageJson)(
  Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")
)

// One readable line for a failure. @effect/cli has already printed its own validation errors.
const report = <E>(cause: Cause.Cause<E>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (ValidationError.isValidationError(error)) return Effect.void
    return Console.error(`effect-tcp-server: ${error instanceof Error ? error.message : String(error)}`)
  }
  return Console.error(`effect-tcp-server: internal error\n${Cause.pretty(cause)}`)
}

Cli.run(version)(process.argv).pipe(
  Effect.tapErrorCause(report),
  // What @effect/cli needs, and no more: NodeContext.layer would also load the command executor and workers.
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer, LineLogger.layer)),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
