import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc } from "effect"
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

/** The memory bound required of decoders: maxFrameBytes + delimiter length + lengthBytes. */
const bound = (framing: Framing.Framing): number => {
  switch (framing._tag) {
    case "Chunk":
      return 0
    case "Line":
      return framing.maxFrameBytes + 2
    case "Delimiter":
      return framing.maxFrameBytes + framing.delimiter.length
    case "Length":
      return framing.maxFrameBytes + framing.lengthBytes
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

describe("Framing", () => {
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
  })

  describe("encodeFrame", () => {
    it("frames a payload in each mode", () => {
      const payload = latin1("abc")
      const encode = (framing: Framing.Framing, ending?: Uint8Array) =>
        hex(Either.getOrThrow(Framing.encodeFrame(framing, payload, ending)))
      assert.strictEqual(encode(Framing.chunk), "616263")
      assert.strictEqual(encode(Framing.line()), "6162630a")
      assert.strictEqual(encode(Framing.line(), CRLF), "6162630d0a")
      assert.strictEqual(encode(Framing.delimiter(etx)), "61626303")
      assert.strictEqual(encode(Framing.length(1)), "03616263")
      assert.strictEqual(encode(Framing.length(2)), "0003616263")
      assert.strictEqual(encode(Framing.length(4)), "00000003616263")
      const long = Either.getOrThrow(Framing.encodeFrame(Framing.length(4), Buffer.alloc(0x10203)))
      assert.strictEqual(hex(long.subarray(0, 4)), "00010203")
    })

    it("refuses a payload too long for the prefix", () => {
      assert.isTrue(Either.isRight(Framing.encodeFrame(Framing.length(1), Buffer.alloc(255))))
      const error = Either.flip(Framing.encodeFrame(Framing.length(1), Buffer.alloc(256)))
      assert(Either.isRight(error))
      assert.strictEqual(error.right._tag, "FrameTooLongError")
      assert.strictEqual(
        error.right.message,
        "a 256-byte payload does not fit a 1-byte length prefix, which can announce at most 255 bytes: split the " +
          "payload or use a longer prefix"
      )
    })
  })

  describe("parseDelimiter", () => {
    it.effect("reads escapes and ASCII text", () =>
      Effect.gen(function*() {
        const parse = (text: string) => Effect.map(Framing.parseDelimiter(text), hex)
        assert.strictEqual(yield* parse("\\x03"), "03")
        assert.strictEqual(yield* parse("\\r\\n"), "0d0a")
        assert.strictEqual(yield* parse("END"), "454e44")
        assert.strictEqual(yield* parse("\\t\\0\\\\\\x7c\\xFF"), "09005c7cff")
      }))

    it.effect("refuses empty, non-ASCII and malformed delimiters", () =>
      Effect.gen(function*() {
        const refuse = (text: string) => Effect.flip(Framing.parseDelimiter(text))
        const empty = yield* refuse("")
        assert.strictEqual(empty.reason, "Empty")
        assert.include(empty.message, "the delimiter is empty")
        const nonAscii = yield* refuse("a€")
        assert.strictEqual(nonAscii.reason, "NonAscii")
        assert.strictEqual(
          nonAscii.message,
          "delimiter \"a€\": \"€\" at position 1 is not ASCII, and its bytes would depend on the encoding; write the " +
            "bytes you mean as \\xHH escapes"
        )
        for (const text of ["\\q", "\\x4", "\\xZZ", "ab\\"]) {
          const error = yield* refuse(text)
          assert.strictEqual(error.reason, "BadEscape", text)
          assert.include(error.message, "use \\n, \\r, \\t, \\0, \\\\ or \\xHH")
        }
        assert.strictEqual(
          (yield* refuse("ab\\q")).message,
          "delimiter \"ab\\q\": invalid escape \"\\q\" at position 2; use \\n, \\r, \\t, \\0, \\\\ or \\xHH (two hex digits)"
        )
      }))
  })

  describe("unsafe bytes", () => {
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

    it("finds the lead and trail bytes of the Chinese encodings, quickly", () => {
      const started = performance.now()
      const gbk = Framing.unsafeBytes("gbk")
      Framing.unsafeBytes("gb18030")
      // About 100 ms for both, codec tables included; generous for slow machines.
      assert.isBelow(performance.now() - started, 1500)
      for (const byte of [...range(0x81, 0xfe), ...range(0x40, 0x7e)]) assert.isTrue(gbk.has(byte), `gbk ${byte}`)
      for (const byte of range(0x00, 0x34)) assert.isFalse(gbk.has(byte), `gbk ${byte}`)
      // iconv-lite's gbk encodes U+E7C7 (private use) as the GB18030 sequence 0x81 0x35 0xF4 0x37, and decodes it.
      assert.strictEqual(Framing.formatRanges(gbk), "0x35, 0x37, 0x40–0x7E, 0x80–0xFE")
      assert.strictEqual(Iconv.decode(Buffer.from([0x81, 0x35, 0xf4, 0x37]), "gbk"), "\ue7c7")
      assert.strictEqual(Framing.formatRanges(Framing.unsafeBytes("gb18030")), "0x30–0x39, 0x40–0x7E, 0x80–0xFE")
      assert.strictEqual(Framing.formatRanges(Framing.unsafeBytes("big5")), "0x40–0x7E, 0x87–0xFE")
    })

    it("finds the bytes of the other multi-byte encodings, and none in single-byte ones", () => {
      assert.strictEqual(Framing.formatRanges(Framing.unsafeBytes("shift_jis")), "0x40–0x7E, 0x80–0xFC")
      assert.strictEqual(Framing.formatRanges(Framing.unsafeBytes("euc-kr")), "0x41–0x5A, 0x61–0x7A, 0x81–0xFE")
      assert.strictEqual(Framing.formatRanges(Framing.unsafeBytes("utf8")), "0x80–0xBF, 0xC2–0xF4")
      assert.strictEqual(Framing.unsafeBytes("utf16le").size, 256)
      assert.strictEqual(Framing.unsafeBytes("latin1").size, 0)
      assert.strictEqual(Framing.unsafeBytes("gbk"), Framing.unsafeBytes("gbk"), "cached")
    })

    it("formats ranges", () => {
      assert.strictEqual(Framing.formatRanges(new Set([8, 1, 2, 3, 5, 7])), "0x01–0x03, 0x05, 0x07–0x08")
      assert.strictEqual(Framing.formatRanges(new Set()), "none")
    })

    it("tabulates safe delimiters", () => {
      assert.deepStrictEqual(Framing.safeDelimiterTable(["gbk", "utf16le", "latin1"]), [
        { encoding: "gbk", unsafe: "0x35, 0x37, 0x40–0x7E, 0x80–0xFE", lfSafe: true, etxSafe: true, crlfSafe: true },
        { encoding: "utf16le", unsafe: "0x00–0xFF", lfSafe: false, etxSafe: false, crlfSafe: false },
        { encoding: "latin1", unsafe: "none", lfSafe: true, etxSafe: true, crlfSafe: true }
      ])
    })
  })

  describe("validate", () => {
    const delimiterOf = (text: string) => Effect.map(Framing.parseDelimiter(text), (bytes) => Framing.delimiter(bytes))

    it.effect("accepts delimiters made of safe bytes", () =>
      Effect.gen(function*() {
        for (const text of ["\\x03", "\\n", "\\r\\n", "0"]) {
          const framing = yield* delimiterOf(text)
          assert.strictEqual(yield* Framing.validate(framing, "gbk"), framing)
        }
        yield* Framing.validate(Framing.line(), "gbk")
        yield* Framing.validate(Framing.line(), "gb18030")
        yield* Framing.validate(Framing.line(), "utf8")
        yield* Framing.validate(yield* delimiterOf("|"), "latin1")
        yield* Framing.validate(Framing.chunk, "utf16le")
        yield* Framing.validate(Framing.length(1), "utf16le")
      }))

    it.effect("refuses a delimiter that can occur inside a character, and says why", () =>
      Effect.gen(function*() {
        const pipe = yield* Effect.flip(Framing.validate(yield* delimiterOf("|"), "gbk"))
        assert(pipe._tag === "UnsafeDelimiterError")
        assert.deepStrictEqual(pipe.bytes, [0x7c])
        assert.strictEqual(
          pipe.message,
          "delimiter \"|\" (0x7C) is unsafe with gbk: byte 0x7C can occur as the second byte of a two-byte gbk " +
            "character, so a frame could be cut in the middle of a character; choose a delimiter made of bytes in " +
            "0x00–0x34, 0x36, 0x38–0x3F, 0x7F, 0xFF, or use --framing length"
        )
        const five = yield* Effect.flip(Framing.validate(yield* delimiterOf("5"), "gbk"))
        assert.include(five.message, "byte 0x35 can occur as the second byte of a four-byte gbk character")
        const zero = yield* Effect.flip(Framing.validate(yield* delimiterOf("0"), "gb18030"))
        assert.include(
          zero.message,
          "byte 0x30 can occur as the second or fourth byte of a four-byte gb18030 character"
        )
        assert.include(zero.message, "0x00–0x2F, 0x3A–0x3F, 0x7F, 0xFF")
      }))

    it.effect("refuses line framing with UTF-16", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Framing.validate(Framing.line(), "utf16le"))
        assert(error._tag === "UnsafeDelimiterError")
        assert.deepStrictEqual(error.bytes, [0x0d, 0x0a])
        assert.match(
          error.message,
          /^line framing is not possible with utf16le: bytes 0x0A \(LF\) and 0x0D \(CR\) can occur as the first or /
        )
        assert.include(error.message, "no byte is safe as a delimiter with utf16le: use --framing length")
      }))

    it.effect("refuses bad numbers and unknown encodings", () =>
      Effect.gen(function*() {
        for (const maxFrameBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          const error = yield* Effect.flip(Framing.validate(Framing.line({ maxFrameBytes }), "gbk"))
          assert(error._tag === "FramingOptionError")
          assert.strictEqual(error.reason, "MaxFrameBytes")
          assert.include(error.message, "must be a positive whole number of bytes")
        }
        const tooLarge = yield* Effect.flip(Framing.validate(Framing.length(1, { maxFrameBytes: 256 }), "gbk"))
        assert(tooLarge._tag === "FramingOptionError")
        assert.strictEqual(tooLarge.reason, "TooLargeForPrefix")
        assert.strictEqual(
          tooLarge.message,
          "the maximum frame size 256 does not fit a 1-byte length prefix, which can announce at most 255 bytes: " +
            "lower the maximum to at most 255, or use a 2- or 4-byte prefix"
        )
        const oneByte = Framing.length(1)
        assert(oneByte._tag === "Length")
        assert.strictEqual(oneByte.maxFrameBytes, 255)
        yield* Framing.validate(Framing.length(2, { maxFrameBytes: 65535 }), "gbk")
        const emptyDelimiter = yield* Effect.flip(Framing.validate(Framing.delimiter(none), "gbk"))
        assert.strictEqual(emptyDelimiter._tag, "FramingOptionError")
        const unknown = yield* Effect.flip(Framing.validate(Framing.line(), "gbkk"))
        assert.strictEqual(unknown._tag, "UnknownEncodingError")
      }))
  })
})
