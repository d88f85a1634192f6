/**
 * Calibration and the class decision, fitted on `val` and stored with the model. Two classes: Platt scaling of the
 * class-1 logit z = log(p₁ / p₀), p₁' = σ(z / T + b) (Platt 1999; temperature scaling, Guo et al., ICML 2017,
 * arXiv:1706.04599, is its b = 0 case: a classifier whose probabilities are shifted, not only too sharp, needs b),
 * and the decision threshold on the calibrated p₁ that maximises Youden's J = sensitivity + specificity − 1 on val
 * (the rule screening studies use when no operating point is prescribed). More classes: temperature scaling. With more than two classes the decision is the
 * argmax. The expected calibration error (ECE) is the top-label ECE over 10 equal-width confidence bins (Naeini et
 * al., AAAI 2015), as the field reports it.
 *
 * @module
 */

import type { Calibration } from "../checkpoint/calibration.ts";
import { applyTemperature, calibrate, decideClass } from "../checkpoint/calibration.ts";

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Bin range of the top-label confidence. */
  lo: number;
  /** Upper end (inclusive for the last bin). */
  hi: number;
  /** Images in the bin. */
  n: number;
  /** Mean confidence in the bin. */
  confidence: number;
  /** Share of correct top-label predictions in the bin. */
  accuracy: number;
}

/**
 * The reliability diagram's bins: top-label confidence against accuracy, over `bins` equal-width bins of [0, 1].
 *
 * @example
 * ```ts
 * import { reliabilityBins } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const b = reliabilityBins([[0.85, 0.15], [0.18, 0.82]], [0, 0], 10);
 * assert.equal(b.length, 10);
 * assert.equal(b[8].n, 2); // both top-label confidences in (0.8, 0.9]
 * assert.equal(b[8].accuracy, 0.5);
 * ```
 * @param probs `[n][K]` probabilities
 * @param labels `[n]` classes
 * @param bins number of bins. Default 10.
 * @returns the bins (empty ones with n = 0 and NaN means)
 */
export function reliabilityBins(probs: number[][], labels: number[], bins = 10): ReliabilityBin[] {
  const acc = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, n: 0, c: 0, a: 0 }));
  probs.forEach((p, i) => {
    const top = decideClass(p);
    const conf = p[top];
    const b = acc[Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1))];
    b.n++;
    b.c += conf;
    b.a += top === labels[i] ? 1 : 0;
  });
  return acc.map((b) => ({
    lo: b.lo,
    hi: b.hi,
    n: b.n,
    confidence: b.n ? b.c / b.n : NaN,
    accuracy: b.n ? b.a / b.n : NaN,
  }));
}

/**
 * Expected calibration error: Σ_bins (n_b / n) |accuracy_b − confidence_b| of the top label.
 *
 * @example
 * ```ts
 * import { expectedCalibrationError } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * // Confident (0.9) and right half the time: ECE 0.4.
 * assert.equal(expectedCalibrationError([[0.9, 0.1], [0.9, 0.1]], [0, 1]).toFixed(2), "0.40");
 * ```
 * @param probs `[n][K]` probabilities
 * @param labels `[n]` classes
 * @param bins number of bins. Default 10.
 * @returns the ECE in [0, 1] (NaN without images)
 */
export function expectedCalibrationError(probs: number[][], labels: number[], bins = 10): number {
  if (!probs.length) return NaN;
  return reliabilityBins(probs, labels, bins).reduce(
    (s, b) => s + (b.n ? (b.n / probs.length) * Math.abs(b.accuracy - b.confidence) : 0),
    0,
  );
}

function nll(probs: number[][], labels: number[], t: number): number {
  let s = 0;
  probs.forEach((p, i) => (s -= Math.log(Math.max(applyTemperature(p, t)[labels[i]], 1e-12))));
  return s / probs.length;
}

/**
 * The threshold on p₁ that maximises Youden's J on (scores, labels); ties go to the middle of the best run of
 * thresholds, so the cut lies between two scores rather than on one.
 *
 * @example
 * ```ts
 * import { youdenThreshold } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(youdenThreshold([0.1, 0.2, 0.6, 0.7], [0, 0, 1, 1]), 0.4);
 * ```
 * @param scores class-1 probabilities
 * @param labels 0/1 labels
 * @returns the threshold (0.5 when one class is missing)
 */
export function youdenThreshold(scores: number[], labels: number[]): number {
  const pos = labels.filter((y) => y === 1).length, neg = labels.length - pos;
  if (!pos || !neg) return 0.5;
  const order = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => b[0] - a[0]);
  // Cut after the k highest scores: predicted positive = the first k.
  let tp = 0, fp = 0, best = -Infinity, cut = 0.5;
  for (let k = 0; k <= order.length; k++) {
    if (k > 0) order[k - 1][1] === 1 ? tp++ : fp++;
    if (k < order.length && k > 0 && order[k][0] === order[k - 1][0]) continue; // no cut between equal scores
    const j = tp / pos - fp / neg;
    if (j > best + 1e-12) {
      best = j;
      const above = k > 0 ? order[k - 1][0] : 1, below = k < order.length ? order[k][0] : 0;
      cut = (above + below) / 2;
    }
  }
  return cut;
}

/**
 * Platt scaling of the class-1 logit by Newton's method on the val log-likelihood, with Platt's smoothed targets
 * ((N₊ + 1) / (N₊ + 2) and 1 / (N₋ + 2)), which keep separable val sets finite.
 *
 * @param z class-1 logits
 * @param y 0/1 labels
 * @returns slope a (= 1 / T) and bias b
 */
function plattFit(z: number[], y: number[]): { a: number; b: number } {
  const pos = y.filter((v) => v === 1).length, neg = y.length - pos;
  const t = y.map((v) => (v === 1 ? (pos + 1) / (pos + 2) : 1 / (neg + 2)));
  let a = 1, b = 0;
  for (let it = 0; it < 100; it++) {
    let g0 = 0, g1 = 0, h00 = 1e-9, h01 = 0, h11 = 1e-9;
    for (let i = 0; i < z.length; i++) {
      const p = 1 / (1 + Math.exp(-(a * z[i] + b))), d = p - t[i], w = p * (1 - p);
      g0 += d * z[i];
      g1 += d;
      h00 += w * z[i] * z[i];
      h01 += w * z[i];
      h11 += w;
    }
    const det = h00 * h11 - h01 * h01;
    if (!(Math.abs(det) > 1e-12)) break;
    const da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-10) break;
  }
  return { a, b };
}

/**
 * Fits the calibration on val: two classes, Platt scaling of the class-1 logit (kept only when its slope is positive
 * and it lowers the val log-likelihood; otherwise temperature scaling) and the Youden threshold on the calibrated val
 * probabilities; more classes, the temperature by minimum val negative log-likelihood (golden-section search over
 * log T in [log 0.05, log 20]).
 *
 * @example
 * ```ts
 * import { createRng, fitCalibration } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * // Over-confident scores (logits reported 3× too sharp): the fit softens them (T > 1) and lowers the ECE.
 * const rng = createRng(1);
 * const probs: number[][] = [], labels: number[] = [];
 * for (let i = 0; i < 400; i++) {
 *   const z = rng.uniform(-3, 3);
 *   labels.push(rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
 *   const p = 1 / (1 + Math.exp(-3 * z));
 *   probs.push([1 - p, p]);
 * }
 * const c = fitCalibration(probs, labels);
 * assert.ok(c.temperature > 2 && c.temperature < 4);
 * assert.ok(c.ece.after < c.ece.before);
 * assert.equal(c.rule, "youden-val");
 * ```
 * @param probs val `[n][K]` probabilities
 * @param labels val classes
 * @returns the calibration
 */
export function fitCalibration(probs: number[][], labels: number[]): Calibration {
  if (probs.length !== labels.length || !probs.length) {
    throw new RangeError(
      `fitCalibration: needs as many labels as probability rows (> 0), got ${probs.length}, ${labels.length}`,
    );
  }
  let lo = Math.log(0.05), hi = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo), b = lo + g * (hi - lo);
  let fa = nll(probs, labels, Math.exp(a)), fb = nll(probs, labels, Math.exp(b));
  for (let i = 0; i < 60; i++) {
    if (fa < fb) (hi = b, b = a, fb = fa, a = hi - g * (hi - lo), fa = nll(probs, labels, Math.exp(a)));
    else (lo = a, a = b, fa = fb, b = lo + g * (hi - lo), fb = nll(probs, labels, Math.exp(b)));
  }
  let temperature = Math.exp((lo + hi) / 2);
  if (!(nll(probs, labels, temperature) < nll(probs, labels, 1))) temperature = 1;
  const k = probs[0].length;
  let bias = 0;
  if (k === 2) {
    const z = probs.map((p) => Math.log(Math.max(p[1], 1e-12)) - Math.log(Math.max(p[0], 1e-12)));
    const { a, b } = plattFit(z, labels);
    const nllOf = (c: { temperature: number; bias: number }) =>
      probs.reduce((s, p, i) => s - Math.log(Math.max(calibrate(p, c)[labels[i]], 1e-12)), 0) / probs.length;
    const platt = { temperature: 1 / a, bias: b };
    if (a > 0 && Number.isFinite(b) && nllOf(platt) < nllOf({ temperature, bias: 0 })) {
      temperature = platt.temperature;
      bias = platt.bias;
    }
  }
  const calibrated = probs.map((p) => calibrate(p, { temperature, bias }));
  return {
    temperature,
    ...(bias ? { bias } : {}),
    ...(k === 2 ? { threshold: youdenThreshold(calibrated.map((p) => p[1]), labels) } : {}),
    rule: k === 2 ? "youden-val" : "argmax",
    n: probs.length,
    ece: { before: expectedCalibrationError(probs, labels), after: expectedCalibrationError(calibrated, labels) },
  };
}
