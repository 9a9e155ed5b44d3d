// Processes for bench/run.ts: starting them pinned to a CPU, stopping them by their PID, and reading what the
// kernel knows about them (CPU time, memory, descriptors) and about each CPU.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import type { ChildProcess, StdioOptions } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "..")

export const hasTaskset = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" }).status === 0

export const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

export interface Exit {
  readonly code: number | null
  readonly signal: string | null
  /** performance.now() when it ended. */
  readonly at: number
}

export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<Exit>
}

const raiseFdLimit = "ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$@\""

/** Every process started here and still running: killed by PID if the run is interrupted. */
export const live = new Set<ChildProcess>()

/**
 * Starts `argv` pinned to `cpu` (when taskset exists), with a raised descriptor limit; `exec` keeps the PID the
 * program's own.
 */
export const launch = (
  argv: ReadonlyArray<string>,
  cpu: number,
  stdio: StdioOptions,
  env: NodeJS.ProcessEnv = process.env
): Proc => {
  const wrapped = ["bash", "-c", raiseFdLimit, "bash", ...argv]
  const full = hasTaskset ? ["taskset", "-c", String(cpu), ...wrapped] : wrapped
  const child = spawn(full[0]!, full.slice(1), { cwd: root, stdio, env })
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child)
      resolve({ code, signal, at: performance.now() })
    })
    child.once("error", () => {
      live.delete(child)
      resolve({ code: null, signal: null, at: performance.now() })
    })
  })
  live.add(child)
  return { child, pid: child.pid ?? -1, exited }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const within = <A>(promise: Promise<A>, ms: number): Promise<A | undefined> =>
  Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())])

const signal = (pid: number, name: NodeJS.Signals) => {
  try {
    process.kill(pid, name)
    return true
  } catch {
    return false // already gone
  }
}

export const kill = (pid: number) => signal(pid, "SIGKILL")

export interface Stopped {
  readonly killed: boolean
  readonly code: number | null
  readonly signal: string | null
  readonly stopMs: number
}

/** SIGINT, then SIGKILL after `graceMs`. */
export const stopProcess = async (proc: Proc, graceMs = 5000): Promise<Stopped> => {
  const start = performance.now()
  signal(proc.pid, "SIGINT")
  let exit = await within(proc.exited, graceMs)
  let killed = false
  if (exit === undefined) {
    killed = true
    kill(proc.pid)
    exit = await within(proc.exited, 5000)
  }
  return { killed, code: exit?.code ?? null, signal: exit?.signal ?? null, stopMs: performance.now() - start }
}

/** Sends SIGUSR2 (bench/probe.ts answers it). */
export const poke = (pid: number) => signal(pid, "SIGUSR2")

/** CPU ticks (user + system) used by a process so far. */
export const cpuTicks = (pid: number): number | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/**
 * Busy ticks of every CPU (index 0, 1, …) and of the whole machine (last), from /proc/stat: user, nice, system
 * and steal. Interrupt and softirq time is left out: on loopback most of it is the benchmark's own packets, which
 * the kernel does not charge to the processes.
 */
export const cpuBusyTicks = (): Array<number> => {
  const lines = Fs.readFileSync("/proc/stat", "utf8").split("\n").filter((line) => line.startsWith("cpu"))
  const busy = (line: string) => {
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    return (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[7] ?? 0)
  }
  const all = lines.find((line) => line.startsWith("cpu "))
  return [...lines.filter((line) => !line.startsWith("cpu ")).map(busy), all === undefined ? 0 : busy(all)]
}

/**
 * The kernel threads that process network packets when interrupts cannot keep up (ksoftirqd/N), by CPU: their
 * time is the benchmark's own loopback traffic, not another program's.
 */
export const packetThreads: ReadonlyMap<number, ReadonlyArray<number>> = (() => {
  const threads = new Map<number, Array<number>>()
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cpu = /^ksoftirqd\/(\d+)$/.exec(Fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim())?.[1]
      if (cpu !== undefined) threads.set(Number(cpu), [...(threads.get(Number(cpu)) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  return threads
})()

/** CPU ticks of the packet threads of `cpu`. */
export const packetTicks = (cpu: number): number =>
  (packetThreads.get(cpu) ?? []).reduce((sum, pid) => sum + (cpuTicks(pid) ?? 0), 0)

/** CPU % (of one core) the whole machine used over `ms`. */
export const machineCpu = async (ms: number): Promise<number> => {
  const before = cpuBusyTicks().at(-1) ?? 0
  await sleep(ms)
  return (((cpuBusyTicks().at(-1) ?? 0) - before) / clockTicks) / (ms / 1000) * 100
}

/** A field of /proc/PID/status in kB (VmRSS, VmHWM). */
export const statusKb = (pid: number, field: "VmRSS" | "VmHWM"): number | undefined => {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

export const descriptors = (pid: number): number | undefined => {
  try {
    return Fs.readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return undefined
  }
}

/** Whether something listens on 127.0.0.1:`port` (or every IPv4 address), from /proc/net/tcp. */
export const listening = (port: number): boolean => {
  const hex = port.toString(16).toUpperCase().padStart(4, "0")
  try {
    return Fs.readFileSync("/proc/net/tcp", "utf8").split("\n").some((line) => {
      const fields = line.trim().split(/\s+/)
      return (fields[1] === `0100007F:${hex}` || fields[1] === `00000000:${hex}`) && fields[3] === "0A"
    })
  } catch {
    return false
  }
}

export interface Collected {
  text: string
  lines: number
}

/** Keeps the first `limit` characters of a stream and counts its lines. */
export const collect = (stream: NodeJS.ReadableStream | null, limit = 64 * 1024): Collected => {
  const state = { text: "", lines: 0 }
  stream?.setEncoding("utf8")
  stream?.on("data", (chunk: string) => {
    for (const c of chunk) if (c === "\n") state.lines++
    if (state.text.length < limit) state.text += chunk.slice(0, limit - state.text.length)
  })
  return state
}

export const countLines = (file: string): number => {
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
