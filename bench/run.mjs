#!/usr/bin/env node
// Compares effect-tcp-server (dist/bin.js) with a plain node:net server (bench/plain-server.mjs) under the same
// load from the bench command (bench/bench-client.mjs -> dist/BenchCli.js), each in its own process.
//
// Usage: npm run bench [-- --repeat N] [-- --duration S] [-- --only NAME]
//        node bench/run.mjs [--repeat N] [--duration S] [--only NAME] [--no-write] [--ours BIN.js]
// --ours runs another build of this server's CLI (e.g. of an older commit) instead of dist/bin.js; only a run of
// every scenario against dist/bin.js rewrites BENCHMARKS.md.
//
// Every scenario runs each server --repeat times, alternating which goes first, each time in a fresh process
// pinned to CPU 0, with the generator pinned to CPU 1 (when taskset exists). While the generator runs, the CPU time
// of both processes is sampled from /proc/PID/stat; the server's peak RSS (VmHWM) is read just before it is
// stopped with SIGINT (SIGKILL after 5 s). A run of every scenario rewrites the results part of BENCHMARKS.md.
// Everything talks to 127.0.0.1 only and every process started here is stopped by its PID.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")

// ---------------------------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------------------------

const scenarios = [
  { name: "pingpong-1", title: "pingpong, 1 connection", mode: "pingpong", connections: 1, log: false },
  { name: "pingpong-100", title: "pingpong, 100 connections", mode: "pingpong", connections: 100, log: false },
  {
    name: "pingpong-100-log",
    title: "pingpong, 100 connections, logging every message",
    mode: "pingpong",
    connections: 100,
    log: true
  },
  { name: "pingpong-1000", title: "pingpong, 1000 connections", mode: "pingpong", connections: 1000, log: false },
  { name: "churn-16", title: "churn, 16 workers", mode: "churn", connections: 16, log: false },
  { name: "hold-10000", title: "hold, 10,000 connections", mode: "hold", connections: 10000, log: false }
]

const usage = `usage: node bench/run.mjs [--repeat N (3)] [--duration S (5)] [--only NAME] [--no-write] [--ours BIN.js]
scenarios: ${scenarios.map((s) => s.name).join(", ")}`

const options = { repeat: 3, duration: 5, only: undefined, write: true, ours: "dist/bin.js" }
{
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const value = () => {
      const v = args[++i]
      if (v === undefined) fail(`${arg} needs a value\n${usage}`)
      return v
    }
    if (arg === "--repeat") options.repeat = Number(value())
    else if (arg === "--duration") options.duration = Number(value())
    else if (arg === "--only") options.only = value()
    else if (arg === "--no-write") options.write = false
    else if (arg === "--ours") options.ours = value()
    else if (arg === "--help" || arg === "-h") {
      console.log(usage)
      process.exit(0)
    } else fail(`unknown argument ${arg}\n${usage}`)
  }
  if (!Number.isInteger(options.repeat) || options.repeat < 1) fail("--repeat must be a whole number of at least 1")
  if (!(options.duration >= 3 && options.duration <= 600)) fail("--duration must be from 3 to 600 seconds")
  // Another build of this server (e.g. of an older commit) to compare; its results are not written.
  if (options.ours !== "dist/bin.js") options.write = false
  if (options.only !== undefined && !scenarios.some((s) => s.name === options.only)) {
    fail(`unknown scenario ${options.only}\n${usage}`)
  }
}

function fail(message) {
  console.error(`bench/run.mjs: ${message}`)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------------

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" }).status === 0
const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()
const raiseFdLimit = "ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$@\""
const live = new Set()

/** Starts `argv` pinned to `cpu`, with a raised descriptor limit; `exec` keeps the PID the node process's. */
const launch = (argv, cpu, stdio) => {
  const wrapped = ["bash", "-c", raiseFdLimit, "bash", ...argv]
  const full = hasTaskset ? ["taskset", "-c", String(cpu), ...wrapped] : wrapped
  const child = spawn(full[0], full.slice(1), { cwd: root, stdio })
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child)
      resolve({ code, signal, at: performance.now() })
    })
    child.once("error", (error) => {
      live.delete(child)
      resolve({ code: null, signal: null, error, at: performance.now() })
    })
  })
  live.add(child)
  return { child, pid: child.pid, exited }
}

const within = (promise, ms) =>
  Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref())])

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** SIGINT, then SIGKILL after `graceMs`. Resolves with how it ended and how long it took. */
const stopProcess = async (proc, graceMs = 5000) => {
  const start = performance.now()
  try {
    process.kill(proc.pid, "SIGINT")
  } catch {
    // already gone
  }
  let exit = await within(proc.exited, graceMs)
  let killed = false
  if (exit === undefined) {
    killed = true
    try {
      process.kill(proc.pid, "SIGKILL")
    } catch {
      // already gone
    }
    exit = await within(proc.exited, 5000)
  }
  return { killed, code: exit?.code ?? null, signal: exit?.signal ?? null, stopMs: performance.now() - start }
}

const cpuTicks = (pid) => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/** Busy CPU ticks of the whole machine (every CPU), from /proc/stat. */
const machineBusyTicks = () => {
  const fields = Fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal
  return fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] ?? 0)
}

/** CPU % (of one core) used by the machine over `ms`. */
const machineCpu = async (ms) => {
  const before = machineBusyTicks()
  await sleep(ms)
  return ((machineBusyTicks() - before) / clockTicks) / (ms / 1000) * 100
}

/**
 * Other programs share this machine: wait (at most 30 s) until it has been nearly idle for a second, so that a
 * trial does not start in the middle of someone else's burst. Returns the CPU % seen last.
 */
const waitForQuiet = async () => {
  const deadline = performance.now() + 30_000
  for (;;) {
    const busy = await machineCpu(1000)
    if (busy < 15 || performance.now() > deadline) return busy
    console.log(`  (machine busy: ${busy.toFixed(0)}% CPU used by other programs; waiting)`)
  }
}

const peakRssKb = (pid) => {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

const collect = (stream, limit = 64 * 1024) => {
  const state = { text: "", lines: 0 }
  stream.setEncoding("utf8")
  stream.on("data", (chunk) => {
    for (const c of chunk) if (c === "\n") state.lines++
    if (state.text.length < limit) state.text += chunk.slice(0, limit - state.text.length)
  })
  return state
}

const countLines = (file) => {
  const fd = Fs.openSync(file, "r")
  const buffer = Buffer.alloc(1 << 20)
  let lines = 0
  try {
    for (;;) {
      const n = Fs.readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) break
      for (let i = 0; i < n; i++) if (buffer[i] === 10) lines++
    }
  } finally {
    Fs.closeSync(fd)
  }
  return lines
}

// ---------------------------------------------------------------------------------------------------------------
// One trial: a fresh server, the generator, measurements, teardown
// ---------------------------------------------------------------------------------------------------------------

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-bench-"))
let trialCount = 0

const serverCommand = (kind, log) =>
  kind === "ours"
    ? ["node", options.ours, "serve", "--host", "127.0.0.1", "--port", "0", "--backlog", "511", ...(log ? [] : ["--quiet"])]
    : ["node", "bench/plain-server.mjs", "--port", "0", ...(log ? ["--log"] : [])]

const startServer = async (kind, log) => {
  const file = Path.join(tmp, `${kind}-${++trialCount}.out`)
  const fd = Fs.openSync(file, "w")
  const proc = launch(serverCommand(kind, log), 0, ["ignore", fd, "pipe"])
  Fs.closeSync(fd)
  const stderr = collect(proc.child.stderr)
  const deadline = performance.now() + 15_000
  let exited
  proc.exited.then((exit) => (exited = exit))
  for (;;) {
    const head = Fs.readFileSync(file, "utf8").slice(0, 500)
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(head)
    if (match) return { ...proc, kind, file, stderr, port: Number(match[1]) }
    if (exited !== undefined) {
      throw new Error(`${kind} server exited (${exited.code ?? exited.signal}) before listening: ${stderr.text}`)
    }
    if (performance.now() > deadline) {
      await stopProcess(proc)
      throw new Error(`${kind} server did not print its address within 15 s: ${stderr.text}`)
    }
    await sleep(50)
  }
}

const holdOpenBoundSec = 90
const noisyPercent = 25

const generatorArgs = (scenario, port) => [
  "node",
  "bench/bench-client.mjs",
  "--host",
  "127.0.0.1",
  "--port",
  String(port),
  "--mode",
  scenario.mode,
  "--connections",
  String(scenario.connections),
  // In hold mode --duration only bounds the opening of the connections.
  "--duration",
  String(scenario.mode === "hold" ? holdOpenBoundSec : options.duration),
  ...(scenario.mode === "hold" ? ["--hold-wait", "2"] : []),
  "--json"
]

/** CPU % of each process between the first sample at or after `from` and the last at or before `to` (ms). */
const cpuPercent = (samples, from, to) => {
  const inside = samples.filter((s) => s.t >= from && s.t <= to && s.server !== undefined && s.gen !== undefined)
  if (inside.length < 2) return { server: undefined, gen: undefined, other: undefined, windowSec: 0 }
  const first = inside[0]
  const last = inside[inside.length - 1]
  const seconds = (last.t - first.t) / 1000
  const percent = (a, b) => ((b - a) / clockTicks) / seconds * 100
  const server = percent(first.server, last.server)
  const gen = percent(first.gen, last.gen)
  // Everything else the machine did meanwhile: other programs, and interrupt work not charged to a process.
  const other = Math.max(0, percent(first.machine, last.machine) - server - gen)
  return { server, gen, other, windowSec: seconds }
}

const trial = async (scenario, kind) => {
  const idleBefore = await waitForQuiet()
  const server = await startServer(kind, scenario.log)
  let generator
  let stop
  try {
    generator = launch(generatorArgs(scenario, server.port), 1, ["ignore", "pipe", "pipe"])
    const out = collect(generator.child.stdout)
    const err = collect(generator.child.stderr)
    const start = performance.now()
    const samples = []
    const sample = () =>
      samples.push({
        t: performance.now() - start,
        server: cpuTicks(server.pid),
        gen: cpuTicks(generator.pid),
        machine: machineBusyTicks()
      })
    sample()
    const sampler = setInterval(sample, 200)
    const limitMs = scenario.mode === "hold" ? (holdOpenBoundSec + 60) * 1000 : options.duration * 1000 + 60_000
    let exit = await within(generator.exited, limitMs)
    clearInterval(sampler)
    if (exit === undefined) {
      await stopProcess(generator, 2000)
      throw new Error(`the generator did not finish within ${limitMs / 1000} s`)
    }
    const line = out.text.trim().split("\n").filter((l) => l.startsWith("{")).pop()
    if (line === undefined) {
      throw new Error(`the generator printed no result (exit ${exit.code ?? exit.signal}): ${err.text.trim()}`)
    }
    const result = JSON.parse(line)
    // The steady part of the load: after the generator has started (~0.5 s) and before it tears down.
    const endMs = exit.at - start
    const cpu = scenario.mode === "hold"
      ? cpuPercent(samples, 0, endMs)
      : cpuPercent(samples, 1500, Math.min(endMs - 300, 500 + options.duration * 1000 - 300))
    const rssKb = peakRssKb(server.pid)
    stop = await stopProcess(server)
    const logLines = scenario.log ? countLines(server.file) : undefined
    return {
      ok: true,
      kind,
      result,
      cpu,
      rssKb,
      stop,
      logLines,
      idleBefore,
      serverStderrLines: server.stderr.lines,
      serverStderr: server.stderr.text,
      generatorExit: exit.code
    }
  } finally {
    if (generator !== undefined && live.has(generator.child)) await stopProcess(generator, 2000)
    if (stop === undefined) await stopProcess(server)
    Fs.rmSync(server.file, { force: true })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics and report
// ---------------------------------------------------------------------------------------------------------------

const median = (values) => {
  const sorted = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const min = (values) => Math.min(...values.filter(Number.isFinite))
const max = (values) => Math.max(...values.filter(Number.isFinite))

const num = (value, digits = 0) =>
  value === undefined || !Number.isFinite(value)
    ? "–"
    : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? "–" : `${(a / b).toFixed(2)}`)

const metricOf = (scenario, trial) => (scenario.mode === "hold" ? trial.result.completed : trial.result.perSec)

const summarize = (scenario, trials) => {
  const side = (kind) => {
    const ok = trials.filter((t) => t.kind === kind && t.ok)
    const metric = ok.map((t) => metricOf(scenario, t))
    return {
      runs: ok.length,
      failed: trials.filter((t) => t.kind === kind && !t.ok).length,
      metric: median(metric),
      metricMin: metric.length > 0 ? min(metric) : undefined,
      metricMax: metric.length > 0 ? max(metric) : undefined,
      p99: median(ok.map((t) => t.result.latencyMs.p99)),
      errors: ok.reduce((sum, t) => sum + t.result.errors, 0),
      errorKinds: ok.map((t) => t.result.errorKinds),
      serverCpu: median(ok.map((t) => t.cpu.server)),
      genCpu: median(ok.map((t) => t.cpu.gen)),
      genCpuMax: ok.length > 0 ? max(ok.map((t) => t.cpu.gen ?? Number.NaN)) : undefined,
      otherCpu: median(ok.map((t) => t.cpu.other)),
      noisy: ok.filter((t) => t.noisy).length,
      rssMb: median(ok.map((t) => (t.rssKb === undefined ? undefined : t.rssKb / 1024))),
      stopMs: median(ok.map((t) => t.stop.stopMs)),
      stopMsMax: ok.length > 0 ? max(ok.map((t) => t.stop.stopMs)) : undefined,
      killed: ok.filter((t) => t.stop.killed).length,
      exitCodes: [...new Set(ok.map((t) => t.stop.code ?? t.stop.signal))],
      stderrLines: ok.reduce((sum, t) => sum + t.serverStderrLines, 0),
      logLinesPerReply: median(
        ok.filter((t) => t.logLines !== undefined).map((t) => t.logLines / Math.max(1, t.result.replies))
      )
    }
  }
  return { scenario, ours: side("ours"), plain: side("plain") }
}

const metricCell = (scenario, s) => {
  if (s.runs === 0) return `failed (${s.failed})`
  const unit = scenario.mode === "hold" ? `/${num(scenario.connections)}` : "/s"
  const range = s.runs > 1 ? ` (${num(s.metricMin)}–${num(s.metricMax)})` : ""
  return `${num(s.metric)}${unit}${range}${s.failed > 0 ? `, ${s.failed} failed` : ""}`
}

const resultsTable = (summaries) => {
  const rows = [
    "| scenario | measured | effect-tcp-server: median (min–max) | plain node:net | ours/plain | p99 ms ours / plain (ratio) | errors ours / plain | peak RSS MB ours / plain (ratio) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
  ]
  for (const { scenario, ours, plain } of summaries) {
    const measured = scenario.mode === "hold"
      ? "connections that got their reply"
      : scenario.mode === "churn"
      ? "cycles per second"
      : "replies per second"
    rows.push(
      `| ${scenario.title} | ${measured} | ${metricCell(scenario, ours)} | ${metricCell(scenario, plain)} | ` +
        `${ratio(ours.metric, plain.metric)} | ${num(ours.p99, 2)} / ${num(plain.p99, 2)} (${ratio(ours.p99, plain.p99)}) | ` +
        `${ours.errors} / ${plain.errors} | ${num(ours.rssMb, 1)} / ${num(plain.rssMb, 1)} (${ratio(ours.rssMb, plain.rssMb)}) |`
    )
  }
  return rows.join("\n")
}

const evidenceTable = (summaries) => {
  const rows = [
    "| scenario | server CPU % ours / plain | generator CPU % against ours / against plain (max of all runs) | rest of the machine CPU % ours / plain | server stop after SIGINT, ms: median (max) ours / plain | killed | server stderr lines ours / plain |",
    "| --- | --- | --- | --- | --- | --- | --- |"
  ]
  for (const { scenario, ours, plain } of summaries) {
    rows.push(
      `| ${scenario.title} | ${num(ours.serverCpu)} / ${num(plain.serverCpu)} | ` +
        `${num(ours.genCpu)} / ${num(plain.genCpu)} (${num(Math.max(ours.genCpuMax ?? 0, plain.genCpuMax ?? 0))}) | ` +
        `${num(ours.otherCpu)} / ${num(plain.otherCpu)}${ours.noisy + plain.noisy > 0 ? ` (${ours.noisy} / ${plain.noisy} runs over ${noisyPercent} %)` : ""} | ` +
        `${num(ours.stopMs)} (${num(ours.stopMsMax)}) / ${num(plain.stopMs)} (${num(plain.stopMsMax)}) | ` +
        `${ours.killed} / ${plain.killed} | ${ours.stderrLines} / ${plain.stderrLines} |`
    )
  }
  return rows.join("\n")
}

/** Which source the server was built from: the commit, and the server files changed since (read-only git). */
const sourceState = () => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim()
    const changed = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: root, encoding: "utf8" })
      .split("\n").map((l) => l.slice(3).trim()).filter((f) => f.length > 0 && !/Bench/.test(f))
    return changed.length === 0 ? `commit ${head}` : `commit ${head} plus uncommitted changes to ${changed.join(", ")}`
  } catch {
    return "unknown source (no git)"
  }
}

const machine = () => {
  const cpuinfo = Fs.readFileSync("/proc/cpuinfo", "utf8")
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown"
  return {
    model,
    cores: Os.cpus().length,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    kernel: Os.release(),
    load: Os.loadavg().map((l) => l.toFixed(2)).join(" "),
    source: sourceState()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

const onSignal = (signal) => {
  console.error(`\nbench/run.mjs: ${signal}, stopping the processes started here`)
  for (const child of live) {
    try {
      process.kill(child.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  Fs.rmSync(tmp, { recursive: true, force: true })
  process.exit(130)
}
process.once("SIGINT", onSignal)
process.once("SIGTERM", onSignal)

const main = async () => {
  const info = machine()
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`
  console.log(`# ${info.date}  ${info.model}, ${info.cores} cores, Node ${info.node}, load ${info.load}`)
  console.log(`# server built from ${info.source}`)
  console.log(
    `# repeat ${options.repeat}, duration ${options.duration} s, taskset ${hasTaskset ? "server CPU 0, generator CPU 1" : "not available"}`
  )
  const chosen = scenarios.filter((s) => options.only === undefined || s.name === options.only)
  const summaries = []
  const started = performance.now()
  for (const scenario of chosen) {
    const trials = []
    for (let r = 0; r < options.repeat; r++) {
      const order = r % 2 === 0 ? ["ours", "plain"] : ["plain", "ours"]
      for (const kind of order) {
        let t
        // A run during which other programs took a lot of CPU is repeated, twice at most.
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            t = await trial(scenario, kind)
          } catch (error) {
            t = { ok: false, kind, error: error instanceof Error ? error.message : String(error) }
          }
          if (!t.ok || !(t.cpu.other > noisyPercent)) break
          t.noisy = true
          console.log(
            `  (${scenario.name} ${kind}: other programs used ${t.cpu.other.toFixed(0)}% CPU during the run` +
              `${attempt < 2 ? "; running it again" : "; keeping it"})`
          )
        }
        trials.push(t)
        const label = `${scenario.name.padEnd(17)} ${kind.padEnd(5)} #${r + 1}`
        if (!t.ok) {
          console.log(`${label}  FAILED: ${t.error}`)
          continue
        }
        const res = t.result
        const value = scenario.mode === "hold"
          ? `${res.completed}/${scenario.connections} replied, ${res.opened} opened in ${num(res.openSec, 1)} s`
          : `${num(res.perSec)}/s`
        const kinds = Object.entries(res.errorKinds).map(([k, n]) => `${k} ${n}`).join(", ")
        console.log(
          `${label}  ${value.padEnd(14)} p50 ${num(res.latencyMs.p50, 2)} p99 ${num(res.latencyMs.p99, 2)} ` +
            `max ${num(res.latencyMs.max, 1)} ms  errors ${res.errors}${kinds ? ` (${kinds})` : ""}  ` +
            `cpu server ${num(t.cpu.server)}% gen ${num(t.cpu.gen)}% rest ${num(t.cpu.other)}%  rss ${num((t.rssKb ?? 0) / 1024, 1)} MB  ` +
            `stop ${num(t.stop.stopMs)} ms${t.stop.killed ? " KILLED" : ""} exit ${t.stop.code ?? t.stop.signal}` +
            `${t.logLines !== undefined ? `  log lines ${t.logLines}` : ""}` +
            `${t.serverStderrLines > 0 ? `  server stderr ${t.serverStderrLines} lines: ${t.serverStderr.split("\n")[0].slice(0, 160)}` : ""}`
        )
      }
    }
    summaries.push(summarize(scenario, trials))
  }
  const minutes = (performance.now() - started) / 60_000

  const results = resultsTable(summaries)
  const evidence = evidenceTable(summaries)
  console.log(`\n${results}\n\n${evidence}\n\n(${minutes.toFixed(1)} minutes)`)

  if (options.write && options.only === undefined) {
    const section = [
      "<!-- results:start (written by bench/run.mjs; edit outside these markers) -->",
      `Measured ${info.date} on ${info.model} (${info.cores} cores, Linux ${info.kernel}), Node ${info.node}; ` +
        `load average before the run ${info.load}. Server built from ${info.source}.`,
      "",
      "```sh",
      `${command}    # npm run build && node bench/run.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
      "```",
      "",
      `Each scenario: ${options.repeat} runs per server, alternating which server goes first, ` +
        `${options.duration} s of load per run (hold: opening, 2 s idle, one round trip), ` +
        (hasTaskset ? "server pinned to CPU 0 and generator to CPU 1 (taskset). " : "no taskset, processes not pinned. ") +
        `The whole run took ${minutes.toFixed(1)} minutes.`,
      "",
      results,
      "",
      "CPU use while the load runs (median over the runs; % of one core, sampled from /proc/PID/stat and /proc/stat " +
        "every 200 ms over the steady part of the load, for hold over the whole generator run), and how the servers " +
        "stopped:",
      "",
      evidence,
      "<!-- results:end -->"
    ].join("\n")
    const file = Path.join(root, "BENCHMARKS.md")
    const existing = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : "# Benchmarks\n\n"
    const pattern = /<!-- results:start[^]*?<!-- results:end -->/
    const next = pattern.test(existing) ? existing.replace(pattern, () => section) : `${existing.trimEnd()}\n\n${section}\n`
    Fs.writeFileSync(file, next)
    console.log(`\nwrote the results to ${Path.relative(process.cwd(), file) || file}`)
  }
}

try {
  await main()
} finally {
  for (const child of live) {
    try {
      process.kill(child.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  Fs.rmSync(tmp, { recursive: true, force: true })
}
