"""Python's codecs as an oracle for test/Encoding.oracle.test.ts.

Reads one JSON request per line on stdin and writes one JSON response per line on stdout, until stdin closes.
Bytes travel as hex strings; text as JSON strings (json.dumps escapes everything outside ASCII, unpaired
surrogates included).

Requests:
  {"op": "repertoire", "encoding": E, "ranges": [[first, last], ...]}
      -> {"chars": [[code point, hex], ...]} for every code point in the ranges that E encodes strictly and
         decodes back to itself.
  {"op": "encode", "encoding": E, "texts": [text, ...]}
      -> {"results": [hex or null, ...]} (null: E cannot encode the text)
  {"op": "decode", "encoding": E, "inputs": [[hex chunk, ...], ...]}
      -> {"results": [text or null, ...]}: each input fed chunk by chunk to
         codecs.getincrementaldecoder(E)(errors="strict"), then final=True; null when it raised.

E is a Python codec name, optionally followed by "+strip-bom": the codec, dropping a leading U+FEFF from the decoded
text, as iconv-lite and TextDecoder do in utf8 and utf16le. (Python's utf-8-sig is not used: it silently drops an
incomplete BOM, such as a lone EF, at the end of input, where a strict decoder must raise.)
"""

import codecs
import json
import sys


STRIP_BOM = "+strip-bom"


def decoder(encoding):
    if encoding.endswith(STRIP_BOM):
        inner = codecs.getincrementaldecoder(codec_name(encoding))(errors="strict")
        started = False

        def decode(data, final=False):
            nonlocal started
            text = inner.decode(data, final)
            if not started and text:
                started = True
                if text.startswith("\ufeff"):
                    text = text[1:]
            return text

        return decode
    return codecs.getincrementaldecoder(encoding)(errors="strict").decode


def codec_name(encoding):
    return encoding[: -len(STRIP_BOM)] if encoding.endswith(STRIP_BOM) else encoding


def repertoire(encoding, ranges):
    name = codec_name(encoding)
    chars = []
    for first, last in ranges:
        for code in range(first, last + 1):
            char = chr(code)
            try:
                data = char.encode(name)
                if data.decode(name) != char:
                    continue
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            chars.append([code, data.hex()])
    return {"chars": chars}


def encode(encoding, texts):
    name = codec_name(encoding)
    results = []
    for text in texts:
        try:
            results.append(text.encode(name).hex())
        except UnicodeEncodeError:
            results.append(None)
    return {"results": results}


def decode(encoding, inputs):
    results = []
    name = codec_name(encoding)
    for chunks in inputs:
        if len(chunks) == 1:
            # One chunk: the codec's one-shot decode, equivalent and faster.
            try:
                text = bytes.fromhex(chunks[0]).decode(name, "strict")
                if encoding.endswith(STRIP_BOM) and text.startswith("\ufeff"):
                    text = text[1:]
                results.append(text)
            except UnicodeDecodeError:
                results.append(None)
            continue
        feed = decoder(encoding)
        try:
            text = "".join(feed(bytes.fromhex(chunk)) for chunk in chunks) + feed(b"", final=True)
            results.append(text)
        except UnicodeDecodeError:
            results.append(None)
    return {"results": results}


def main():
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "repertoire":
            response = repertoire(request["encoding"], request["ranges"])
        elif op == "encode":
            response = encode(request["encoding"], request["texts"])
        elif op == "decode":
            response = decode(request["encoding"], request["inputs"])
        else:
            response = {"error": "unknown op " + op}
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
