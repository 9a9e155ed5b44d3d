// One trial of bench/run.ts: a fresh server, one or more generator processes (`node dist/bin.js bench --json`,
// pinned to CPU 1), CPU sampling every 200 ms, memory of the held connections, teardown.
import * as Fs from "node:fs"
import {
  clockTicks,
  collect,
  countLines,
  cpuBusyTicks,
  cpuTicks,
  descriptors,
  hasTaskset,
  launch,
  live,
  machineCpu,
  packetTicks,
  sleep,
  statusKb,
  stopProcess,
  within
} from "./processes.js"
import type { Proc, Stopped } from "./processes.js"
import { probe, startServer } from "./servers.js"
import type { Kind, Memory } from "./servers.js"

export interface Scenario {
  readonly name: string
  readonly title: string
  readonly mode: "pingpong" | "churn" | "hold"
  /** Connections (pingpong, hold) or workers (churn) of each generator process. */
  readonly connections: number
  readonly log: boolean
  /** Churn at saturation: the number of generator processes is searched for (see run.ts). */
  readonly sweep?: boolean
  /**
   * A feature's cost: the scenario runs ours without and with these flags (server kinds "ours" and "feature"),
   * alternating in the same run, and reports the ratio against the budget (issue 14: the feature may cost at most
   * `budget`, a fraction, of ours' figure).
   */
  readonly feature?: { readonly flags: ReadonlyArray<string>; readonly label: string; readonly budget: number }
}

/** What `bench --json` prints. */
export interface GeneratorResult {
  readonly perSec: number
  readonly replies: number
  readonly completed: number
  readonly opened: number
  readonly openSec: number
  readonly errors: number
  readonly errorKinds: Readonly<Record<string, number>>
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null

const isResult = (value: unknown): value is GeneratorResult =>
  isRecord(value) && ["perSec", "replies", "completed", "opened", "openSec", "errors"].every((key) =>
    typeof value[key] === "number"
  ) && isRecord(value["errorKinds"]) && isRecord(value["latencyMs"]) &&
  ["p50", "p99", "max"].every((key) => isRecord(value["latencyMs"]) && typeof value["latencyMs"][key] === "number")

export interface Cpu {
  /** % of one core over the steady part of the load. */
  readonly server: number | undefined
  readonly generators: number | undefined
  /**
   * CPU used by anything else on the server's core and on the generators' core (pinned), or on the whole machine
   * (not pinned), in % of one core.
   */
  readonly interference: number | undefined
}

export interface Held {
  /** Connections the server held when measured: its descriptors minus those it had idle. */
  readonly connections: number
  readonly heapKbPer: number | undefined
  readonly rssKbPer: number | undefined
}

export interface Done {
  readonly ok: true
  readonly kind: Kind
  readonly generators: number
  readonly perSec: number
  readonly completed: number
  readonly opened: number
  readonly openSec: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly errorKinds: Readonly<Record<string, number>>
  readonly cpu: Cpu
  /** Seconds between the first and the last generator's exit (several generators only). */
  readonly skewSec: number
  readonly idle: Memory
  readonly held: Held | undefined
  readonly peakRssKb: number | undefined
  readonly stop: Stopped
  readonly logLinesPerReply: number | undefined
  readonly stderrLines: number
  readonly stderrHead: string
  /** Why the run did not measure the server alone, when it was kept anyway (--keep-disturbed). */
  readonly disturbed?: string
  /** The round it ran in (each round runs every server of the scenario once, in turn), from 0. */
  readonly round?: number
}

export interface Failed {
  readonly ok: false
  readonly kind: Kind
  readonly error: string
}

export type Trial = Done | Failed

export interface Settings {
  readonly duration: number
  readonly ours: string
  readonly before: string | undefined
  readonly tmp: string
}

/** Hold: how long the opening of the connections may take, and how long they stay idle before the round trip. */
const holdOpenBoundSec = 90
const holdWaitSec = 3

/** Warm-up before counting: time for every generator process to start (they share CPU 1) and for the JIT. */
export const warmupSec = (generators: number) => 1 + 0.4 * (generators - 1)

const generatorArgs = (scenario: Scenario, port: number, duration: number, generators: number) => [
  "node",
  "dist/bin.js",
  "bench",
  "--host",
  "127.0.0.1",
  "--port",
  String(port),
  "--mode",
  scenario.mode,
  "--connections",
  String(scenario.connections),
  ...(scenario.mode === "hold"
    ? ["--duration", String(holdOpenBoundSec), "--hold-wait", String(holdWaitSec)]
    : ["--duration", String(duration), "--warmup", String(warmupSec(generators))]),
  "--json"
]

/**
 * Waits (at most 30 s) until the machine has been nearly idle for a second, so that a trial does not start in
 * the middle of someone else's burst.
 */
export const waitForQuiet = async () => {
  const deadline = performance.now() + 30_000
  for (;;) {
    const busy = await machineCpu(1000)
    if (busy < 15 || performance.now() > deadline) return busy
    console.log(`  (machine busy: ${busy.toFixed(0)}% of a core used by other programs; waiting)`)
  }
}

interface Sample {
  readonly t: number
  readonly server: number | undefined
  readonly generators: number | undefined
  readonly cpus: ReadonlyArray<number>
  /** Ticks of the packet threads of CPU 0 and CPU 1. */
  readonly packets: readonly [number, number]
}

const cpuOver = (samples: ReadonlyArray<Sample>, from: number, to: number): Cpu => {
  const inside = samples.filter((s) => s.t >= from && s.t <= to && s.server !== undefined && s.generators !== undefined)
  const first = inside[0]
  const last = inside.at(-1)
  if (first === undefined || last === undefined || inside.length < 2) {
    return { server: undefined, generators: undefined, interference: undefined }
  }
  const seconds = (last.t - first.t) / 1000
  const percent = (a: number, b: number) => ((b - a) / clockTicks) / seconds * 100
  const server = percent(first.server ?? 0, last.server ?? 0)
  const generators = percent(first.generators ?? 0, last.generators ?? 0)
  const busy = (i: number) => percent(first.cpus[i] ?? 0, last.cpus[i] ?? 0)
  const packets = (i: 0 | 1) => percent(first.packets[i], last.packets[i])
  const interference = hasTaskset && first.cpus.length >= 3
    ? Math.max(0, busy(0) - server - packets(0), busy(1) - generators - packets(1))
    : Math.max(0, busy(first.cpus.length - 1) - server - generators - packets(0) - packets(1))
  return { server, generators, interference }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

export const trial = async (
  scenario: Scenario,
  kind: Kind,
  generatorCount: number,
  settings: Settings
): Promise<Done> => {
  const server = await startServer(settings.tmp, kind, scenario.log, settings, scenario.feature?.flags ?? [])
  const generators: Array<
    Proc & { readonly out: ReturnType<typeof collect>; readonly err: ReturnType<typeof collect> }
  > = []
  let stop: Stopped | undefined
  try {
    const start = performance.now()
    for (let g = 0; g < generatorCount; g++) {
      const proc = launch(generatorArgs(scenario, server.port, settings.duration, generatorCount), 1, [
        "ignore",
        "pipe",
        "pipe"
      ])
      generators.push({ ...proc, out: collect(proc.child.stdout), err: collect(proc.child.stderr) })
    }
    const samples: Array<Sample> = []
    const sample = () => {
      const ticks = generators.map((g) => cpuTicks(g.pid))
      samples.push({
        t: performance.now() - start,
        server: cpuTicks(server.pid),
        generators: ticks.some((t) => t === undefined)
          ? undefined
          : ticks.reduce<number>((sum, t) => sum + (t ?? 0), 0),
        cpus: cpuBusyTicks(),
        packets: [packetTicks(0), packetTicks(1)]
      })
    }
    sample()
    const sampler = setInterval(sample, 200)
    // Hold: once the server holds the connections (counted by its descriptors), measure what they cost.
    let held: Held | undefined
    let finished = false
    const watch = async () => {
      const idleFds = server.idle.fds ?? 0
      let last = -1
      let stable = 0
      while (!finished) {
        await sleep(200)
        const fds = descriptors(server.pid)
        if (fds === undefined) return
        // Every connection held; or, when some never open, no change for 2 s with at least half of them.
        stable = fds === last && fds - idleFds >= scenario.connections / 2 ? stable + 1 : 0
        last = fds
        if (fds - idleFds < scenario.connections && stable < 10) continue
        const connections = fds - idleFds
        const rssKb = statusKb(server.pid, "VmRSS")
        const usage = await probe(server)
        held = {
          connections,
          rssKbPer: rssKb === undefined || server.idle.rssKb === undefined
            ? undefined
            : (rssKb - server.idle.rssKb) / connections,
          heapKbPer: usage === undefined || server.idle.heapKb === undefined
            ? undefined
            : (usage.heapUsed / 1024 - server.idle.heapKb) / connections
        }
        return
      }
    }
    const watching = scenario.mode === "hold" ? watch() : Promise.resolve()
    const limitMs = (scenario.mode === "hold" ? holdOpenBoundSec : settings.duration + warmupSec(generatorCount)) *
        1000 + 60_000
    const exits = await within(Promise.all(generators.map((g) => g.exited)), limitMs)
    clearInterval(sampler)
    finished = true
    await watching
    if (exits === undefined) throw new Error(`the generator did not finish within ${limitMs / 1000} s`)
    const results = generators.map((g, i) => {
      const line = g.out.text.trim().split("\n").filter((l) => l.startsWith("{")).pop()
      const parsed: unknown = line === undefined ? undefined : JSON.parse(line)
      if (!isResult(parsed)) {
        throw new Error(`generator ${i + 1} printed no result (exit ${exits[i]?.code}): ${g.err.text.trim()}`)
      }
      return parsed
    })
    const ends = exits.map((e) => e.at - start)
    const endMs = Math.min(...ends)
    const steadyFrom = (warmupSec(generatorCount) + 0.8) * 1000
    const cpu = scenario.mode === "hold"
      ? cpuOver(samples, 0, endMs)
      : cpuOver(samples, steadyFrom, Math.min(endMs - 300, steadyFrom + settings.duration * 1000 - 300))
    const peakRssKb = statusKb(server.pid, "VmHWM")
    stop = await stopProcess(server)
    const sum = (f: (r: GeneratorResult) => number) => results.reduce((total, r) => total + f(r), 0)
    const errorKinds: Record<string, number> = {}
    for (const r of results) {
      for (const [k, n] of Object.entries(r.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + n
    }
    const replies = sum((r) => r.replies)
    return {
      ok: true,
      kind,
      generators: generatorCount,
      perSec: sum((r) => r.perSec),
      completed: sum((r) => r.completed),
      opened: sum((r) => r.opened),
      openSec: Math.max(...results.map((r) => r.openSec)),
      p50: median(results.map((r) => r.latencyMs.p50)),
      p99: median(results.map((r) => r.latencyMs.p99)),
      errors: sum((r) => r.errors),
      errorKinds,
      cpu,
      skewSec: (Math.max(...ends) - endMs) / 1000,
      idle: server.idle,
      held,
      peakRssKb,
      stop,
      logLinesPerReply: scenario.log ? countLines(server.file) / Math.max(1, replies) : undefined,
      stderrLines: server.stderr.lines,
      stderrHead: server.stderr.text.split("\n")[0]?.slice(0, 160) ?? ""
    }
  } finally {
    for (const g of generators) if (live.has(g.child)) await stopProcess(g, 2000)
    if (stop === undefined) await stopProcess(server)
    Fs.rmSync(server.file, { force: true })
    if (server.probeFile !== undefined) Fs.rmSync(server.probeFile, { force: true })
  }
}

/** Why a trial does not measure the server alone, if it does not. */
export const disturbance = (t: Done, duration: number): string | undefined => {
  const limit = hasTaskset ? interferenceLimit : interferenceLimitUnpinned
  if (t.cpu.interference !== undefined && t.cpu.interference > limit) {
    return `other programs used ${t.cpu.interference.toFixed(0)}% of a ${hasTaskset ? "benchmark core" : "core"}`
  }
  if (t.generators > 1 && t.skewSec > Math.max(0.3, duration * 0.1)) {
    return `the generators ended ${t.skewSec.toFixed(2)} s apart`
  }
  return undefined
}

/** A trial is disturbed when anything else used more than this % of the server's or the generators' core. */
export const interferenceLimit = 10
/** The same over the whole machine, when the processes cannot be pinned. */
export const interferenceLimitUnpinned = 25
