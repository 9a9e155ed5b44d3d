// Differential tests of Encoding's decoders against Python's codecs (test/utils/oracle.py, one python3 process
// for the file), in every encoding the README lists: valid text split anywhere decodes to itself; random bytes
// split anywhere decode as in one piece; and invalid input is always U+FFFD and counted, where Python's strict
// incremental decoder raises.
//
// Python's tables are not iconv-lite's everywhere. The first test of each encoding compares them on every one-
// and two-byte code (and, for gbk and gb18030, four-byte codes of the BMP range) and checks that they differ
// exactly where `differences` below says; the other tests leave out the characters and byte strings that touch a
// difference (see `touches`):
// - gbk: iconv-lite's is WHATWG's gbk (GB 18030's two-byte table), Python's is GBK 1.0: 2141 two-byte codes are
//   valid only in iconv-lite's, 2059 of them user-defined codes (lead bytes AA–AF and F8–FE, and A1–A7 with
//   trail bytes below A1) mapped to the Private Use Area and 82 characters GB 18030 added (A2 E3 "€", A9 89–A9 95,
//   FE 50–FE A0, ...).
// - gbk and gb18030: 0x80 is "€" in iconv-lite (Microsoft's cp936, as in the WHATWG Encoding Standard), invalid
//   in Python's gbk and gb18030. 81 35 F4 37 is U+E7C7 in iconv-lite's gbk (which has GB 18030's four-byte code
//   for it) and gb18030; Python's gbk has no four-byte codes, and its gb18030 (GB 18030-2005) swaps U+E7C7 and
//   U+1E3F: A8 BC is U+1E3F in iconv-lite, U+E7C7 in Python, and 81 35 F4 37 the other way round. A3 A0 is
//   U+3000 in iconv-lite (WHATWG), U+E5E5 (private use) in Python.
// - big5: iconv-lite's is Big5-HKSCS:2008 on top of Microsoft's cp950 (WHATWG's big5), Python's big5hkscs is
//   HKSCS-2004: 192 codes exist only in iconv-lite's (68 of them with lead byte 0x87, 34 in A3 C0–A3 E1), and 11
//   punctuation codes (A1 45 ... A2 47) map to different look-alike characters.
// - shift_jis: iconv-lite's is cp932 as WHATWG defines it; Python's cp932 also maps the single bytes A0, FD, FE
//   and FF and 186 user-defined codes F9 41–F9 FC to private-use characters, which iconv-lite treats as invalid.
// - euc-kr (cp949 in both), utf8, utf16le and latin1: no difference. utf8 and utf16le drop a leading BOM, as
//   iconv-lite and TextDecoder do, and so does the oracle for them ("+strip-bom").
import { assert, describe, layer } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import Iconv from "iconv-lite"
import { Encoding } from "../src/index.js"
import { splitAt } from "./utils/Bytes.js"
import * as Oracle from "./utils/Oracle.js"

interface Differences {
  /** Single bytes that decode differently (a character in one, invalid in the other, or two characters). */
  readonly single: ReadonlyArray<string>
  /** Two-byte codes (leaving out those with a byte of `single`) valid only in iconv-lite / only in Python. */
  readonly onlyOurs: number
  readonly onlyPython: number
  /** Two-byte codes that both decode, to different characters. */
  readonly mapped: ReadonlyArray<string>
  /** Four-byte codes of the BMP range (gbk and gb18030; those of `thirdBytes`) that decode differently. */
  readonly four: ReadonlyArray<string>
}

interface Spec {
  readonly encoding: string
  readonly python: { readonly encode: string; readonly decode: string }
  readonly differences: Differences
  /** Our decoding in one piece is iconv-lite's (not for gb18030's invalid four-byte codes, nor utf16le). */
  readonly asIconv: boolean
  /** The bytes of U+FFFD, when the encoding has it. */
  readonly replacement?: string
}

const none: Differences = { single: [], onlyOurs: 0, onlyPython: 0, mapped: [], four: [] }
const specs: ReadonlyArray<Spec> = [
  {
    encoding: "gbk",
    python: { encode: "gbk", decode: "gbk" },
    differences: { ...none, single: ["80"], onlyOurs: 2141, four: ["8135f437"] },
    asIconv: true
  },
  {
    encoding: "gb18030",
    python: { encode: "gb18030", decode: "gb18030" },
    differences: { ...none, single: ["80"], mapped: ["a3a0", "a8bc"], four: ["8135f437"] },
    asIconv: false,
    replacement: "8431a437"
  },
  {
    encoding: "big5",
    python: { encode: "big5hkscs", decode: "big5hkscs" },
    differences: {
      ...none,
      onlyOurs: 192,
      mapped: ["a145", "a14e", "a1c2", "a1e3", "a1f2", "a1f3", "a241", "a242", "a244", "a246", "a247"]
    },
    asIconv: true
  },
  {
    encoding: "shift_jis",
    python: { encode: "cp932", decode: "cp932" },
    differences: { ...none, single: ["a0", "fd", "fe", "ff"], onlyPython: 186 },
    asIconv: true
  },
  { encoding: "euc-kr", python: { encode: "cp949", decode: "cp949" }, differences: none, asIconv: true },
  {
    encoding: "utf8",
    python: { encode: "utf-8", decode: "utf-8+strip-bom" },
    differences: none,
    asIconv: true,
    replacement: "efbfbd"
  },
  {
    encoding: "utf16le",
    python: { encode: "utf-16-le", decode: "utf-16-le+strip-bom" },
    differences: none,
    asIconv: false,
    replacement: "fdff"
  },
  { encoding: "latin1", python: { encode: "latin-1", decode: "latin-1" }, differences: none, asIconv: true }
]

const seed = 20261203
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")
const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"))

// The candidates for the repertoire: the BMP without surrogates, emoji, the start of CJK Extension B (more of it
// for big5, where Big5-HKSCS has characters) and the last code points.
const candidates = (spec: Spec): ReadonlyArray<readonly [number, number]> => [
  ...(spec.replacement !== undefined && spec.encoding !== "gb18030"
    // utf8 and utf16le have no tables: the boundaries of their sequence lengths and some CJK are enough.
    ? [[0x0000, 0x0FFF], [0x4E00, 0x4FFF], [0xD700, 0xD7FF], [0xE000, 0xE0FF], [0xFF00, 0xFFFF]] as const
    : [[0x0000, 0xD7FF], [0xE000, 0xFFFF]] as const),
  [0x1F300, 0x1F64F],
  [0x20000, spec.encoding === "big5" ? 0x21FFF : 0x200FF],
  [0x10FFF0, 0x10FFFF]
]

// Four-byte codes: every first, second and fourth byte of the BMP range, and one third byte in five (all 126
// take seconds), with the ends of the range and the ones of documented differences.
const thirdBytes = [0x81, 0xA4, 0xA5, 0xF4, 0xFE]
for (let c = 0x83; c < 0xFE; c += 5) thirdBytes.push(c)

const codes = (spec: Spec): Array<Uint8Array> => {
  const all: Array<Uint8Array> = []
  for (let a = 0; a < 256; a++) all.push(Uint8Array.of(a))
  if (spec.encoding === "latin1") return all
  for (let a = 0x80; a < 256; a++) for (let b = 0; b < 256; b++) all.push(Uint8Array.of(a, b))
  if (spec.encoding === "gbk" || spec.encoding === "gb18030") {
    for (let a = 0x81; a <= 0x84; a++) {
      for (let b = 0x30; b <= 0x39; b++) {
        for (const c of thirdBytes) for (let d = 0x30; d <= 0x39; d++) all.push(Uint8Array.of(a, b, c, d))
      }
    }
  }
  return all
}

// Where our decoding of each code differs from Python's.
const compare = (spec: Spec, all: ReadonlyArray<Uint8Array>, python: ReadonlyArray<string | null>): Differences => {
  const single: Array<string> = []
  const mapped: Array<string> = []
  const four: Array<string> = []
  let onlyOurs = 0
  let onlyPython = 0
  all.forEach((code, i) => {
    const ours = Encoding.decodeCounting(code, spec.encoding)
    const theirs = python[i]
    const oursValid = ours.invalid === 0
    if (oursValid ? theirs === ours.text : theirs === null) return
    const name = hex(code)
    if (code.length === 1) single.push(name)
    else if (code.length === 4) four.push(name)
    else if (single.includes(name.slice(0, 2)) || single.includes(name.slice(2))) return
    else if (oursValid && theirs !== null) mapped.push(name)
    else if (oursValid) onlyOurs++
    else onlyPython++
  })
  return { single, onlyOurs, onlyPython, mapped, four }
}

// Whether `bytes` contain, anywhere, a code where the tables differ: such inputs are left out of the comparisons.
const touches = (differences: Differences, pairs: ReadonlySet<string>) => (bytes: Uint8Array): boolean => {
  const text = hex(bytes)
  for (let i = 0; i < text.length; i += 2) {
    if (differences.single.includes(text.slice(i, i + 2))) return true
    if (pairs.has(text.slice(i, i + 4))) return true
    if (differences.four.includes(text.slice(i, i + 8))) return true
  }
  return false
}

const replacements = (text: string) => [...text].filter((c) => c === "\uFFFD").length

const streamDecode = (encoding: string, parts: ReadonlyArray<Uint8Array>) => {
  const decoder = Encoding.decoder(encoding)
  const text = parts.map((part) => decoder.write(part)).join("") + decoder.end()
  return { text, invalid: decoder.invalid }
}

layer(Oracle.layer, { timeout: "120 seconds" })("Encoding against Python's codecs", (it) => {
  for (const spec of specs) {
    describe(spec.encoding, () => {
      // Computed once per encoding by the first test, used by the others (vitest runs a file's tests in order).
      let pairs: ReadonlySet<string> = new Set()
      let alphabet: ReadonlyArray<readonly [string, Uint8Array]> = []
      const excluded = () => touches(spec.differences, pairs)

      it.effect("the tables differ from Python's exactly where documented", () =>
        Effect.gen(function*() {
          const oracle = yield* Oracle.Oracle
          const all = codes(spec)
          const python = yield* oracle.decode(spec.python.decode, all.map((code) => [hex(code)]))
          const found = compare(spec, all, python)
          assert.deepStrictEqual(found.single, spec.differences.single)
          assert.deepStrictEqual(found.mapped, spec.differences.mapped)
          assert.deepStrictEqual(found.four, spec.differences.four)
          assert.strictEqual(found.onlyOurs, spec.differences.onlyOurs)
          assert.strictEqual(found.onlyPython, spec.differences.onlyPython)
          // Every two-byte code valid in only one of them, for `touches`.
          const differing = new Set(spec.differences.mapped)
          all.forEach((code, i) => {
            if (code.length !== 2) return
            if ((Encoding.decodeCounting(code, spec.encoding).invalid === 0) !== (python[i] !== null)) {
              differing.add(hex(code))
            }
          })
          pairs = differing

          // Every character Python encodes whose bytes touch no difference decodes to itself, alone.
          const chars = yield* oracle.repertoire(spec.python.encode, candidates(spec))
          const kept: Array<readonly [string, Uint8Array]> = []
          const wrong: Array<string> = []
          for (const [codePoint, bytes] of chars) {
            const char = String.fromCodePoint(codePoint)
            const encoded = fromHex(bytes)
            // A leading U+FEFF is a byte order mark in utf8 and utf16le, dropped by every decoder.
            if (excluded()(encoded) || (codePoint === 0xFEFF && spec.replacement !== undefined)) continue
            const decoded = Encoding.decodeCounting(encoded, spec.encoding)
            if (decoded.text !== char || decoded.invalid !== 0) wrong.push(`${bytes}: ${JSON.stringify(decoded)}`)
            kept.push([char, encoded])
          }
          assert.deepStrictEqual(wrong.slice(0, 10), [], `${wrong.length} characters decode wrongly`)
          assert.isAbove(kept.length, 100)
          alphabet = kept
        }))

      it.effect("valid text encoded by Python, split anywhere, decodes to exactly that text", () =>
        Effect.gen(function*() {
          const oracle = yield* Oracle.Oracle
          assert.isNotEmpty(alphabet, "the alphabet comes from the first test, which failed")
          const ascii = alphabet.filter(([char]) => char < "\u0080")
          const char = fc.oneof(fc.constantFrom(...(ascii.length > 0 ? ascii : alphabet)), fc.constantFrom(...alphabet))
          const cases = fc.sample(
            fc.tuple(fc.array(char, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 })),
            { seed, numRuns: 300 }
          )
          const texts = cases.map(([chars]) => chars.map(([c]) => c).join(""))
          const encoded = yield* oracle.encode(spec.python.encode, texts)
          cases.forEach(([, points], i) => {
            const bytes = encoded[i]
            assert.isNotNull(bytes)
            if (bytes === null) return
            const parts = splitAt(fromHex(bytes), points)
            assert.deepStrictEqual(
              streamDecode(spec.encoding, parts),
              { text: texts[i], invalid: 0 },
              `${bytes} split as ${parts.map(hex).join(" | ")}`
            )
          })
        }))

      // Random bytes, with pieces of real characters, four-byte shapes (gb18030) and encoded U+FFFD mixed in.
      const bytesArbitrary = () => {
        assert.isNotEmpty(alphabet, "the alphabet comes from the first test, which failed")
        const interesting = [0x00, 0x0A, 0x20, 0x30, 0x35, 0x39, 0x40, 0x41, 0x7E, 0x7F, 0x80, 0x81, 0x84, 0x87, 0x88]
        interesting.push(0x8E, 0x90, 0x9F, 0xA0, 0xA1, 0xA4, 0xB0, 0xBD, 0xBF, 0xC4, 0xD8, 0xDC, 0xE3, 0xEF, 0xF9)
        interesting.push(0xFC, 0xFD, 0xFE, 0xFF)
        const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...interesting))
        const tokens: Array<fc.Arbitrary<ReadonlyArray<number>>> = [
          byte.map((b) => [b]),
          fc.tuple(fc.constantFrom(...alphabet), fc.nat(3)).map(([[, bytes], cut]) =>
            cut === 0 ? [...bytes.subarray(0, -1)] : [...bytes]
          ),
          fc.tuple(
            fc.integer({ min: 0x81, max: 0xFE }),
            fc.integer({ min: 0x30, max: 0x39 }),
            fc.integer({ min: 0x81, max: 0xFE }),
            fc.integer({ min: 0x30, max: 0x39 })
          )
        ]
        if (spec.replacement !== undefined) tokens.push(fc.constant([...fromHex(spec.replacement)]))
        return fc.array(fc.oneof(...tokens), { maxLength: 10 }).map((parts) => Uint8Array.from(parts.flat()))
      }

      it.effect("random bytes split anywhere decode as in one piece", () =>
        Effect.sync(() => {
          fc.assert(
            fc.property(bytesArbitrary(), fc.array(fc.nat(), { maxLength: 8 }), (bytes, points) => {
              const whole = Encoding.decodeCounting(bytes, spec.encoding)
              assert.deepStrictEqual(streamDecode(spec.encoding, splitAt(bytes, points)), whole)
              assert.isAtMost(whole.invalid, replacements(whole.text))
              if (spec.asIconv) assert.strictEqual(whole.text, Iconv.decode(Buffer.from(bytes), spec.encoding))
            }),
            { seed, numRuns: 500 }
          )
        }))

      it.effect("invalid input is U+FFFD and counted exactly where Python's strict decoder raises", () =>
        Effect.gen(function*() {
          const oracle = yield* Oracle.Oracle
          const cases = fc.sample(fc.tuple(bytesArbitrary(), fc.array(fc.nat(), { maxLength: 8 })), {
            seed,
            numRuns: 600
          }).filter(([bytes]) => !excluded()(bytes))
          assert.isAbove(cases.length, 200)
          const parts = cases.map(([bytes, points]) => splitAt(bytes, points))
          const python = yield* oracle.decode(spec.python.decode, parts.map((chunks) => chunks.map(hex)))
          let invalid = 0
          parts.forEach((chunks, i) => {
            const ours = streamDecode(spec.encoding, chunks)
            const theirs = python[i]
            const input = chunks.map(hex).join(" | ")
            if (theirs === null) {
              invalid++
              assert.isAbove(ours.invalid, 0, `Python raised on ${input}; we decoded ${JSON.stringify(ours.text)}`)
              assert.isAtLeast(replacements(ours.text), ours.invalid, input)
            } else {
              assert.deepStrictEqual(ours, { text: theirs, invalid: 0 }, input)
            }
          })
          // Both kinds of input were tried.
          if (spec.encoding !== "latin1") assert.isAbove(invalid, 20)
          assert.isBelow(invalid, cases.length)
        }))
    })
  }
})
