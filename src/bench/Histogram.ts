/**
 * The load generator's latency histogram.
 *
 * @since 0.1.0
 */

/**
 * A latency histogram over microseconds: exact below 256 µs, then 128 buckets per power of two (under 0.8 %
 * error), up to about 268 s. Recording allocates nothing.
 *
 * @since 0.1.0
 * @category histogram
 */
export interface Histogram {
  readonly record: (micros: number) => void
  readonly count: () => number
  /** The value at quantile `q` (0 to 1) in microseconds; 0 when empty. */
  readonly quantile: (q: number) => number
  readonly max: () => number
  readonly mean: () => number
}

const subBits = 7
const subCount = 1 << subBits
const maxShift = 20
const maxMicros = (2 * subCount << maxShift) - 1

/**
 * @since 0.1.0
 * @category histogram
 */
export const make = (): Histogram => {
  const counts = new Float64Array(maxShift * subCount + 2 * subCount)
  let total = 0
  let sum = 0
  let max = 0
  let min = Number.POSITIVE_INFINITY
  const indexOf = (value: number): number => {
    const shift = Math.max(0, 31 - Math.clz32(value) - subBits)
    return shift * subCount + (value >>> shift)
  }
  const middleOf = (index: number): number => {
    if (index < 2 * subCount) return index
    const shift = (index >>> subBits) - 1
    const low = (index - shift * subCount) * 2 ** shift
    return low + (2 ** shift - 1) / 2
  }
  return {
    record: (micros) => {
      const value = Math.min(maxMicros, Math.max(0, Math.round(micros)))
      counts[indexOf(value)]++
      total++
      sum += value
      if (value > max) max = value
      if (value < min) min = value
    },
    count: () => total,
    quantile: (q) => {
      if (total === 0) return 0
      const rank = Math.max(1, Math.ceil(q * total))
      let seen = 0
      for (let index = 0; index < counts.length; index++) {
        seen += counts[index] ?? 0
        if (seen >= rank) return Math.min(max, Math.max(min, middleOf(index)))
      }
      return max
    },
    max: () => max,
    mean: () => total === 0 ? 0 : sum / total
  }
}
