// Statistics and Markdown tables for bench/run.ts.
import { kinds, labels } from "./servers.js"
import type { Kind } from "./servers.js"
import type { Done, Scenario, Trial } from "./trial.js"

/** Generator processes together at or above this % of their core: the figure may be the generator's. */
export const generatorBoundPercent = 95

/** Above this spread ((max - min) / median of a server's figure over its runs), a scenario is run again. */
export const spreadLimit = 0.1

export interface Dropped {
  readonly kind: Kind
  readonly reason: string
}

export interface Outcome {
  readonly scenario: Scenario
  /** Generator processes per trial (1, or the saturation point found by the sweep). */
  readonly generators: number
  readonly trials: ReadonlyArray<Trial>
  readonly dropped: ReadonlyArray<Dropped>
  /** Churn at saturation: the figure of each server for each number of generator processes tried. */
  readonly sweep?: ReadonlyArray<{ readonly generators: number; readonly perSec: Partial<Record<Kind, number>> }>
  readonly saturated?: boolean
}

const finite = (values: ReadonlyArray<number | undefined>): Array<number> =>
  values.filter((v): v is number => typeof v === "number" && Number.isFinite(v))

export const median = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const sorted = finite(values).sort((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

const min = (values: ReadonlyArray<number | undefined>) => Math.min(...finite(values))
const max = (values: ReadonlyArray<number | undefined>) => Math.max(...finite(values))

export const num = (value: number | undefined, digits = 0): string =>
  value === undefined || !Number.isFinite(value)
    ? "–"
    : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? "–" : (a / b).toFixed(2)

/** The figure a scenario compares: per second for pingpong and churn, seconds to open them all for hold. */
export const figure = (scenario: Scenario, t: Done) => scenario.mode === "hold" ? t.openSec : t.perSec

export const done = (trials: ReadonlyArray<Trial>, kind: Kind): Array<Done> =>
  trials.filter((t): t is Done => t.ok && t.kind === kind)

/** (max - min) / median of a server's figure; 0 with fewer than two runs. */
export const spread = (scenario: Scenario, trials: ReadonlyArray<Trial>, kind: Kind): number => {
  const values = done(trials, kind).map((t) => figure(scenario, t))
  const mid = median(values)
  return values.length < 2 || mid === undefined || mid === 0 ? 0 : (max(values) - min(values)) / mid
}

export const present = (outcomes: ReadonlyArray<Outcome>): Array<Kind> =>
  kinds.filter((kind) => outcomes.some((o) => o.trials.some((t) => t.kind === kind)))

const unit = (scenario: Scenario) =>
  scenario.mode === "hold" ? "s to open" : scenario.mode === "churn" ? "cycles/s" : "replies/s"

const measured = (scenario: Scenario, runs: ReadonlyArray<Done>) => {
  const values = runs.map((t) => figure(scenario, t))
  const digits = scenario.mode === "hold" ? 1 : 0
  const range = runs.length > 1 ? ` (${num(min(values), digits)}–${num(max(values), digits)})` : ""
  const replied = scenario.mode === "hold"
    ? `, ${num(median(runs.map((t) => t.completed)))}/${num(scenario.connections)} replied`
    : ""
  return `${num(median(values), digits)} ${unit(scenario)}${range}${replied}`
}

const notes = (outcome: Outcome, kind: Kind, runs: ReadonlyArray<Done>) => {
  const { scenario, trials } = outcome
  const out: Array<string> = []
  const s = spread(scenario, trials, kind)
  if (scenario.mode !== "hold" && s > spreadLimit) out.push(`spread ${(s * 100).toFixed(0)} %: unstable`)
  const disturbed = runs.filter((t) => t.disturbed !== undefined).length
  if (disturbed > 0) out.push(`${disturbed} DISTURBED runs kept`)
  const dropped = outcome.dropped.filter((d) => d.kind === kind)
  if (dropped.length > 0) out.push(`${dropped.length} dropped (${dropped.map((d) => d.reason).join("; ")})`)
  const failed = trials.filter((t) => !t.ok && t.kind === kind)
  if (failed.length > 0) out.push(`${failed.length} failed: ${failed.map((t) => t.ok ? "" : t.error).join("; ")}`)
  const genMax = max(runs.map((t) => t.cpu.generators))
  if (genMax >= generatorBoundPercent) {
    out.push(`generator CPU up to ${num(genMax)} %: generator-bound`)
  }
  const killed = runs.filter((t) => t.stop.killed).length
  if (killed > 0) out.push(`${killed} killed after SIGINT`)
  const lines = median(runs.map((t) => t.logLinesPerReply))
  // The log also holds the warm-up's messages and the connect and disconnect lines: at least one line per
  // counted reply shows that no message went unlogged.
  if (lines !== undefined) {
    out.push(`${num(lines, 2)} log lines per counted reply${lines < 1 ? ": FEWER LINES THAN REPLIES" : ""}`)
  }
  const errors = runs.reduce((sum, t) => sum + t.errors, 0)
  if (errors > 0) {
    const byKind = new Map<string, number>()
    for (const t of runs) for (const [k, n] of Object.entries(t.errorKinds)) byKind.set(k, (byKind.get(k) ?? 0) + n)
    out.push(`errors: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")}`)
  }
  return out.join("; ")
}

export const resultsTable = (outcomes: ReadonlyArray<Outcome>): string => {
  const rows = [
    "| scenario | server | median (min–max) | × plain | latency p50 / p99 ms | server / generator CPU % | peak RSS MB | runs | notes |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  ]
  for (const outcome of outcomes) {
    const { scenario } = outcome
    const plain = median(done(outcome.trials, "plain").map((t) => figure(scenario, t)))
    const title = outcome.generators > 1
      ? `${scenario.title} (${outcome.generators} generator processes × ${scenario.connections} workers)`
      : scenario.title
    for (const kind of present([outcome])) {
      const runs = done(outcome.trials, kind)
      rows.push(
        `| ${title} | ${labels[kind]} | ${runs.length === 0 ? "failed" : measured(scenario, runs)} | ` +
          `${kind === "plain" ? "1" : ratio(median(runs.map((t) => figure(scenario, t))), plain)} | ` +
          `${num(median(runs.map((t) => t.p50)), 2)} / ${num(median(runs.map((t) => t.p99)), 2)} | ` +
          `${num(median(runs.map((t) => t.cpu.server)))} / ${num(median(runs.map((t) => t.cpu.generators)))} | ` +
          `${num(median(runs.map((t) => (t.peakRssKb ?? Number.NaN) / 1024)), 1)} | ${runs.length} | ` +
          `${notes(outcome, kind, runs)} |`
      )
    }
  }
  return rows.join("\n")
}

/** Idle RSS after start, and what each held connection costs, per server. */
export const memoryTable = (outcomes: ReadonlyArray<Outcome>): string => {
  const holds = outcomes.filter((o) => o.scenario.mode === "hold")
  const all = outcomes.flatMap((o) => o.scenario.log ? [] : o.trials)
  const idle = (kind: Kind) => median(done(all, kind).map((t) => (t.idle.rssKb ?? Number.NaN) / 1024))
  const header = [
    "| server | idle RSS after start, MB (× plain) | idle heap MB |",
    ...holds.map((o) =>
      ` ${num(o.scenario.connections)} held: heap KB / RSS KB per connection | peak RSS MB (× plain) |`
    )
  ].join("")
  const rows = [header, `| --- | --- | --- |${holds.map(() => " --- | --- |").join("")}`]
  for (const kind of present(outcomes)) {
    let row = `| ${labels[kind]} | ${num(idle(kind), 1)} (${ratio(idle(kind), idle("plain"))}) | ` +
      `${num(median(done(all, kind).map((t) => (t.idle.heapKb ?? Number.NaN) / 1024)), 1)} |`
    for (const o of holds) {
      const runs = done(o.trials, kind)
      const peak = (k: Kind) => median(done(o.trials, k).map((t) => (t.peakRssKb ?? Number.NaN) / 1024))
      row += ` ${num(median(runs.map((t) => t.held?.heapKbPer)), 1)} / ${
        num(median(runs.map((t) => t.held?.rssKbPer)), 1)
      } | ${num(peak(kind), 1)} (${ratio(peak(kind), peak("plain"))}) |`
    }
    rows.push(row)
  }
  return rows.join("\n")
}

export const sweepTable = (outcome: Outcome): string => {
  const shown = present([outcome])
  const rows = [
    `| generator processes × ${outcome.scenario.connections} workers | ${shown.map((k) => labels[k]).join(" | ")} |`,
    `| --- |${shown.map(() => " --- |").join("")}`
  ]
  for (const step of outcome.sweep ?? []) {
    rows.push(`| ${step.generators} | ${shown.map((k) => num(step.perSec[k])).join(" | ")} |`)
  }
  return rows.join("\n")
}

export const evidenceTable = (outcomes: ReadonlyArray<Outcome>): string => {
  const rows = [
    "| scenario | server | other programs' CPU on the benchmark cores, % (max) | stop after SIGINT ms: median (max) | exit | server stderr lines |",
    "| --- | --- | --- | --- | --- | --- |"
  ]
  for (const outcome of outcomes) {
    for (const kind of present([outcome])) {
      const runs = done(outcome.trials, kind)
      const exits = [...new Set(runs.map((t) => String(t.stop.code ?? t.stop.signal)))].join(", ")
      const stderr = runs.reduce((sum, t) => sum + t.stderrLines, 0)
      const head = runs.find((t) => t.stderrLines > 0)?.stderrHead
      rows.push(
        `| ${outcome.scenario.title} | ${labels[kind]} | ${num(max(runs.map((t) => t.cpu.interference)))} | ` +
          `${num(median(runs.map((t) => t.stop.stopMs)))} (${num(max(runs.map((t) => t.stop.stopMs)))}) | ${exits} | ` +
          `${stderr}${head === undefined ? "" : ` (${head.replaceAll("|", "\\|")})`} |`
      )
    }
  }
  return rows.join("\n")
}

/**
 * The ratio of `a`'s figure to `b`'s in each round where both ran (hold: `b`'s seconds to open over `a`'s, so
 * that above 1 is better for `a` in every mode).
 */
export const roundRatios = (scenario: Scenario, trials: ReadonlyArray<Trial>, a: Kind, b: Kind): Array<number> => {
  const byRound = (kind: Kind) => new Map(done(trials, kind).map((t) => [t.round, figure(scenario, t)]))
  const as = byRound(a)
  const ratios: Array<number> = []
  for (const [round, y] of byRound(b)) {
    const x = as.get(round)
    if (round === undefined || x === undefined || x === 0 || y === 0) continue
    ratios.push(scenario.mode === "hold" ? y / x : x / y)
  }
  return ratios
}

const describeRatios = (ratios: ReadonlyArray<number>): string =>
  ratios.length === 0
    ? "–"
    : `${num(median(ratios), 2)} (${num(min(ratios), 2)}–${num(max(ratios), 2)}), ahead in ` +
      `${ratios.filter((r) => r >= 1).length} of ${ratios.length}`

/** `a` against `b`, scenario by scenario: the ratio of the medians and the ratio round by round. */
export const pairedTable = (outcomes: ReadonlyArray<Outcome>, a: Kind, b: Kind): string => {
  const rows = [
    `| scenario | ${labels[a]} / ${labels[b]}: ratio of the medians | round by round: median (min–max), rounds ${
      labels[a]
    } is ahead |`,
    "| --- | --- | --- |"
  ]
  for (const { scenario, trials } of outcomes) {
    const x = median(done(trials, a).map((t) => figure(scenario, t)))
    const y = median(done(trials, b).map((t) => figure(scenario, t)))
    if (x === undefined || y === undefined) continue
    rows.push(
      `| ${scenario.title} | ${scenario.mode === "hold" ? ratio(y, x) : ratio(x, y)} | ${
        describeRatios(roundRatios(scenario, trials, a, b))
      } |`
    )
  }
  return rows.join("\n")
}

/** For each feature's scenario: ours with the feature against ours without, as a ratio, and its budget. */
export const budgetTable = (outcomes: ReadonlyArray<Outcome>): string => {
  const rows = [
    "| scenario | feature | without | with | with / without | round by round: median (min–max) | budget |",
    "| --- | --- | --- | --- | --- | --- | --- |"
  ]
  for (const { scenario, trials } of outcomes) {
    if (scenario.feature === undefined) continue
    const without = median(done(trials, "ours").map((t) => figure(scenario, t)))
    const withIt = median(done(trials, "feature").map((t) => figure(scenario, t)))
    const within = without === undefined || withIt === undefined
      ? "–"
      : withIt >= without * (1 - scenario.feature.budget)
      ? "within"
      : "OVER"
    rows.push(
      `| ${scenario.title} | \`${scenario.feature.label}\` | ${num(without)} ${unit(scenario)} | ` +
        `${num(withIt)} ${unit(scenario)} | ${ratio(withIt, without)} | ` +
        `${describeRatios(roundRatios(scenario, trials, "feature", "ours"))} | ` +
        `${within} (at most ${scenario.feature.budget * 100} % slower) |`
    )
  }
  return rows.join("\n")
}
