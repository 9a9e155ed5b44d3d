import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import Iconv from "iconv-lite"
import * as Framing from "../src/Framing.js"

const CRLF = Buffer.from("\r\n")
const none = Buffer.alloc(0)
const latin1 = (text: string): Buffer => Buffer.from(text, "latin1")
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const etx = Uint8Array.of(0x03)

describe("Framing", () => {
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
        assert.instanceOf(empty, Framing.DelimiterError)
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
