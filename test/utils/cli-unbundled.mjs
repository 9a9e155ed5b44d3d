// The CLI from the modules tsc emits (dist/bin.js is one bundled file): for tests that look at which modules load.
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Process from "node:process"
import * as Cli from "../../dist/Cli.js"

Cli.run("0.0.0")(Process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
