/**
 * Hand-run micro-benchmark of the frame decoders: `push` (all the events of a chunk at once) against
 * `feed` + `next` (one event per call), on chunks of one frame and of 1,000 frames, and the memory one decoded
 * chunk of 32,768 one-byte lines holds either way. Not part of `npm run bench`, and no test depends on it.
 *
 *   npm run build
 *   npx esbuild bench/frameDecoder.ts --platform=node --format=esm --outfile=/tmp/frameDecoder.mjs
 *   node --expose-gc /tmp/frameDecoder.mjs [--case <part of a case name>] [Framing.js ...]
 *
 * Each module given (default `dist/Framing.js`; one without `feed` is measured with `push` only) is measured
 * in turn, 101 times, and the best time is kept, so that the machine's other work counts least. A server uses one
 * framing, so `--case` measures one case per process, as the decoders' call sites then see one class.
 * Run on built modules, not through vite-node: its transform turns each access to an imported binding into a
 * getter call, which slows the split decoders (their parts are separate modules) by about half.
 */
import type * as FramingModule from "effect-tcp-server/Framing"
import * as Path from "node:path"
import * as Url from "node:url"

const args = process.argv.slice(2)
const caseAt = args.indexOf("--case")
const only = caseAt < 0 ? undefined : args.splice(caseAt, 2)[1]
const targets = (args.length === 0 ? ["dist/Framing.js"] : args).map((path) => Path.resolve(path))
const modules: ReadonlyArray<typeof FramingModule> = await Promise.all(
  targets.map((target) => import(Url.pathToFileURL(target).href))
)
const Framing = modules[0]

const lines = (count: number, size: number): Buffer => Buffer.from(("x".repeat(size) + "\n").repeat(count), "latin1")

const prefixed = (count: number, size: number): Buffer => {
  const frame = Buffer.alloc(2 + size, 0x61)
  frame.writeUInt16BE(size)
  return Buffer.concat(Array.from({ length: count }, () => frame))
}

interface Case {
  readonly name: string
  readonly framing: FramingModule.Framing
  readonly chunk: Buffer
  readonly frames: number
}

const cases: ReadonlyArray<Case> = [
  { name: "line, 1 frame of 11 B", framing: Framing.line(), chunk: lines(1, 11), frames: 1 },
  { name: "line, 1,000 frames of 11 B", framing: Framing.line(), chunk: lines(1000, 11), frames: 1000 },
  { name: "line, 32,768 frames of 1 B", framing: Framing.line(), chunk: lines(32768, 1), frames: 32768 },
  {
    name: "delimiter \\x03, 1 frame of 11 B",
    framing: Framing.delimiter(Uint8Array.of(3)),
    chunk: Buffer.from("xxxxxxxxxxx\x03", "latin1"),
    frames: 1
  },
  {
    name: "delimiter \\x03, 1,000 frames",
    framing: Framing.delimiter(Uint8Array.of(3)),
    chunk: Buffer.from("xxxxxxxxxxx\x03".repeat(1000), "latin1"),
    frames: 1000
  },
  { name: "length 2, 1 frame of 11 B", framing: Framing.length(2), chunk: prefixed(1, 11), frames: 1 },
  { name: "length 2, 1,000 frames of 11 B", framing: Framing.length(2), chunk: prefixed(1000, 11), frames: 1000 },
  { name: "chunk, 1 frame of 12 B", framing: Framing.chunk, chunk: lines(1, 11), frames: 1 }
]

let sink = 0

const viaPush = (decoder: FramingModule.FrameDecoder, chunk: Buffer): void => {
  for (const event of decoder.push(chunk)) sink += event._tag.length
}

const viaNext = (decoder: FramingModule.FrameDecoder, chunk: Buffer): void => {
  decoder.feed(chunk)
  for (let event = decoder.next(); event !== undefined; event = decoder.next()) sink += event._tag.length
}

/** Nanoseconds per frame of one run of about 20,000 frames (a few milliseconds, shorter than a time slice). */
const time = (
  run: (decoder: FramingModule.FrameDecoder, chunk: Buffer) => void,
  decoder: FramingModule.FrameDecoder,
  { chunk, frames }: Case
): number => {
  const rounds = Math.max(1, Math.round(20_000 / frames))
  const start = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) run(decoder, chunk)
  return Number(process.hrtime.bigint() - start) / (rounds * frames)
}

for (const test of cases.filter(({ name }) => only === undefined || name.includes(only))) {
  const runs = modules.flatMap((module, i) => {
    const pull = "feed" in module.makeDecoder(module.chunk)
    return [
      { label: `${Path.basename(Path.dirname(targets[i]))} push`, run: viaPush, module },
      ...(pull ? [{ label: `${Path.basename(Path.dirname(targets[i]))} feed+next`, run: viaNext, module }] : [])
    ].map((entry) => ({ ...entry, decoder: entry.module.makeDecoder(test.framing), best: Infinity }))
  })
  for (let attempt = 0; attempt < 101; attempt++) {
    for (const entry of runs) entry.best = Math.min(entry.best, time(entry.run, entry.decoder, test))
  }
  console.log(`${test.name.padEnd(32)} ${runs.map(({ best, label }) => `${label} ${best.toFixed(1)}`).join("   ")}`)
}
console.log("(ns per frame, best of 101)")

// What one decoded 64 KiB chunk of one-byte lines holds: all its events (push) or one (next).
const gc = globalThis.gc
if (gc === undefined) {
  console.log("(run node with --expose-gc for the memory figures)")
} else {
  const chunk = lines(32768, 1)
  const held = (hold: () => unknown): number => {
    gc()
    const before = process.memoryUsage().heapUsed
    const kept = hold()
    gc()
    const after = process.memoryUsage().heapUsed
    sink += kept === undefined ? 0 : 1
    return (after - before) / 1024
  }
  console.log(
    `64 KiB of 1-byte lines, held after push: ${
      held(() => Framing.makeDecoder(Framing.line()).push(chunk)).toFixed(0)
    } KiB`
  )
  if ("feed" in Framing.makeDecoder(Framing.chunk)) {
    const decoder = Framing.makeDecoder(Framing.line())
    console.log(`64 KiB of 1-byte lines, held after feed + one next: ${
      held(() => {
        decoder.feed(chunk)
        return decoder.next()
      }).toFixed(0)
    } KiB`)
  }
}
console.log(sink > 0 ? "" : "(nothing decoded)")
