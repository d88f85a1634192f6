/**
 * Percentile bootstrap confidence intervals (Efron & Tibshirani, _An Introduction to the Bootstrap_, 1993, ch. 13):
 * resample the test images with replacement, recompute the statistic, take the 2.5th and 97.5th percentiles.
 *
 * @module
 */
import { createRng } from "../data/rng.ts";

/** Options for {@linkcode bootstrapInterval}. */
export interface BootstrapOptions {
  /** Number of resamples. Default 1000. */
  resamples?: number;
  /** Coverage of the interval. Default 0.95. */
  level?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
}

/**
 * A percentile bootstrap interval of `statistic` over `n` items (each resample draws `n` indices with replacement).
 * Resamples whose statistic is not finite (e.g. an AUC on a resample with one class) are left out.
 *
 * @example
 * ```ts
 * import { bootstrapInterval } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const x = [0.9, 0.92, 0.95, 0.97, 0.91, 0.94];
 * const [lo, hi] = bootstrapInterval(x.length, (idx) => idx.reduce((s, i) => s + x[i], 0) / idx.length);
 * assert(lo <= 0.93 && 0.93 <= hi && lo >= 0.9 && hi <= 0.97);
 * ```
 * @param n number of items
 * @param statistic computes the statistic of a resample, given its item indices
 * @param opts resamples, level, seed
 * @returns `[low, high]`, or `[NaN, NaN]` when `n` is 0 or no resample gave a finite value
 * @throws {RangeError} when `n`, `resamples` or `level` are out of range
 */
export function bootstrapInterval(
  n: number,
  statistic: (indices: number[]) => number,
  opts: BootstrapOptions = {},
): [number, number] {
  const resamples = opts.resamples ?? 1000, level = opts.level ?? 0.95;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`bootstrapInterval: n must be an integer ≥ 0, got ${n}`);
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrapInterval: resamples must be an integer ≥ 1, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrapInterval: level must be in (0, 1), got ${level}`);
  if (n === 0) return [NaN, NaN];
  const rng = createRng(opts.seed ?? 0, 0xb007);
  const values: number[] = [];
  const idx = new Array<number>(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.min(n - 1, Math.floor(rng.next() * n));
    const v = statistic(idx);
    if (Number.isFinite(v)) values.push(v);
  }
  if (!values.length) return [NaN, NaN];
  values.sort((a, b) => a - b);
  const q = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.floor(p * values.length)))];
  return [q((1 - level) / 2), q(1 - (1 - level) / 2)];
}

/**
 * Mean paired difference of a metric between two methods over seeds, with a paired bootstrap interval that resamples
 * both the seed pairs and the test images (the same images for both methods of a pair): the interval covers the
 * seed-to-seed spread and the test set's sampling error.
 *
 * @example
 * ```ts
 * import { pairedDifferenceInterval } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const labels = [0, 0, 1, 1];
 * const acc = (s: number[], y: number[]) => s.filter((v, i) => (v > 0.5 ? 1 : 0) === y[i]).length / y.length;
 * const pairs = [{ a: [0.6, 0.4, 0.3, 0.7], b: [0.1, 0.2, 0.8, 0.9] }];
 * const r = pairedDifferenceInterval(pairs, labels, acc);
 * assert.equal(r.mean, 0.5); // accuracy 0.5 → 1
 * assert.ok(r.ci95[0] <= 0.5 && r.ci95[1] >= 0.5);
 * ```
 * @param pairs per seed, the scores of method `a` (the reference) and `b` on the same images, in the same order
 * @param labels the images' true classes
 * @param metric the metric of scores and labels (e.g. the ROC AUC)
 * @param opts resamples, level, seed (defaults as {@linkcode bootstrapInterval})
 * @returns the mean over seeds of metric(b) − metric(a), and its bootstrap interval
 */
export function pairedDifferenceInterval(
  pairs: { a: number[]; b: number[] }[],
  labels: number[],
  metric: (scores: number[], labels: number[]) => number,
  opts: BootstrapOptions = {},
): { mean: number; ci95: [number, number] } {
  const n = labels.length, s = pairs.length;
  for (const p of pairs) {
    if (p.a.length !== n || p.b.length !== n) {
      throw new RangeError(`pairedDifferenceInterval: every pair needs ${n} scores per method`);
    }
  }
  if (!s || !n) return { mean: NaN, ci95: [NaN, NaN] };
  const diff = (p: { a: number[]; b: number[] }, idx: number[]) => {
    const y = idx.map((i) => labels[i]);
    return metric(idx.map((i) => p.b[i]), y) - metric(idx.map((i) => p.a[i]), y);
  };
  const all = Array.from({ length: n }, (_, i) => i);
  const mean = pairs.reduce((t, p) => t + diff(p, all), 0) / s;
  const rng = createRng(opts.seed ?? 0, 0x9a1d);
  const ci95 = bootstrapInterval(n, (idx) => {
    let t = 0;
    for (let k = 0; k < s; k++) t += diff(pairs[Math.min(s - 1, Math.floor(rng.next() * s))], idx);
    return t / s;
  }, opts);
  return { mean, ci95 };
}
