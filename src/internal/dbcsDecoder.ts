/**
 * A streaming decoder for iconv-lite's multi-byte ("DBCS") codecs — gbk, gb18030, big5, shift_jis, euc-kr and
 * the other CJK encodings — that walks iconv-lite's own decoding tables, so every character maps exactly as
 * iconv-lite maps it, with three differences:
 *
 * - bytes of a character split across two `write`s are never lost (iconv-lite 0.7.3 sizes its output from the
 *   current read only, so what it carried over from the previous read overflows and is dropped: pillarjs/iconv-lite
 *   PR #417);
 * - a gb18030 four-byte sequence outside the two ranges GB 18030 assigns (81 30 81 30 – 84 31 A4 39 for the BMP,
 *   90 30 81 30 – E3 32 9A 35 for U+10000–U+10FFFF) is one U+FFFD, as in the WHATWG Encoding Standard, rather
 *   than a character computed past the end of the table (iconv-lite decodes 84 31 A5 30 as U+10000);
 * - every U+FFFD that stands for invalid bytes is counted.
 *
 * Invalid bytes are replaced as iconv-lite replaces them: when a sequence turns out to be invalid, its first byte
 * becomes one U+FFFD and decoding resumes at the next byte (so a stray lead byte followed by ASCII gives U+FFFD
 * and the ASCII character). At the end of input, an incomplete sequence is handled the same way.
 *
 * @internal
 */
import Iconv from "iconv-lite"

// The values in iconv-lite's decode trie (encodings/dbcs-codec.js): >= 0 a character; UNASSIGNED an invalid
// sequence; GB18030_CODE the end of a gb18030 four-byte sequence, mapped through the ranges table;
// <= NODE_START the index of the trie node for the next byte; between SEQ_START and NODE_START the index of a
// sequence of characters.
const UNASSIGNED = -1
const GB18030_CODE = -2
const SEQ_START = -10
const NODE_START = -1000

// GB 18030 four-byte "pointers" ((b1 - 0x81) * 12600 + (b2 - 0x30) * 1260 + (b3 - 0x81) * 10 + (b4 - 0x30)):
// 0..39419 are the BMP characters without a two-byte code, 189000..1237575 are U+10000..U+10FFFF.
const GB18030_BMP_LAST = 39419
const GB18030_SUPPLEMENTARY_FIRST = 189000
const GB18030_SUPPLEMENTARY_LAST = 189000 + 0x10FFFF - 0x10000

type Table = ReadonlyArray<number>

/** @internal */
export interface DbcsTables {
  readonly nodes: ReadonlyArray<Table>
  readonly sequences: ReadonlyArray<Table>
  readonly ranges: { readonly unicode: Table; readonly pointers: Table } | undefined
  /** The most UTF-16 code units one input byte can produce. */
  readonly unitsPerByte: number
}

const isNumbers = (value: unknown): value is Table => Array.isArray(value) && value.every((n) => typeof n === "number")

const isTables = (value: unknown): value is ReadonlyArray<Table> => Array.isArray(value) && value.every(isNumbers)

const isRanges = (value: unknown): value is { readonly uChars: Table; readonly gbChars: Table } =>
  typeof value === "object" && value !== null && "uChars" in value && "gbChars" in value &&
  isNumbers(value.uChars) && isNumbers(value.gbChars) && value.uChars.length === value.gbChars.length

/**
 * iconv-lite's decoding tables for `encoding`, or undefined when it is not a multi-byte codec (or its tables do
 * not have the layout this module was written against, iconv-lite 0.7).
 *
 * @internal
 */
export const tables = (encoding: string): DbcsTables | undefined => {
  const codec = Iconv.getCodec(encoding)
  const nodes: unknown = codec.decodeTables
  const sequences: unknown = codec.decodeTableSeq
  const ranges: unknown = codec.gb18030
  if (!isTables(nodes) || !isTables(sequences) || nodes.length === 0) return undefined
  if (!nodes.every((node) => node.length === 256)) return undefined
  if (ranges !== undefined && !isRanges(ranges)) return undefined
  const longest = sequences.reduce((max, sequence) => Math.max(max, sequence.length), 0)
  return {
    nodes,
    sequences,
    ranges: ranges === undefined ? undefined : { unicode: ranges.uChars, pointers: ranges.gbChars },
    // A sequence's last character may be outside the BMP (two code units).
    unitsPerByte: Math.max(2, longest + 1)
  }
}

// Largest i with table[i] <= value (table sorted, table[0] <= value), as iconv-lite's findIdx.
const lastAtMost = (table: Table, value: number): number => {
  let low = 0
  let high = table.length
  while (low < high - 1) {
    const mid = low + ((high - low + 1) >> 1)
    if (table[mid] <= value) low = mid
    else high = mid
  }
  return low
}

// One scratch buffer for the UTF-16LE output of every decoder (decoding is synchronous, and the result is copied
// into a string before `write` returns), written byte by byte as iconv-lite does, whatever the platform's
// endianness. A larger output (a huge frame) gets a buffer of its own, so that one frame does not pin its size for good.
let scratch = Buffer.allocUnsafe(4096)
const SCRATCH_MAX = 1024 * 1024
const EMPTY = new Uint8Array(0)

// Below this many bytes of output, building the string by hand is faster than Buffer#toString (measured).
const SHORT = 16

const toText = (out: Buffer, length: number): string => {
  if (length > SHORT) return out.toString("utf16le", 0, length)
  let text = ""
  for (let i = 0; i < length; i += 2) text += String.fromCharCode(out[i] | (out[i + 1] << 8))
  return text
}

/**
 * A stateful decoder over iconv-lite's tables: `write` returns the text of the complete characters and keeps the
 * bytes of an incomplete one (at most three) for the next `write`; `end` flushes them; `invalid` counts the U+FFFD
 * written for invalid bytes.
 *
 * @internal
 */
export class DbcsDecoder {
  private pending: Uint8Array = EMPTY
  private count = 0

  constructor(private readonly dbcs: DbcsTables) {}

  get invalid(): number {
    return this.count
  }

  write(bytes: Uint8Array): string {
    const { nodes, ranges, sequences, unitsPerByte } = this.dbcs
    const root = nodes[0]
    const pending = this.pending
    let input = bytes
    if (pending.length > 0) {
      input = new Uint8Array(pending.length + bytes.length)
      input.set(pending)
      input.set(bytes, pending.length)
    }
    const length = input.length
    const capacity = 2 * length * unitsPerByte
    if (scratch.length < capacity && capacity <= SCRATCH_MAX) {
      scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(capacity, scratch.length * 2)))
    }
    const out = capacity <= scratch.length ? scratch : Buffer.allocUnsafe(capacity)
    let j = 0
    let node = root
    let start = 0 // where the sequence being read began
    for (let i = 0; i < length; i++) {
      let code = node[input[i]]
      if (code >= 0) {
        // a character
      } else if (code <= NODE_START) {
        node = nodes[NODE_START - code]
        continue
      } else if (code === UNASSIGNED) {
        // The first byte of the sequence is invalid: replace it and read again from the next one.
        code = 0xFFFD
        this.count++
        i = start
      } else if (code === GB18030_CODE && ranges !== undefined) {
        const pointer = (input[i - 3] - 0x81) * 12600 + (input[i - 2] - 0x30) * 1260 + (input[i - 1] - 0x81) * 10 +
          (input[i] - 0x30)
        if (
          pointer <= GB18030_BMP_LAST ||
          (pointer >= GB18030_SUPPLEMENTARY_FIRST && pointer <= GB18030_SUPPLEMENTARY_LAST)
        ) {
          const index = lastAtMost(ranges.pointers, pointer)
          code = ranges.unicode[index] + pointer - ranges.pointers[index]
        } else {
          // Well-formed but outside the assigned ranges: the four bytes are one invalid sequence.
          code = 0xFFFD
          this.count++
        }
      } else if (code <= SEQ_START) {
        const sequence = sequences[SEQ_START - code]
        for (let k = 0; k < sequence.length - 1; k++) {
          out[j++] = sequence[k] & 0xFF
          out[j++] = sequence[k] >> 8
        }
        code = sequence[sequence.length - 1]
      } else {
        throw new Error(`iconv-lite decoding table has an unexpected value ${code}`)
      }
      if (code >= 0x10000) {
        code -= 0x10000
        const lead = 0xD800 | (code >> 10)
        out[j++] = lead & 0xFF
        out[j++] = lead >> 8
        code = 0xDC00 | (code & 0x3FF)
      }
      out[j++] = code & 0xFF
      out[j++] = code >> 8
      node = root
      start = i + 1
    }
    this.pending = start < length ? input.slice(start) : EMPTY
    return j === 0 ? "" : toText(out, j)
  }

  /** An incomplete sequence at the end: its first byte becomes U+FFFD and the rest is decoded again. */
  end(): string {
    let text = ""
    while (this.pending.length > 0) {
      const rest = this.pending.subarray(1)
      this.pending = EMPTY
      this.count++
      text += "\uFFFD" + this.write(rest)
    }
    return text
  }
}
