// Deterministic hashing of small integer tuples to uniform numbers: per-message delays without storing them.

const mix = (h: number, k: number): number => {
  let x = Math.imul(k | 0, 0xcc9e2d51)
  x = (x << 15) | (x >>> 17)
  x = Math.imul(x, 0x1b873593)
  const y = h ^ x
  return (Math.imul((y << 13) | (y >>> 19), 5) + 0xe6546b64) | 0
}

const finish = (h: number): number => {
  let x = h ^ (h >>> 16)
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/** A 32-bit hash (murmur3 mixing) of a seed and up to a few 32-bit integers. */
export const hash32 = (seed: number, a: number, b = 0, c = 0): number =>
  finish(mix(mix(mix(mix(0x9747b28c, seed), a), b), c))

/** A uniform number in (0, 1) from a seed and integers: the same inputs always give the same number. */
export const uniform = (seed: number, a: number, b = 0, c = 0): number =>
  (hash32(seed, a, b, c) + 0.5) / 4294967296

/** Turn any seed text or number into a 32-bit integer seed. */
export const seedOf = (seed: string | number): number => {
  const text = String(seed)
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h | 0
}

/** A small seeded generator (mulberry32) for building scenarios: next() is uniform in [0, 1). */
export const makeGenerator = (seed: number): { readonly next: () => number } => {
  let state = seed | 0
  return {
    next: () => {
      state = (state + 0x6d2b79f5) | 0
      let t = Math.imul(state ^ (state >>> 15), 1 | state)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
}
