import { assert, describe, it } from "@effect/vitest"
import { Cause, FastCheck as fc, FiberId, FiberRefs, HashMap, List, LogLevel } from "effect"
import * as FiberLog from "../src/internal/fiberLog.js"
import * as JsonBytes from "../src/internal/jsonBytes.js"
import type * as LogBuffer from "../src/internal/logBuffer.js"
import * as LogFormat from "../src/internal/logFormat.js"

// A buffer that gives `pushWith` exactly the bytes it asked for, so a record that writes more than it said fails
// here (a typed array drops writes past its end), and keeps every line as bytes.
const exact = () => {
  const lines: Array<Uint8Array> = []
  const buffer: LogBuffer.BytesBuffer = {
    push: (line) => lines.push(Buffer.from(line)),
    pushWith: (maxBytes, fill) => {
      const bytes = Buffer.alloc(maxBytes)
      const end = fill(bytes, 0)
      assert.isAtMost(end, maxBytes, "wrote no more than it asked room for")
      lines.push(bytes.subarray(0, end))
    },
    flush: () => undefined,
    resume: () => undefined,
    dropped: () => 0
  }
  return { buffer, lines }
}

// Strings of any code units, and of the ones that need care, short and longer than the hand-written loop takes.
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({
    unit: fc.constantFrom("a", "\"", "\\", "\n", "\u0000", "\u001f", "\u007f", "\u00e9", "\u2028", "\u2029", "你"),
    maxLength: 200
  }),
  fc.string({ unit: fc.constantFrom("\ud800", "\udc00", "\ud83d", "\ude00", "x"), maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 150 })
)

const value = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.constant({ nested: ["a\u2028"] })
)

const line = (
  message: string,
  fixed: ReadonlyArray<FiberLog.Annotation>,
  extra: ReadonlyArray<FiberLog.Annotation> | undefined,
  base: HashMap.HashMap<string, unknown> = HashMap.empty(),
  level: LogLevel.LogLevel = LogLevel.Info,
  millis = 1_796_000_000_000
) =>
  new FiberLog.Line(
    FiberId.none,
    level,
    [message],
    FiberRefs.unsafeMake(new Map()),
    List.empty(),
    new Date(millis),
    base,
    fixed,
    extra
  )

const expected = (record: LogFormat.Record) => Buffer.from(LogFormat.json(record))

describe("JsonBytes", () => {
  it.prop("writeString writes the UTF-8 of the string's JSON", [text], ([s]) => {
    const bytes = Buffer.alloc(JsonBytes.stringBound(s))
    const end = JsonBytes.writeString(bytes, 0, s)
    assert.deepStrictEqual(bytes.subarray(0, end), Buffer.from(LogFormat.jsonString(s)))
  })

  it.prop(
    "a connection's message line: the same bytes as the json line, within the room it asked for",
    [text, text, value, fc.integer({ min: 0, max: 65535 }), fc.constantFrom(LogLevel.Info, LogLevel.Debug)],
    ([message, t, other, port, level]) => {
      const fixed: ReadonlyArray<FiberLog.Annotation> = [
        ["event", "message"],
        ["connection", 12],
        ["remote_address", "::ffff:127.0.0.1"],
        ["remote_port", port]
      ]
      const records = [
        line(message, fixed, [["text", t], ["bytes", t.length]], undefined, level),
        line(message, fixed, [["text", t], ["bytes", other]], undefined, level),
        line(message, fixed, [["text", other], ["hex", t]], undefined, level),
        line(message, fixed, undefined, undefined, level),
        // Out of order, or an annotation of the fiber: formatted as a string.
        line(message, fixed, [["bytes", 1], ["text", t]], undefined, level),
        line(message, fixed, [["text", t]], HashMap.make(["zone", other]), level),
        line(message, [["remote_port", port], ["event", "message"]], [["text", t]], undefined, level)
      ]
      const { buffer, lines } = exact()
      for (const record of records) JsonBytes.push(record, buffer)
      assert.deepStrictEqual(lines.map((l) => Buffer.from(l)), records.map(expected))
      for (const l of lines) assert.deepStrictEqual(JSON.parse(Buffer.from(l).toString("utf8")).message, message)
    }
  )

  it("the longest numbers fit the room asked for, with nothing else to spare", () => {
    const { buffer, lines } = exact()
    const numbers = [
      -1.7976931348623157e308,
      -0.0000012345678901234567,
      -2.2250738585072014e-308,
      -123456789012345680000
    ]
    const records = numbers.map((n) => line("", [], [["bytes", n]]))
    for (const record of records) JsonBytes.push(record, buffer)
    assert.deepStrictEqual(lines.map((l) => Buffer.from(l)), records.map(expected))
  })

  it("any other record: a record with a cause, and one made by Effect's logger", () => {
    const { buffer, lines } = exact()
    const records: Array<LogFormat.Record> = [
      {
        date: new Date(0),
        logLevel: LogLevel.Error,
        message: ["failed", 3],
        annotations: HashMap.make(["event", "failed"], ["timestamp", "mine"]),
        cause: Cause.fail("boom")
      },
      line("x\ny", [["event", "message"]], [["text", "你好"]])
    ]
    for (const record of records) JsonBytes.push(record, buffer)
    assert.deepStrictEqual(lines.map((l) => Buffer.from(l)), records.map(expected))
  })

  it("a new millisecond or level gets its own timestamp and level", () => {
    const { buffer, lines } = exact()
    const fixed: ReadonlyArray<FiberLog.Annotation> = [["event", "message"]]
    const records = [
      line("a", fixed, undefined, undefined, LogLevel.Info, 1000),
      line("b", fixed, undefined, undefined, LogLevel.Warning, 1000),
      line("c", fixed, undefined, undefined, LogLevel.Warning, 1001),
      line("d", fixed, undefined, undefined, LogLevel.Info, 1000)
    ]
    for (const record of records) JsonBytes.push(record, buffer)
    assert.deepStrictEqual(lines.map((l) => JSON.parse(Buffer.from(l).toString("utf8"))), [
      { timestamp: "1970-01-01T00:00:01.000Z", level: "info", message: "a", event: "message" },
      { timestamp: "1970-01-01T00:00:01.000Z", level: "warn", message: "b", event: "message" },
      { timestamp: "1970-01-01T00:00:01.001Z", level: "warn", message: "c", event: "message" },
      { timestamp: "1970-01-01T00:00:01.000Z", level: "info", message: "d", event: "message" }
    ])
  })
})
