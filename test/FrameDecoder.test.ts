import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import Iconv from "iconv-lite"
import * as Framing from "../src/Framing.js"
import { splitAt } from "./utils/Bytes.js"

const LF = Buffer.from("\n")
const CRLF = Buffer.from("\r\n")
const none = Buffer.alloc(0)
const latin1 = (text: string): Buffer => Buffer.from(text, "latin1")
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

// Events as strings, so that assertions compare them whole and failures are readable.
const show = (event: Framing.FrameEvent): string => {
  switch (event._tag) {
    case "Frame":
      return `Frame ${hex(event.bytes)}/${hex(event.ending)}`
    case "Oversized":
      return `Oversized ${event.length}/${event.max}/${event.complete ? "complete" : "partial"}/${hex(event.ending)}`
    case "Incomplete":
      return `Incomplete ${event.length}/${event.expected}`
  }
}
const frame = (bytes: Uint8Array, ending: Uint8Array = none): Framing.FrameEvent => ({ _tag: "Frame", bytes, ending })
const oversized = (length: number, max: number, complete: boolean, ending: Uint8Array = none): Framing.FrameEvent => ({
  _tag: "Oversized",
  length,
  max,
  complete,
  ending
})
const incomplete = (length: number, expected: number): Framing.FrameEvent => ({
  _tag: "Incomplete",
  length,
  expected
})

/** The memory bound documented for `FrameDecoder.buffered`. */
const bound = (framing: Framing.Framing): number => {
  switch (framing._tag) {
    case "Chunk":
      return 0
    case "Line":
      return framing.maxFrameBytes + 1
    case "Delimiter":
      return framing.maxFrameBytes + Math.max(framing.delimiter.length, 1) - 1
    case "Length":
      return Math.max(framing.maxFrameBytes, framing.lengthBytes)
  }
}

interface Run {
  readonly events: ReadonlyArray<Framing.FrameEvent>
  readonly shown: ReadonlyArray<string>
}

/** Decodes `parts` and checks on the way that the decoder stays within its memory bound. */
const run = (framing: Framing.Framing, parts: ReadonlyArray<Uint8Array>): Run => {
  const decoder = Framing.makeDecoder(framing)
  const events: Array<Framing.FrameEvent> = []
  for (const part of parts) {
    events.push(...decoder.push(part))
    assert.isAtMost(decoder.buffered, bound(framing))
  }
  events.push(...decoder.end())
  assert.strictEqual(decoder.buffered, 0)
  return { events, shown: events.map(show) }
}

/**
 * Decodes `parts` with `feed`/`next`, checking the memory bound after every event, and `finish` right after the
 * last `feed` (before its events are pulled) when `finishEarly`.
 */
const pull = (framing: Framing.Framing, parts: ReadonlyArray<Uint8Array>, finishEarly = false): Run => {
  const decoder = Framing.makeDecoder(framing)
  const events: Array<Framing.FrameEvent> = []
  const drain = () => {
    for (let event = decoder.next(); event !== undefined; event = decoder.next()) {
      events.push(event)
      assert.isAtMost(decoder.buffered, bound(framing))
    }
    assert.isAtMost(decoder.buffered, bound(framing))
  }
  parts.forEach((part, i) => {
    decoder.feed(part)
    if (finishEarly && i === parts.length - 1) decoder.finish()
    drain()
  })
  decoder.finish()
  drain()
  assert.strictEqual(decoder.next(), undefined)
  assert.strictEqual(decoder.buffered, 0)
  return { events, shown: events.map(show) }
}

const bytewise = (bytes: Uint8Array): Array<Uint8Array> => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))

/** Every split of `input` in up to three parts (two when long), and in 1-byte chunks, gives `events`. */
const assertEverySplit = (
  framing: Framing.Framing,
  input: Uint8Array,
  events: ReadonlyArray<Framing.FrameEvent>
): void => {
  const expected = events.map(show)
  assert.deepStrictEqual(run(framing, [input]).shown, expected)
  assert.deepStrictEqual(run(framing, bytewise(input)).shown, expected, "1-byte chunks")
  // Two cuts for short inputs, one for longer ones.
  for (let i = 0; i <= input.length; i++) {
    for (let j = input.length > 40 ? input.length : i; j <= input.length; j++) {
      assert.deepStrictEqual(run(framing, splitAt(input, [i, j])).shown, expected, `split at ${i} and ${j}`)
    }
  }
}

const etx = Uint8Array.of(0x03)
// Starts with a repeated byte: in "\x01\x01\x01\x02" a partial match fails and the delimiter starts one byte later.
const overlapping = Uint8Array.of(0x01, 0x01, 0x02)

describe("FrameDecoder", () => {
  describe("round trips text in every encoding, however the bytes are split", () => {
    // As in Encoding.test.ts: ASCII (with LF and CR), Chinese, traditional Chinese and Japanese characters;
    // each encoding is tested with those it can represent.
    const candidates = [
      ..."abcXYZ019 ,.!?|@~\n\r",
      ..."你好中文客户端连接成功下线了问题正在处理",
      ..."問題處理連線日本語ｶﾅ€"
    ]
    const cuts = fc.array(fc.nat(), { maxLength: 10 })
    const modes: ReadonlyArray<{ readonly name: string; readonly framing: Framing.Framing }> = [
      { name: "line", framing: Framing.line() },
      { name: "delimiter \\x03", framing: Framing.delimiter(etx) },
      { name: "delimiter \\x01\\x01\\x02", framing: Framing.delimiter(overlapping) },
      { name: "length 1", framing: Framing.length(1) },
      { name: "length 2", framing: Framing.length(2) },
      { name: "length 4", framing: Framing.length(4) }
    ]
    for (const encoding of ["gbk", "gb18030", "big5", "shift_jis", "utf8"]) {
      for (const { framing, name } of modes) {
        const isLine = framing._tag === "Line"
        const alphabet = candidates.filter((c) =>
          Iconv.decode(Iconv.encode(c, encoding), encoding) === c && !(isLine && c === "\n")
        )
        const text = fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }).map((chars) => chars.join(""))
        // A CR just before the LF would belong to the ending: lines end with something else.
        const body = isLine ? text.map((t) => t.endsWith("\r") ? t + "." : t) : text
        const frames = fc.array(fc.record({ text: body, crlf: fc.boolean() }), { maxLength: 8 })
        // Delimited modes may end with an unterminated frame, reported at end().
        const trailing = framing._tag === "Length" ? fc.constant("") : text

        it.prop(
          `${encoding}, ${name}`,
          [frames, trailing, cuts, fc.boolean()],
          ([sent, last, points, oneByteChunks]) => {
            const endingOf = (crlf: boolean): Uint8Array | undefined => isLine ? (crlf ? CRLF : LF) : undefined
            const wire = Buffer.concat([
              ...sent.map(({ crlf, text }) =>
                Either.getOrThrow(Framing.encodeFrame(framing, Iconv.encode(text, encoding), endingOf(crlf)))
              ),
              Iconv.encode(last, encoding)
            ])
            const parts = oneByteChunks ? bytewise(wire) : splitAt(wire, points)
            const { events, shown } = run(framing, parts)

            const ending = (crlf: boolean): Uint8Array =>
              framing._tag === "Line" ? (crlf ? CRLF : LF) : framing._tag === "Delimiter" ? framing.delimiter : none
            const expected = sent.map(({ crlf, text }) => frame(Iconv.encode(text, encoding), ending(crlf)))
            if (last.length > 0) expected.push(frame(Iconv.encode(last, encoding)))
            assert.deepStrictEqual(shown, expected.map(show))

            const texts = events.map((event) => event._tag === "Frame" ? Iconv.decode(event.bytes, encoding) : "?")
            assert.deepStrictEqual(texts, [...sent.map(({ text }) => text), ...(last.length > 0 ? [last] : [])])
          }
        )
      }
    }
  })

  describe("chunk mode", () => {
    it("reports each non-empty read as one frame", () => {
      const decoder = Framing.makeDecoder(Framing.chunk)
      assert.deepStrictEqual(decoder.push(latin1("ab\ncd")).map(show), [show(frame(latin1("ab\ncd")))])
      assert.deepStrictEqual(decoder.push(none), [])
      assert.deepStrictEqual(decoder.push(latin1("e")).map(show), [show(frame(latin1("e")))])
      assert.deepStrictEqual(decoder.end(), [])
      assert.strictEqual(decoder.buffered, 0)
    })
  })

  describe("line mode", () => {
    it("ends lines at LF or CRLF, keeps a lone CR as data, and ends with an unterminated line", () => {
      assertEverySplit(Framing.line(), latin1("a\r\nb\n\nc\rd\r\n\r\ne\r"), [
        frame(latin1("a"), CRLF),
        frame(latin1("b"), LF),
        frame(none, LF),
        frame(latin1("c\rd"), CRLF),
        frame(none, CRLF),
        frame(latin1("e\r"))
      ])
    })

    it("reports nothing at the end of an empty input or after a complete line", () => {
      assert.deepStrictEqual(run(Framing.line(), []).shown, [])
      assert.deepStrictEqual(run(Framing.line(), [latin1("a\n")]).shown, [show(frame(latin1("a"), LF))])
    })

    it("keeps what it holds when the caller reuses its buffer", () => {
      const decoder = Framing.makeDecoder(Framing.line())
      const buffer = latin1("abc")
      assert.deepStrictEqual(decoder.push(buffer), [])
      buffer.fill(0x78)
      assert.deepStrictEqual(decoder.push(LF).map(show), [show(frame(latin1("abc"), LF))])
    })

    it("assembles a long line from many small reads", () => {
      const long = Buffer.from(Array.from({ length: 10_000 }, (_, i) => 0x20 + (i * 7919) % 90))
      const wire = Buffer.concat([long, CRLF, long.subarray(0, 300)])
      const parts = Array.from({ length: Math.ceil(wire.length / 7) }, (_, i) => wire.subarray(i * 7, i * 7 + 7))
      assert.deepStrictEqual(
        run(Framing.line(), parts).shown,
        [frame(long, CRLF), frame(long.subarray(0, 300))].map(show)
      )
      const framed = Buffer.concat([Buffer.from([0x27, 0x10]), long])
      const pieces = Array.from({ length: Math.ceil(framed.length / 7) }, (_, i) => framed.subarray(i * 7, i * 7 + 7))
      assert.deepStrictEqual(run(Framing.length(2), pieces).shown, [show(frame(long))])
    })

    it("skips an oversized line, reporting its length once, and goes on", () => {
      const framing = Framing.line({ maxFrameBytes: 5 })
      assertEverySplit(framing, latin1("hello\ntoo long line\r\nok\n"), [
        frame(latin1("hello"), LF),
        oversized(13, 5, true, CRLF),
        frame(latin1("ok"), LF)
      ])
    })

    it("measures the limit without the CR of a CRLF, and counts a final CR as data", () => {
      const framing = Framing.line({ maxFrameBytes: 5 })
      assertEverySplit(framing, latin1("12345\r\n123456\n12345\r"), [
        frame(latin1("12345"), CRLF),
        oversized(6, 5, true, LF),
        oversized(6, 5, false)
      ])
      assertEverySplit(framing, latin1("1234\r"), [frame(latin1("1234\r"))])
    })

    it("reports a line cut by the end of the input while skipping it", () => {
      assertEverySplit(Framing.line({ maxFrameBytes: 2 }), latin1("ab\nabcdef"), [
        frame(latin1("ab"), LF),
        oversized(6, 2, false)
      ])
    })

    it("closes at the first byte beyond the limit and then ignores its input", () => {
      const framing = Framing.line({ maxFrameBytes: 5, onOversized: "close" })
      const expected = [frame(latin1("hello"), LF), oversized(6, 5, false)]
      assertEverySplit(framing, latin1("hello\ntoo long line\nok\n"), expected)
      const decoder = Framing.makeDecoder(framing)
      assert.deepStrictEqual(decoder.push(latin1("hello\ntoo long")).map(show), expected.map(show))
      assert.deepStrictEqual(decoder.push(latin1("\nok\n")), [])
      assert.deepStrictEqual(decoder.end(), [])
      assert.strictEqual(decoder.buffered, 0)
    })

    it("under close, waits for the byte after a CR at the limit", () => {
      const framing = Framing.line({ maxFrameBytes: 5, onOversized: "close" })
      assertEverySplit(framing, latin1("12345\r\nok\n"), [frame(latin1("12345"), CRLF), frame(latin1("ok"), LF)])
      assertEverySplit(framing, latin1("12345\rx\n"), [oversized(7, 5, false)])
      assertEverySplit(framing, latin1("12345\r"), [oversized(6, 5, false)])
    })
  })

  describe("delimiter mode", () => {
    it("ends frames at a delimiter split across chunks, even one overlapping itself", () => {
      assertEverySplit(Framing.delimiter(overlapping), latin1("a\x01\x01\x01\x02\x01b\x01\x01\x02\x01\x01\x02\x01"), [
        frame(latin1("a\x01"), overlapping),
        frame(latin1("\x01b"), overlapping),
        frame(none, overlapping),
        frame(latin1("\x01"))
      ])
    })

    it("skips an oversized frame and reports its length once", () => {
      const framing = Framing.delimiter(overlapping, { maxFrameBytes: 3 })
      assertEverySplit(framing, latin1("abc\x01\x01\x02abc\x01\x01\x01\x02xyz"), [
        frame(latin1("abc"), overlapping),
        oversized(4, 3, true, overlapping),
        frame(latin1("xyz"))
      ])
    })

    it("under close, reports the frame when no delimiter can start within the limit", () => {
      const framing = Framing.delimiter(overlapping, { maxFrameBytes: 3, onOversized: "close" })
      assertEverySplit(framing, latin1("abc\x01\x01\x02abcd"), [
        frame(latin1("abc"), overlapping),
        oversized(4, 3, false)
      ])
      // "abc\x01" is oversized, which is only known once the 6th byte rules out a delimiter at the 4th.
      assertEverySplit(framing, latin1("abc\x01\x01\x01\x02"), [oversized(6, 3, false)])
    })
  })

  describe("length mode", () => {
    it("reads big-endian prefixes split across chunks, and empty frames", () => {
      assertEverySplit(Framing.length(2), Buffer.from([0, 3, 97, 98, 99, 0, 0, 0, 1, 122]), [
        frame(latin1("abc")),
        frame(none),
        frame(latin1("z"))
      ])
      assertEverySplit(Framing.length(4), Buffer.from([0, 0, 1, 0, ...Buffer.alloc(256, 120)]), [
        frame(Buffer.alloc(256, 120))
      ])
    })

    it("skips an oversized frame without holding it", () => {
      const framing = Framing.length(2, { maxFrameBytes: 4 })
      assertEverySplit(framing, Buffer.from([0, 3, 97, 98, 99, 0, 10, ...Buffer.alloc(10), 0, 1, 122]), [
        frame(latin1("abc")),
        oversized(10, 4, true),
        frame(latin1("z"))
      ])
    })

    it("under close, reports the oversized frame from its prefix and ignores the rest", () => {
      const framing = Framing.length(2, { maxFrameBytes: 4, onOversized: "close" })
      assertEverySplit(framing, Buffer.from([0, 3, 97, 98, 99, 0, 10, ...Buffer.alloc(10), 0, 1, 122]), [
        frame(latin1("abc")),
        oversized(10, 4, true)
      ])
    })

    it("reports an input ending inside a prefix or a frame, counting the prefix", () => {
      const framing = Framing.length(2, { maxFrameBytes: 4 })
      assertEverySplit(framing, Buffer.from([0]), [incomplete(1, 2)])
      assertEverySplit(framing, Buffer.from([0, 3, 97]), [incomplete(3, 5)])
      assertEverySplit(framing, Buffer.from([0, 10, 1, 2, 3]), [oversized(10, 4, true), incomplete(5, 12)])
    })
  })

  describe("memory", () => {
    const chunk = Buffer.alloc(64 * 1024)
    const total = 1600 * chunk.length // 100 MiB

    const pushAll = (decoder: Framing.FrameDecoder, framing: Framing.Framing): Array<string> => {
      const events: Array<string> = []
      for (let i = 0; i < 1600; i++) {
        events.push(...decoder.push(chunk).map(show))
        assert.isAtMost(decoder.buffered, bound(framing))
      }
      return events
    }

    it("holds a bounded number of bytes while skipping 100 MiB without a delimiter", () => {
      const cases: ReadonlyArray<[Framing.Framing, Uint8Array]> = [
        [Framing.line(), LF],
        [Framing.delimiter(overlapping), overlapping]
      ]
      for (const [framing, ending] of cases) {
        const decoder = Framing.makeDecoder(framing)
        assert.deepStrictEqual(pushAll(decoder, framing), [])
        assert.deepStrictEqual(decoder.push(Buffer.concat([ending, latin1("ok"), ending])).map(show), [
          show(oversized(total, Framing.defaultMaxFrameBytes, true, ending)),
          show(frame(latin1("ok"), ending))
        ])
      }
    })

    it("holds nothing while skipping a 100 MiB length-prefixed frame", () => {
      const framing = Framing.length(4)
      const decoder = Framing.makeDecoder(framing)
      const prefix = Buffer.alloc(4)
      prefix.writeUInt32BE(total)
      assert.deepStrictEqual(decoder.push(prefix).map(show), [
        show(oversized(total, Framing.defaultMaxFrameBytes, true))
      ])
      assert.deepStrictEqual(pushAll(decoder, framing), [])
      assert.deepStrictEqual(decoder.push(Buffer.from([0, 0, 0, 1, 122])).map(show), [show(frame(latin1("z")))])
    })

    it("under close, stops at once", () => {
      const framing = Framing.line({ onOversized: "close" })
      const decoder = Framing.makeDecoder(framing)
      assert.deepStrictEqual(pushAll(decoder, framing), [show(oversized(65537, Framing.defaultMaxFrameBytes, false))])
      assert.strictEqual(decoder.buffered, 0)
    })
  })

  it("neither hangs nor throws on unchecked framings", () => {
    assert.deepStrictEqual(run(Framing.delimiter(none, { maxFrameBytes: 4 }), [latin1("ab"), latin1("cdef")]).shown, [
      show(oversized(6, 4, false))
    ])
    const decoder = Framing.makeDecoder(Framing.line({ maxFrameBytes: Number.NaN }))
    assert.deepStrictEqual(decoder.push(latin1("a\n\n")).map(show), [
      show(oversized(1, 0, true, LF)),
      show(frame(none, LF))
    ])
  })

  describe("fuzzing", () => {
    // Bytes that are delimiters, parts of delimiters or small length prefixes, so that all paths are taken.
    const input = fc.array(fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x0a, 0x0d, 0x61), { maxLength: 120 })
      .map((bytes) => Buffer.from(bytes))
    const cuts = fc.array(fc.nat(), { maxLength: 12 })
    const max = fc.integer({ min: 1, max: 8 })

    /** What a decoder reads from the whole input at once, under "skip": found without streaming. */
    const reference = (framing: Framing.Framing, bytes: Buffer): Array<Framing.FrameEvent> => {
      const out: Array<Framing.FrameEvent> = []
      switch (framing._tag) {
        case "Chunk":
          return [frame(bytes)]
        case "Line":
        case "Delimiter": {
          const delimiter = framing._tag === "Line" ? LF : framing.delimiter
          const limit = framing.maxFrameBytes
          let start = 0
          for (let index = bytes.indexOf(delimiter); index >= 0; index = bytes.indexOf(delimiter, start)) {
            let content = bytes.subarray(start, index)
            let ending: Uint8Array = delimiter
            if (framing._tag === "Line" && content.length > 0 && content[content.length - 1] === 0x0d) {
              content = content.subarray(0, -1)
              ending = CRLF
            }
            out.push(content.length <= limit ? frame(content, ending) : oversized(content.length, limit, true, ending))
            start = index + delimiter.length
          }
          const rest = bytes.subarray(start)
          if (rest.length > 0) out.push(rest.length <= limit ? frame(rest) : oversized(rest.length, limit, false))
          return out
        }
        case "Length": {
          const prefix = framing.lengthBytes
          let pos = 0
          while (pos < bytes.length) {
            if (bytes.length - pos < prefix) {
              out.push(incomplete(bytes.length - pos, prefix))
              break
            }
            const size = bytes.readUIntBE(pos, prefix)
            pos += prefix
            if (size > framing.maxFrameBytes) out.push(oversized(size, framing.maxFrameBytes, true))
            if (bytes.length - pos < size) {
              out.push(incomplete(prefix + bytes.length - pos, prefix + size))
              break
            }
            if (size <= framing.maxFrameBytes) out.push(frame(bytes.subarray(pos, pos + size)))
            pos += size
          }
          return out
        }
      }
    }

    /** The bytes the events of a "skip" decoder account for; must be the length of the input. */
    const accounted = (framing: Framing.Framing, events: ReadonlyArray<Framing.FrameEvent>): number => {
      const prefix = framing._tag === "Length" ? framing.lengthBytes : 0
      let sum = 0
      events.forEach((event, i) => {
        switch (event._tag) {
          case "Frame":
            sum += prefix + event.bytes.length + event.ending.length
            break
          case "Oversized":
            sum += prefix + event.length + event.ending.length
            break
          case "Incomplete": {
            // Right after the oversized frame it cuts, it replaces that frame's count.
            const previous = events[i - 1]
            if (previous?._tag === "Oversized" && event.expected === prefix + previous.length) {
              sum -= prefix + previous.length
            }
            sum += event.length
          }
        }
      })
      return sum
    }

    const modes: ReadonlyArray<
      readonly [string, (max: number, onOversized: Framing.OversizedPolicy) => Framing.Framing]
    > = [
      ["line", (maxFrameBytes, onOversized) => Framing.line({ maxFrameBytes, onOversized })],
      ["delimiter \\x03", (maxFrameBytes, onOversized) => Framing.delimiter(etx, { maxFrameBytes, onOversized })],
      ["delimiter \\r\\n", (maxFrameBytes, onOversized) => Framing.delimiter(CRLF, { maxFrameBytes, onOversized })],
      [
        "delimiter \\x01\\x01\\x02",
        (maxFrameBytes, onOversized) => Framing.delimiter(overlapping, { maxFrameBytes, onOversized })
      ],
      ["length 1", (maxFrameBytes, onOversized) => Framing.length(1, { maxFrameBytes, onOversized })],
      ["length 2", (maxFrameBytes, onOversized) => Framing.length(2, { maxFrameBytes, onOversized })],
      ["length 4", (maxFrameBytes, onOversized) => Framing.length(4, { maxFrameBytes, onOversized })]
    ]

    it.prop("chunk: one frame per non-empty read, all bytes in order", [input, cuts], ([bytes, points]) => {
      const parts = splitAt(bytes, points)
      const { events } = run(Framing.chunk, parts)
      assert.strictEqual(events.length, parts.filter((part) => part.length > 0).length)
      const frames = events.flatMap((event) => event._tag === "Frame" ? [event.bytes] : [])
      assert.strictEqual(hex(Buffer.concat(frames)), hex(bytes))
    }, { fastCheck: { numRuns: 200 } })

    for (const [name, make] of modes) {
      it.prop(`${name}, skip: agrees with a reference and accounts for every byte`, [input, cuts, max], ([
        bytes,
        points,
        limit
      ]) => {
        const framing = make(limit, "skip")
        const whole = run(framing, [bytes])
        assert.deepStrictEqual(run(framing, splitAt(bytes, points)).shown, whole.shown)
        assert.deepStrictEqual(whole.shown, reference(framing, bytes).map(show))
        assert.strictEqual(accounted(framing, whole.events), bytes.length)
      }, { fastCheck: { numRuns: 200 } })

      it.prop(`${name}, close: stops at the first oversized frame`, [input, cuts, max], ([bytes, points, limit]) => {
        const framing = make(limit, "close")
        const { events, shown } = run(framing, splitAt(bytes, points))
        assert.deepStrictEqual(run(framing, [bytes]).shown, shown)
        const skipped = reference(make(limit, "skip"), bytes)
        const first = skipped.findIndex((event) => event._tag === "Oversized")
        if (first < 0) {
          assert.deepStrictEqual(shown, skipped.map(show))
          return
        }
        assert.deepStrictEqual(shown.slice(0, first), skipped.slice(0, first).map(show))
        assert.strictEqual(shown.length, first + 1)
        const event = events[first]
        const expected = skipped[first]
        assert(event?._tag === "Oversized" && expected?._tag === "Oversized")
        if (framing._tag === "Length") {
          assert.strictEqual(show(event), show(expected))
        } else {
          // Known to be oversized somewhere between the byte after the limit and the end of its delimiter.
          assert.isFalse(event.complete)
          assert.isAbove(event.length, limit)
          assert.isAtMost(event.length, expected.length + expected.ending.length)
        }
      }, { fastCheck: { numRuns: 200 } })
    }

    it.prop(
      "feed/next gives the events push gives, in every mode and policy, however the input is split",
      [input, cuts, max, fc.boolean(), fc.boolean()],
      ([bytes, points, limit, close, finishEarly]) => {
        const policy: Framing.OversizedPolicy = close ? "close" : "skip"
        const parts = splitAt(bytes, points)
        for (const framing of [Framing.chunk, ...modes.map(([, make]) => make(limit, policy))]) {
          const pushed = run(framing, parts)
          const pulled = pull(framing, parts, finishEarly)
          assert.deepStrictEqual(pulled.shown, pushed.shown)
          if (framing._tag !== "Chunk") assert.deepStrictEqual(pull(framing, [bytes]).shown, pushed.shown)
        }
      },
      { fastCheck: { numRuns: 300, seed: 20261203 } }
    )
  })

  describe("pull", () => {
    const oneByteLines = (count: number) => Buffer.from("a\n".repeat(count), "latin1")

    it("decodes one frame per next(), holding nothing more: a change to the unread part of the chunk shows", () => {
      const framing = Framing.line()
      const decoder = Framing.makeDecoder(framing)
      const chunk = oneByteLines(10_000)
      decoder.feed(chunk)
      assert.strictEqual(show(decoder.next() ?? frame(none)), show(frame(latin1("a"), LF)))
      assert.strictEqual(decoder.buffered, 0)
      // Had the decoder cut the chunk ahead, the frames would keep the old boundaries.
      chunk[2] = 0x7a
      chunk[5] = 0x79
      assert.strictEqual(show(decoder.next() ?? frame(none)), show(frame(latin1("z"), LF)))
      assert.strictEqual(show(decoder.next() ?? frame(none)), show(frame(latin1("aya"), LF)))
      let count = 3
      for (let event = decoder.next(); event !== undefined; event = decoder.next()) {
        assert.strictEqual(event._tag, "Frame")
        assert.strictEqual(decoder.buffered, 0)
        count++
      }
      assert.strictEqual(count, 9_999)
      decoder.finish()
      assert.strictEqual(decoder.next(), undefined)
    })

    it("in length mode too", () => {
      const decoder = Framing.makeDecoder(Framing.length(1))
      const chunk = Buffer.from(Array.from({ length: 10_000 }, () => [1, 0x61]).flat())
      decoder.feed(chunk)
      assert.strictEqual(show(decoder.next() ?? frame(none)), show(frame(latin1("a"))))
      // The rest becomes 4,999 frames "bbb" and a frame cut short.
      for (let i = 2; i < chunk.length; i++) chunk[i] = (i - 2) % 4 === 0 ? 3 : 0x62
      const shown = new Map<string, number>()
      for (let event = decoder.next(); event !== undefined; event = decoder.next()) {
        assert.isAtMost(decoder.buffered, 255)
        shown.set(show(event), (shown.get(show(event)) ?? 0) + 1)
      }
      decoder.finish()
      const last = decoder.next()
      assert.deepStrictEqual([...shown], [[show(frame(latin1("bbb"))), 4_999]])
      assert.strictEqual(show(last ?? frame(none)), show(incomplete(2, 4)))
      assert.strictEqual(decoder.next(), undefined)
    })

    it("refuses a chunk fed before the previous one is consumed, and takes it once it is", () => {
      for (const framing of [Framing.chunk, Framing.line(), Framing.delimiter(etx), Framing.length(2)]) {
        const decoder = Framing.makeDecoder(framing)
        const wire = Buffer.concat([
          Either.getOrThrow(Framing.encodeFrame(framing, latin1("ab"))),
          Either.getOrThrow(Framing.encodeFrame(framing, latin1("cd")))
        ])
        decoder.feed(wire)
        assert.strictEqual(decoder.next()?._tag, "Frame")
        if (framing._tag !== "Chunk") {
          assert.throws(() => decoder.feed(wire), /the previous chunk is not consumed yet/)
          assert.strictEqual(decoder.next()?._tag, "Frame")
        }
        assert.strictEqual(decoder.next(), undefined)
        decoder.feed(wire)
        assert.strictEqual(decoder.end().length, framing._tag === "Chunk" ? 1 : 2)
      }
    })

    it("ignores input after finish, and after an oversized frame under close", () => {
      const decoder = Framing.makeDecoder(Framing.line({ maxFrameBytes: 2, onOversized: "close" }))
      decoder.feed(latin1("ok\ntoo long\nok\n"))
      assert.deepStrictEqual([decoder.next(), decoder.next(), decoder.next()].map((e) => e && show(e)), [
        show(frame(latin1("ok"), LF)),
        show(oversized(3, 2, false)),
        undefined
      ])
      decoder.feed(latin1("ok\n"))
      assert.strictEqual(decoder.next(), undefined)
      const ended = Framing.makeDecoder(Framing.line())
      ended.feed(latin1("last"))
      ended.finish()
      ended.feed(latin1("more\n"))
      assert.deepStrictEqual(ended.end().map(show), [show(frame(latin1("last")))])
    })
  })
})
