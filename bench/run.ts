// `npm run bench`: effect-tcp-server against three other servers of the tutorial's protocol, under the same load,
// each in its own process: the floor of the design (bench/floor-server.ts), a plain node:net server
// (bench/plain-server.ts) and the tutorial's own Python server (bench/tutorial_server.py).
//
// How it runs: Node 20 cannot run TypeScript, so `npm run bench` builds the library (dist/), compiles bench/*.ts
// with tsconfig.bench.json to dist-bench/ and runs dist-bench/run.js. The harness imports nothing of the server:
// it starts the built CLI (`node dist/bin.js serve`, and `node dist/bin.js bench` as the load generator) and the
// floor imports only the package's public modules.
//
// Usage: npm run bench [-- --write] [-- --repeat N] [-- --duration S] [-- --only NAME,…] [-- --servers KIND,…]
//                      [-- --ours BIN.js] [-- --max-generators N]
// Only --write updates BENCHMARKS.md, and only after a run of every scenario and every server against
// dist/bin.js; otherwise the tables are printed only.
//
// Every scenario runs each server --repeat times, rotating which one goes first, each time in a fresh process
// pinned to CPU 0, with the generators pinned to CPU 1 (when taskset exists). Before each trial it waits for a
// quiet machine. A trial is disturbed, and run again (twice at most, then dropped and reported as dropped), when
// anything else (not counting the kernel's packet threads) used more than 10 % of the server's or the generators'
// core, or when several generators ended
// more than max(0.3 s, 10 % of the duration) apart. When a server's figure spreads by more than 10 % of its
// median over the runs, the scenario gets another round (twice at most); a spread still over 10 % is reported as
// unstable next to the figure. Everything talks to 127.0.0.1 only; every process started here is stopped by PID.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { hasTaskset, kill, live, root } from "./processes.js"
import {
  budgetTable,
  done,
  evidenceTable,
  memoryTable,
  num,
  pairedTable,
  resultsTable,
  spread,
  spreadLimit,
  sweepTable
} from "./report.js"
import type { Dropped, Outcome } from "./report.js"
import { comparedKinds, isKind } from "./servers.js"
import type { Kind } from "./servers.js"
import { disturbance, trial, waitForQuiet } from "./trial.js"
import type { Done, Scenario, Settings, Trial } from "./trial.js"

const scenarios: ReadonlyArray<Scenario> = [
  { name: "pingpong-1", title: "pingpong, 1 connection", mode: "pingpong", connections: 1, log: false },
  { name: "pingpong-100", title: "pingpong, 100 connections", mode: "pingpong", connections: 100, log: false },
  {
    name: "pingpong-100-log",
    title: "pingpong, 100 connections, logging",
    mode: "pingpong",
    connections: 100,
    log: true
  },
  {
    name: "pingpong-100-metrics",
    title: "pingpong, 100 connections, metrics on",
    mode: "pingpong",
    connections: 100,
    log: false,
    feature: { flags: ["--metrics-port", "0"], label: "--metrics-port 0", budget: 0.05 }
  },
  {
    name: "pingpong-100-json",
    title: "pingpong, 100 connections, logging as json",
    mode: "pingpong",
    connections: 100,
    log: true,
    feature: { flags: ["--log-format", "json"], label: "--log-format json", budget: 0.1 }
  },
  { name: "pingpong-1000", title: "pingpong, 1,000 connections", mode: "pingpong", connections: 1000, log: false },
  { name: "churn-16", title: "churn, 16 workers", mode: "churn", connections: 16, log: false },
  { name: "churn-16-log", title: "churn, 16 workers, logging", mode: "churn", connections: 16, log: true },
  { name: "churn-saturated", title: "churn at saturation", mode: "churn", connections: 16, log: false, sweep: true },
  { name: "hold-5000", title: "hold 5,000 connections", mode: "hold", connections: 5000, log: false },
  { name: "hold-10000", title: "hold 10,000 connections", mode: "hold", connections: 10000, log: false }
]

const usage = `usage: npm run bench -- [--write] [--repeat N (3)] [--duration S (5)] [--only NAME,…] [--servers KIND,…]
                        [--ours BIN.js (dist/bin.js)] [--before BIN.js] [--max-generators N (4)] [--keep-disturbed]
--before BIN.js:  one more column, another build of this server (an older commit's dist/bin.js), same flags as ours
--keep-disturbed: do not wait for a quiet machine, keep disturbed runs (marked); to try the harness on a busy
                  machine, never for figures (not with --write)
scenarios: ${scenarios.map((s) => s.name).join(", ")}
servers:   ${comparedKinds.join(", ")} (the scenarios of a feature, -metrics and -json, run ours without and with it)`

const fail = (message: string): never => {
  console.error(`bench/run.ts: ${message}`)
  process.exit(2)
}

const options: {
  repeat: number
  duration: number
  only: Array<string>
  servers: Array<Kind>
  write: boolean
  ours: string
  before: string | undefined
  maxGenerators: number
  keepDisturbed: boolean
} = {
  repeat: 3,
  duration: 5,
  only: scenarios.map((s) => s.name),
  servers: [...comparedKinds],
  write: false,
  ours: "dist/bin.js",
  before: undefined,
  maxGenerators: 4,
  keepDisturbed: false
}
{
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const value = () => args[++i] ?? fail(`${arg} needs a value\n${usage}`)
    if (arg === "--repeat") options.repeat = Number(value())
    else if (arg === "--duration") options.duration = Number(value())
    else if (arg === "--only") options.only = value().split(",")
    else if (arg === "--servers") {
      options.servers = value().split(",").map((s) => isKind(s) ? s : fail(`unknown server ${s}\n${usage}`))
    } else if (arg === "--write") options.write = true
    else if (arg === "--ours") options.ours = value()
    else if (arg === "--before") options.before = value()
    else if (arg === "--max-generators") options.maxGenerators = Number(value())
    else if (arg === "--keep-disturbed") options.keepDisturbed = true
    else if (arg === "--help" || arg === "-h") {
      console.log(usage)
      process.exit(0)
    } else fail(`unknown argument ${arg}\n${usage}`)
  }
  if (!Number.isInteger(options.repeat) || options.repeat < 1) fail("--repeat must be a whole number of at least 1")
  if (!(options.duration >= 1 && options.duration <= 600)) fail("--duration must be from 1 to 600 seconds")
  if (!Number.isInteger(options.maxGenerators) || options.maxGenerators < 2 || options.maxGenerators > 16) {
    fail("--max-generators must be a whole number from 2 to 16")
  }
  for (const name of options.only) {
    if (!scenarios.some((s) => s.name === name)) fail(`unknown scenario ${name}\n${usage}`)
  }
  if (options.before !== undefined && !options.servers.includes("before")) {
    options.servers.splice(1, 0, "before")
  }
  if (options.before === undefined && options.servers.includes("before")) fail("server before needs --before BIN.js")
  const complete = options.only.length === scenarios.length &&
    comparedKinds.every((kind) => options.servers.includes(kind)) && options.ours === "dist/bin.js"
  if (options.write && (!complete || options.keepDisturbed)) {
    fail(
      "--write needs a run of every scenario and every server against dist/bin.js " +
        "(no --only, --servers, --ours or --keep-disturbed; --before may add a column)"
    )
  }
}

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-bench-"))
const settings: Settings = { duration: options.duration, ours: options.ours, before: options.before, tmp }

const cleanUp = () => {
  for (const child of live) if (child.pid !== undefined) kill(child.pid)
  Fs.rmSync(tmp, { recursive: true, force: true })
}
const onSignal = (signal: string) => {
  console.error(`\nbench/run.ts: ${signal}, stopping the processes started here`)
  cleanUp()
  process.exit(130)
}
process.once("SIGINT", onSignal)
process.once("SIGTERM", onSignal)

const describe = (scenario: Scenario, t: Done) => {
  const value = scenario.mode === "hold"
    ? `${t.completed}/${scenario.connections} replied, ${t.opened} opened in ${num(t.openSec, 1)} s`
    : `${num(t.perSec)}/s`
  const held = t.held === undefined
    ? ""
    : `  held ${t.held.connections}: ${num(t.held.heapKbPer, 1)} KB heap, ${num(t.held.rssKbPer, 1)} KB RSS each`
  return `${value.padEnd(14)} p50 ${num(t.p50, 2)} p99 ${num(t.p99, 2)} ms  errors ${t.errors}  ` +
    `cpu server ${num(t.cpu.server)}% gen ${num(t.cpu.generators)}% other ${num(t.cpu.interference)}%  ` +
    `idle ${num((t.idle.rssKb ?? Number.NaN) / 1024, 1)} MB${held}  peak ${num((t.peakRssKb ?? 0) / 1024, 1)} MB  ` +
    `stop ${num(t.stop.stopMs)} ms${t.stop.killed ? " KILLED" : ""}` +
    `${t.stderrLines > 0 ? `  stderr ${t.stderrLines} lines: ${t.stderrHead}` : ""}`
}

/** One trial, run again when disturbed (twice at most); undefined when it was dropped. */
const attempt = async (
  scenario: Scenario,
  kind: Kind,
  generators: number,
  label: string,
  dropped: Array<Dropped>
): Promise<Trial | undefined> => {
  for (let n = 1; n <= 3; n++) {
    if (!options.keepDisturbed) await waitForQuiet()
    let t: Trial
    try {
      t = await trial(scenario, kind, generators, settings)
    } catch (error) {
      t = { ok: false, kind, error: error instanceof Error ? error.message : String(error) }
    }
    if (!t.ok) {
      console.log(`${label}  FAILED: ${t.error}`)
      return t
    }
    const why = disturbance(t, options.duration)
    if (why === undefined || options.keepDisturbed) {
      console.log(`${label}  ${describe(scenario, t)}${why === undefined ? "" : `  DISTURBED (${why})`}`)
      return why === undefined ? t : { ...t, disturbed: why }
    }
    console.log(`${label}  disturbed (${why}): ${n < 3 ? "running it again" : "dropped"}`)
    if (n === 3) dropped.push({ kind, reason: why })
  }
  return undefined
}

/** The servers of a scenario: those chosen, or for a feature's scenario ours without and with the feature. */
const serversOf = (scenario: Scenario): ReadonlyArray<Kind> =>
  scenario.feature === undefined
    ? options.servers.filter((kind) => kind !== "feature")
    : options.servers.includes("ours")
    ? ["ours", "feature"]
    : []

/** Every server once, starting with a different one each round. */
const round = async (
  scenario: Scenario,
  generators: number,
  r: number,
  trials: Array<Trial>,
  dropped: Array<Dropped>
) => {
  const servers = serversOf(scenario)
  const order = servers.map((_, i) => servers[(i + r) % servers.length]!)
  for (const kind of order) {
    const label = `${scenario.name.padEnd(16)} ${kind.padEnd(8)} #${r + 1}${generators > 1 ? ` ×${generators}` : ""}`
    const t = await attempt(scenario, kind, generators, label, dropped)
    if (t !== undefined) trials.push(t.ok ? { ...t, round: r } : t)
  }
}

const measure = async (scenario: Scenario, generators: number): Promise<Outcome> => {
  const trials: Array<Trial> = []
  const dropped: Array<Dropped> = []
  for (let r = 0; r < options.repeat; r++) await round(scenario, generators, r, trials, dropped)
  for (let extra = 0; extra < 2 && scenario.mode !== "hold"; extra++) {
    const wide = serversOf(scenario).filter((kind) => spread(scenario, trials, kind) > spreadLimit)
    if (wide.length === 0) break
    console.log(`  (${scenario.name}: spread over ${spreadLimit * 100} % for ${wide.join(", ")}; one more round)`)
    await round(scenario, generators, options.repeat + extra, trials, dropped)
  }
  return { scenario, generators, trials, dropped }
}

/**
 * Churn at saturation: one generator process of 16 workers, then 2, 3, … (all on CPU 1), one trial per server
 * each, until a step raises no server's figure by more than 10 %; the step before it is the saturation point,
 * measured then like any other scenario.
 */
const sweep = async (scenario: Scenario): Promise<Outcome> => {
  const steps: Array<{ generators: number; perSec: Partial<Record<Kind, number>> }> = []
  let chosen = options.maxGenerators
  let saturated = false
  for (let g = 1; g <= options.maxGenerators; g++) {
    const trials: Array<Trial> = []
    await round(scenario, g, g - 1, trials, [])
    const perSec: Partial<Record<Kind, number>> = {}
    for (const kind of options.servers) perSec[kind] = done(trials, kind)[0]?.perSec
    steps.push({ generators: g, perSec })
    const previous = steps[g - 2]?.perSec
    if (
      previous !== undefined && options.servers.every((kind) => {
        const now = perSec[kind]
        const before = previous[kind]
        return now === undefined || before === undefined || now <= before * (1 + spreadLimit)
      })
    ) {
      chosen = g - 1
      saturated = true
      break
    }
  }
  console.log(
    `  (${scenario.name}: ${saturated ? `saturated at ${chosen}` : `not saturated at ${chosen}`} generator processes)`
  )
  return { ...(await measure(scenario, chosen)), sweep: steps, saturated }
}

/** Which source the server was built from: the commit, and the files changed since (read-only git). */
const sourceState = () => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim()
    const changed = execFileSync("git", ["status", "--porcelain", "--", "src", "bench"], {
      cwd: root,
      encoding: "utf8"
    })
      .split("\n").map((l) => l.slice(3).trim()).filter((f) => f.length > 0)
    return changed.length === 0 ? `commit ${head}` : `commit ${head} plus uncommitted changes to ${changed.join(", ")}`
  } catch {
    return "unknown source (no git)"
  }
}

const main = async () => {
  const model = /model name\s*:\s*(.*)/.exec(Fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown"
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  const load = Os.loadavg().map((l) => l.toFixed(2)).join(" ")
  const source = sourceState()
  const python = execFileSync("python3", ["--version"], { encoding: "utf8" }).trim()
  const pinning = hasTaskset ? "server on CPU 0, generators on CPU 1 (taskset)" : "no taskset: processes not pinned"
  console.log(`# ${date}  ${model}, ${Os.cpus().length} cores, Node ${process.version}, ${python}, load ${load}`)
  console.log(`# server built from ${source}`)
  console.log(`# repeat ${options.repeat}, duration ${options.duration} s, ${pinning}`)
  const started = performance.now()
  const outcomes: Array<Outcome> = []
  for (const scenario of scenarios.filter((s) => options.only.includes(s.name))) {
    outcomes.push(scenario.sweep === true ? await sweep(scenario) : await measure(scenario, 1))
  }
  const minutes = (performance.now() - started) / 60_000
  const swept = outcomes.find((o) => o.sweep !== undefined)
  const sweepText = swept === undefined
    ? ""
    : `\n\nChurn by number of generator processes (one run each; ${
      swept.saturated === true
        ? `saturated at ${swept.generators}: one more raised no server's figure by more than 10 %`
        : `not saturated at ${swept.generators}`
    }):\n\n${sweepTable(swept)}`
  const budgets = outcomes.some((o) => o.scenario.feature !== undefined)
    ? `\n\nThe cost of a feature, measured in the same run (median with / median without, and the ratio round by ` +
      `round):\n\n${budgetTable(outcomes)}`
    : ""
  const beforeText = options.servers.includes("before")
    ? `\n\nThis build against \`--before\`, round by round (each round runs every server once, in turn; the ratio ` +
      `of two runs close in time cancels the machine's slow drifts, which the medians of a noisy run do not):\n\n` +
      `${pairedTable(outcomes, "ours", "before")}`
    : ""
  const results = resultsTable(outcomes) + beforeText + budgets
  const tables = `${results}\n\nMemory (idle: half a second after start, median over the runs without ` +
    `logging; held: after the opening of the hold scenario, heap after a full GC):\n\n${memoryTable(outcomes)}` +
    `${sweepText}\n\nHow clean the runs were:\n\n${evidenceTable(outcomes)}`
  console.log(`\n${tables}\n\n(${minutes.toFixed(1)} minutes)`)
  if (!options.write) {
    console.log("\nBENCHMARKS.md not changed (pass --write, with every scenario and server, to update it)")
    return
  }
  const args = process.argv.slice(2).join(" ")
  const section = [
    "<!-- results:start (written by bench/run.ts with --write; edit outside these markers) -->",
    `Measured ${date} on ${model} (${Os.cpus().length} cores, Linux ${Os.release()}), Node ${process.version}, ` +
    `${python}; load average before the run ${load}. Server built from ${source}.`,
    "",
    "```sh",
    `npm run bench -- ${args}`,
    "```",
    "",
    `Each scenario: ${options.repeat} runs per server (more when the spread was over 10 %), rotating which server ` +
    `goes first, ${options.duration} s of load per run after a warm-up (hold: opening, ${3} s idle, one round ` +
    `trip), ${pinning}. The whole run took ${minutes.toFixed(1)} minutes. "× plain" is the ratio of the medians ` +
    "(for hold, of the time to open every connection: lower is better).",
    "",
    tables,
    "<!-- results:end -->"
  ].join("\n")
  const file = Path.join(root, "BENCHMARKS.md")
  const existing = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : "# Benchmarks\n\n"
  const pattern = /<!-- results:start[^]*?<!-- results:end -->/
  const next = pattern.test(existing)
    ? existing.replace(pattern, () => section)
    : `${existing.trimEnd()}\n\n${section}\n`
  Fs.writeFileSync(file, next)
  console.log(`\nwrote the results to ${Path.relative(process.cwd(), file) || file}`)
}

try {
  await main()
} finally {
  cleanUp()
}
