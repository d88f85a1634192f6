/**
 * A small seeded pseudo-random generator (mulberry32) so splits, shuffles and augmentation are reproducible.
 *
 * @module
 */

/** A seeded random source. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Fisher–Yates shuffle of a copy of `items`. */
  shuffle<T>(items: readonly T[]): T[];
}

/**
 * Creates a mulberry32 generator. Several integers (seed, epoch, index) can be mixed into one stream.
 *
 * @example
 * ```ts
 * import { createRng } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const a = createRng(1, 2).next();
 * const b = createRng(1, 2).next();
 * assert.equal(a === b, true);
 * ```
 * @param seeds integers mixed into the state
 * @returns a generator
 */
export function createRng(...seeds: number[]): Rng {
  let s = 0x9e3779b9;
  for (const v of seeds) {
    s = Math.imul(s ^ (Math.floor(v) >>> 0), 0x85ebca6b) >>> 0;
    s = (s ^ (s >>> 13)) >>> 0;
    s = Math.imul(s, 0xc2b2ae35) >>> 0;
    s = (s ^ (s >>> 16)) >>> 0;
  }
  let state = s >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
    normal: () => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    shuffle: <T>(items: readonly T[]) => {
      const a = items.slice();
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
  };
}
