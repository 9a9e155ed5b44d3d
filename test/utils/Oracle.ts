import { Context, Effect, Layer, Queue, Schema } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Python's codecs (test/utils/oracle.py), one process for all the requests of a test file. */
export class Oracle extends Context.Tag("test/Oracle")<Oracle, {
  /** The code points in `ranges` that `encoding` encodes strictly and decodes back, with their bytes in hex. */
  readonly repertoire: (
    encoding: string,
    ranges: ReadonlyArray<readonly [number, number]>
  ) => Effect.Effect<ReadonlyArray<readonly [number, string]>>
  /** Each text encoded strictly, in hex, or null when the encoding cannot represent it. */
  readonly encode: (encoding: string, texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string | null>>
  /** Each input (hex chunks) fed to a strict incremental decoder: the text, or null when it raised. */
  readonly decode: (
    encoding: string,
    inputs: ReadonlyArray<ReadonlyArray<string>>
  ) => Effect.Effect<ReadonlyArray<string | null>>
}>() {}

const Results = Schema.parseJson(Schema.Struct({ results: Schema.Array(Schema.NullOr(Schema.String)) }))
const Chars = Schema.parseJson(Schema.Struct({ chars: Schema.Array(Schema.Tuple(Schema.Number, Schema.String)) }))

const make = Effect.gen(function*() {
  const lines = yield* Queue.unbounded<string>()
  const child = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const script = fileURLToPath(new URL("oracle.py", import.meta.url))
      const child = spawn("python3", [script], { stdio: ["pipe", "pipe", "inherit"] })
      let buffered = ""
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (data: string) => {
        buffered += data
        for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
          Queue.unsafeOffer(lines, buffered.slice(0, end))
          buffered = buffered.slice(end + 1)
        }
      })
      // A response that no schema accepts, so that a request fails rather than waits forever.
      const gone = (why: string) => Queue.unsafeOffer(lines, JSON.stringify({ error: why }))
      child.on("error", (error) => gone(`python3 could not be started: ${error.message}`))
      child.on("exit", (code) => gone(`python3 exited with code ${code}`))
      return child
    }),
    (child) => Effect.sync(() => child.kill())
  )
  const lock = yield* Effect.makeSemaphore(1)
  const request = <A>(schema: Schema.Schema<A, string>, body: object) =>
    lock.withPermits(1)(
      Effect.sync(() => child.stdin.write(JSON.stringify(body) + "\n")).pipe(
        Effect.zipRight(Queue.take(lines)),
        Effect.flatMap(Schema.decode(schema)),
        Effect.orDie
      )
    )
  return Oracle.of({
    repertoire: (encoding, ranges) =>
      request(Chars, { op: "repertoire", encoding, ranges }).pipe(Effect.map((response) => response.chars)),
    encode: (encoding, texts) =>
      request(Results, { op: "encode", encoding, texts }).pipe(Effect.map((response) => response.results)),
    decode: (encoding, inputs) =>
      request(Results, { op: "decode", encoding, inputs }).pipe(Effect.map((response) => response.results))
  })
})

/** Starts python3 with test/utils/oracle.py; stops it when the scope closes. */
export const layer = Layer.scoped(Oracle, make)
