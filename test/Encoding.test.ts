import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import Iconv from "iconv-lite"
import { Encoding } from "../src/index.js"
import { splitAt } from "./utils/Bytes.js"

// ASCII, the tutorial's own text and some traditional and Japanese characters: each encoding is tested with
// those it can represent.
const candidates = [..."abcXYZ019 ,.!?\n", ..."你好中文客户端连接成功下线了问题正在处理", ..."問題處理連線日本語ｶﾅ€"]
const textIn = (encoding: string) => {
  const alphabet = candidates.filter((c) => Iconv.decode(Iconv.encode(c, encoding), encoding) === c)
  return fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }).map((chars) => chars.join(""))
}
const cuts = fc.array(fc.nat(), { maxLength: 10 })

describe("Encoding", () => {
  for (const encoding of ["gbk", "gb18030", "big5", "shift_jis", "utf8"]) {
    it.prop(`${encoding}: decodes text however its bytes are split`, [textIn(encoding), cuts], ([original, points]) => {
      const decoder = Encoding.decoder(encoding)
      const parts = splitAt(Buffer.from(Encoding.encode(original, encoding)), points)
      const decoded = parts.map((part) => decoder.write(part)).join("") + decoder.end()
      assert.strictEqual(decoded, original)
    })
  }

  it("decodes invalid bytes as U+FFFD and goes on", () => {
    const decoder = Encoding.decoder("gbk")
    assert.strictEqual(decoder.write(Buffer.from([0xff, 0x41])), "\uFFFDA")
    assert.strictEqual(decoder.write(Iconv.encode("好", "gbk")), "好")
  })

  it("flushes an incomplete character at the end as U+FFFD", () => {
    const decoder = Encoding.decoder("gbk")
    assert.strictEqual(decoder.write(Buffer.from([0xd6])), "")
    assert.strictEqual(decoder.end(), "\uFFFD")
  })

  const hex = (text: string) => Buffer.from(text.replace(/ /g, ""), "hex")
  const stream = (encoding: string, reads: ReadonlyArray<Uint8Array>) => {
    const decoder = Encoding.decoder(encoding)
    const texts = reads.map((read) => decoder.write(read))
    texts.push(decoder.end())
    return { texts, invalid: decoder.invalid }
  }

  describe("keeps every character across reads (iconv-lite 0.7.3 dropped what it carried over)", () => {
    it("a gb18030 four-byte character whose last byte starts a read", () => {
      assert.deepStrictEqual(stream("gb18030", [hex("68 69 20 94 39 fc"), hex("36 21")]), {
        texts: ["hi ", "😀!", ""],
        invalid: 0
      })
    })

    it("a Big5-HKSCS character of plane 2 whose second byte starts a read", () => {
      assert.deepStrictEqual(stream("big5", [hex("61 88"), hex("45 21")]), {
        texts: ["a", "\u{2010C}!", ""],
        invalid: 0
      })
    })

    // A lead byte of each encoding, and a space, which cannot follow it.
    for (
      const [encoding, lead] of [["gbk", 0xC4], ["gb18030", 0xC4], ["big5", 0xC4], ["shift_jis", 0x88], [
        "euc-kr",
        0xB0
      ]] as const
    ) {
      it(`${encoding}: a stray lead byte at the end of a read, followed by ASCII`, () => {
        assert.deepStrictEqual(
          stream(encoding, [Buffer.from([...Buffer.from("hello"), lead]), Buffer.from(" world")]),
          {
            texts: ["hello", "\uFFFD world", ""],
            invalid: 1
          }
        )
      })
    }
  })

  it("decodes a message of 400 KB, and a stream of reads of every size, to the same text", () => {
    const text = "你好，world😀".repeat(40_000)
    const bytes = Iconv.encode(text, "gb18030")
    assert.deepStrictEqual(Encoding.decodeCounting(bytes, "gb18030"), { text, invalid: 0 })
    const decoder = Encoding.decoder("gb18030")
    let offset = 0
    let decoded = ""
    for (const size of [1, 2, 3, 5, 4096, 65536, 1_000_000]) {
      decoded += decoder.write(bytes.subarray(offset, offset + size))
      offset += size
    }
    decoded += decoder.write(bytes.subarray(offset)) + decoder.end()
    assert.strictEqual(decoded, text)
  })

  describe("gb18030 four-byte sequences", () => {
    const cases: ReadonlyArray<readonly [string, string, number]> = [
      ["81 30 81 30", "\u0080", 0],
      ["84 31 A4 37", "\uFFFD", 0], // U+FFFD itself
      ["84 31 A4 39", "\uFFFF", 0],
      ["84 31 A5 30", "\uFFFD", 1], // iconv-lite: U+10000
      ["8F 39 FE 39", "\uFFFD", 1],
      ["90 30 81 30", "\u{10000}", 0],
      ["E3 32 9A 35", "\u{10FFFF}", 0],
      ["E3 32 9A 36", "\uFFFD", 1], // iconv-lite: two unpaired surrogates
      ["FE 39 FE 39", "\uFFFD", 1]
    ]
    for (const [bytes, text, invalid] of cases) {
      it(`${bytes} decodes to ${invalid === 0 ? "a character" : "one U+FFFD, counted"}`, () => {
        assert.deepStrictEqual(Encoding.decodeCounting(hex(bytes), "gb18030"), { text, invalid })
        // The same, split after each byte.
        const split = stream("gb18030", [...hex(bytes)].map((byte) => Uint8Array.of(byte)))
        assert.deepStrictEqual({ text: split.texts.join(""), invalid: split.invalid }, { text, invalid })
      })
    }
  })

  describe("counts invalid sequences exactly", () => {
    // A genuine U+FFFD (not counted) beside an invalid byte (counted): the old check saw the first and passed both.
    const genuineAndInvalid: ReadonlyArray<readonly [string, string, string]> = [
      ["utf8", "EF BF BD", "FF 41"],
      ["gb18030", "84 31 A4 37", "FF 41"],
      ["utf16le", "FD FF", "00 D8 41 00"]
    ]
    for (const [encoding, genuine, invalidThenA] of genuineAndInvalid) {
      const bytes = `${genuine} ${invalidThenA}`
      const text = "\uFFFD\uFFFDA"
      it(`${encoding}: an encoded U+FFFD is not counted, an invalid sequence beside it is`, () => {
        assert.deepStrictEqual(Encoding.decodeCounting(hex(bytes), encoding), { text, invalid: 1 })
        assert.deepStrictEqual(Encoding.decodeCounting(hex(genuine), encoding), {
          text: "\uFFFD",
          invalid: 0
        })
        // Split after each byte, the encoded U+FFFD included.
        const split = stream(encoding, [...hex(bytes)].map((byte) => Uint8Array.of(byte)))
        assert.deepStrictEqual({ text: split.texts.join(""), invalid: split.invalid }, { text, invalid: 1 })
      })
    }

    // A character cut off at the end of input.
    const cut: ReadonlyArray<readonly [string, string]> = [
      ["gbk", "41 C4"],
      ["gb18030", "41 81 30 81"],
      ["big5", "41 C4"],
      ["shift_jis", "41 88"],
      ["euc-kr", "41 B0"],
      ["utf8", "41 E4 BD"],
      ["utf16le", "41 00 60"]
    ]
    for (const [encoding, bytes] of cut) {
      it(`${encoding}: a character cut off at the end is U+FFFD and counted`, () => {
        const decoded = stream(encoding, [hex(bytes)])
        assert.strictEqual(decoded.texts[0], "A")
        assert.isTrue(decoded.texts[1].startsWith("\uFFFD"))
        assert.isAtLeast(decoded.invalid, 1)
        assert.strictEqual(Encoding.decodeCounting(hex(bytes), encoding).invalid, decoded.invalid)
      })
    }

    it("counts cumulatively over a stream", () => {
      const decoder = Encoding.decoder("gbk")
      decoder.write(hex("FF 41"))
      assert.strictEqual(decoder.invalid, 1)
      decoder.write(hex("C4 C3 FF"))
      assert.strictEqual(decoder.invalid, 2)
      assert.strictEqual(decoder.end(), "")
      assert.strictEqual(decoder.invalid, 2)
    })

    it("utf16le: unpaired surrogates and an odd last byte are U+FFFD, not passed through or dropped", () => {
      assert.deepStrictEqual(Encoding.decodeCounting(hex("00 D8 41 00 00 DC"), "utf16le"), {
        text: "\uFFFDA\uFFFD",
        invalid: 2
      })
      assert.deepStrictEqual(Encoding.decodeCounting(hex("41 00 42"), "utf16le"), { text: "A\uFFFD", invalid: 1 })
    })
  })

  describe("unencodable", () => {
    it("names the characters an encoding cannot represent, once each, in order", () => {
      assert.deepStrictEqual(Encoding.unencodable("你好，你好", "latin1"), ["你", "好", "，"])
      assert.deepStrictEqual(Encoding.unencodable("ok，问题正在处理中...", "shift_jis"), ["问", "题", "处"])
      assert.deepStrictEqual(Encoding.unencodable("ok，问题正在处理中...", "big5"), ["问", "题"])
    })

    it("is empty when every character can be encoded", () => {
      for (const encoding of ["gbk", "gb18030", "utf8", "utf16le"]) {
        assert.deepStrictEqual(
          Encoding.unencodable("ok，问题正在处理中...😀", encoding === "gbk" ? "gb18030" : encoding),
          []
        )
      }
      assert.deepStrictEqual(Encoding.unencodable("", "latin1"), [])
      assert.deepStrictEqual(Encoding.unencodable("?", "ascii"), [])
    })

    it("is empty for ASCII in every encoding with ASCII, and U+FEFF is a character, not a byte order mark", () => {
      for (const encoding of ["utf8", "utf16le", "utf16", "utf32", "gbk", "latin1", "cp1252", "koi8r"]) {
        assert.deepStrictEqual(Encoding.unencodable("abc 123", encoding), [], encoding)
        assert.deepStrictEqual(Encoding.unencodable("\uFEFFabc", encoding.startsWith("utf") ? encoding : "gb18030"), [])
      }
    })

    it("counts an unpaired surrogate as unencodable", () => {
      assert.deepStrictEqual(Encoding.unencodable("a\uD800b", "utf8"), ["\uD800"])
    })
  })

  it.effect("validates encoding names", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Encoding.validate("gbk"), "gbk")
      const error = yield* Effect.flip(Encoding.validate("gbkk"))
      assert.strictEqual(error._tag, "UnknownEncodingError")
      assert.strictEqual(error.encoding, "gbkk")
    }))

  it("lists the supported encodings, and only encodings that validate", () => {
    const names = Encoding.supported()
    for (const name of ["gbk", "gb18030", "big5", "shiftjis", "utf8", "latin1"]) assert.include(names, name)
    assert.notInclude(names, "base64")
    for (const name of names) assert.isTrue(Iconv.encodingExists(name), name)
  })
})
