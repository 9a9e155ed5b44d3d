/** Splits `bytes` at the given points (taken modulo its length + 1), as TCP might deliver them. */
export const splitAt = (bytes: Uint8Array, points: ReadonlyArray<number>): Array<Uint8Array> => {
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Array<Uint8Array> = []
  let start = 0
  for (const point of sorted) {
    parts.push(bytes.subarray(start, point))
    start = point
  }
  parts.push(bytes.subarray(start))
  return parts
}
