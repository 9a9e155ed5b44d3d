#!/usr/bin/env node
// Runs the `bench` command (dist/BenchCli.js) on its own, as `effect-tcp-server bench` would, for bench/run.mjs.
// Usage: node bench/bench-client.mjs [--host H] [--port P] [--connections N] [--duration S] [--mode M] [--json] ...
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Option } from "effect"
import * as Fs from "node:fs"
import { bench } from "../dist/BenchCli.js"

const { version } = JSON.parse(Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8"))

const report = (cause) => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    if (ValidationError.isValidationError(failure.value)) return Effect.void
    return Console.error(`effect-tcp-server bench: ${failure.value.message ?? String(failure.value)}`)
  }
  return Console.error(`effect-tcp-server bench: internal error\n${Cause.pretty(cause)}`)
}

Command.run(bench, { name: "effect-tcp-server bench", version })(process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
