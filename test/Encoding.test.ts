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
