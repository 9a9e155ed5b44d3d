import { assert, describe, it } from "@effect/vitest"
import { pairedTable, roundRatios } from "../bench/report.js"
import type { Outcome } from "../bench/report.js"
import type { Kind } from "../bench/servers.js"
import type { Done, Scenario } from "../bench/trial.js"

const churn: Scenario = { name: "churn-16", title: "churn, 16 workers", mode: "churn", connections: 16, log: false }
const hold: Scenario = { name: "hold-5000", title: "hold 5,000", mode: "hold", connections: 5000, log: false }

/** A run of `kind` in `round`: `figure` per second, or seconds to open for hold. */
const run = (kind: Kind, round: number | undefined, figure: number): Done => ({
  ok: true,
  kind,
  generators: 1,
  perSec: figure,
  completed: 1,
  opened: 1,
  openSec: figure,
  p50: 1,
  p99: 1,
  errors: 0,
  errorKinds: {},
  cpu: { server: 90, generators: 50, interference: 0 },
  skewSec: 0,
  idle: { heapKb: undefined, rssKb: undefined, fds: undefined },
  held: undefined,
  peakRssKb: undefined,
  stop: { killed: false, code: 0, signal: null, stopMs: 10 },
  logLinesPerReply: undefined,
  stderrLines: 0,
  stderrHead: "",
  ...(round === undefined ? {} : { round })
})

describe("bench report: round by round", () => {
  it("pairs the runs of the same round, whatever their order, and skips a round one of them missed", () => {
    const trials = [
      run("ours", 0, 110),
      run("before", 0, 100),
      run("before", 1, 200),
      run("ours", 1, 180),
      run("before", 2, 50), // ours dropped in round 2
      run("ours", 3, 100),
      run("before", 3, 80),
      run("ours", undefined, 1) // a run without a round is never paired
    ]
    assert.deepStrictEqual(roundRatios(churn, trials, "ours", "before"), [1.1, 0.9, 1.25])
  })

  it("reads hold's seconds to open the other way round, so that above 1 is better in every mode", () => {
    assert.deepStrictEqual(roundRatios(hold, [run("ours", 0, 2), run("before", 0, 8)], "ours", "before"), [4])
  })

  it("reports the ratio of the medians beside the median of the rounds and how many rounds were won", () => {
    const outcome: Outcome = {
      scenario: churn,
      generators: 1,
      dropped: [],
      trials: [run("ours", 0, 110), run("before", 0, 100), run("ours", 1, 90), run("before", 1, 100)]
    }
    const table = pairedTable([outcome], "ours", "before")
    assert.include(table, "| churn, 16 workers | 1.00 | 1.00 (0.90–1.10), ahead in 1 of 2 |")
  })
})
