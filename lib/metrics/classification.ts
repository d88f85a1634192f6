/**
 * Evaluation metrics on plain arrays: AUC (exact, ties counted half), accuracy, sensitivity, specificity,
 * confusion matrix, and mean ± std summaries of per-image segmentation scores.
 *
 * @module
 */

import { decideClass } from "../checkpoint/calibration.ts";
import { expectedCalibrationError } from "./calibration.ts";

/**
 * ROC AUC computed exactly as the Mann–Whitney statistic: P(score of a positive > score of a negative), ties
 * counting ½. `NaN` when one class is absent. Non-finite scores are refused: ranking NaN by its sort position would
 * give a believable but meaningless number.
 *
 * @example
 * ```ts
 * import { rocAuc } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
 * ```
 * @param scores score of the positive class per sample
 * @param labels 1 = positive, 0 = negative
 * @returns AUC in [0, 1]
 * @throws {RangeError} when a score is not finite or the lengths differ
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (scores.length !== labels.length) {
    throw new RangeError(`rocAuc: ${scores.length} scores but ${labels.length} labels`);
  }
  assertFinite("rocAuc", "scores", scores);
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  // Average ranks with ties.
  const ranks = new Float64Array(scores.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]] = r;
    i = j + 1;
  }
  let nPos = 0, sumPos = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) {
      nPos++;
      sumPos += ranks[i];
    }
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Classification report. */
export interface ClassificationMetrics {
  /** Number of samples. */
  n: number;
  /** Share of argmax predictions equal to the label. */
  accuracy: number;
  /** AUC (binary: class 1 vs 0; K > 2: mean one-vs-rest). */
  auc: number;
  /** Recall of class 1 (binary only; `NaN` for K > 2). */
  sensitivity: number;
  /** Recall of class 0 (binary only). */
  specificity: number;
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** Expected calibration error of the top label (10 bins). */
  ece: number;
  /** The two-class decision threshold on p₁ the decisions used, when one was given (else the argmax). */
  threshold?: number;
}

/**
 * Classification metrics from per-sample class probabilities.
 *
 * @example
 * ```ts
 * import { classificationMetrics } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const m = classificationMetrics([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], [0, 1, 1]);
 * assert.equal(m.accuracy.toFixed(3), "0.667");
 * assert.deepEqual(m.confusion, [[1, 0], [1, 1]]);
 * ```
 * @param probs `[n][K]` probabilities
 * @param labels `[n]` class indices
 * @param threshold two classes: predict class 1 where p₁ ≥ this (default: the argmax)
 * @returns the metrics
 * @throws {RangeError} when a probability is not finite or a label is not a class index
 */
export function classificationMetrics(probs: number[][], labels: number[], threshold?: number): ClassificationMetrics {
  const k = probs[0]?.length ?? 2;
  if (probs.length !== labels.length) {
    throw new RangeError(`classificationMetrics: ${probs.length} probability rows but ${labels.length} labels`);
  }
  probs.forEach((p, i) => assertFinite("classificationMetrics", `probs[${i}]`, p));
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= k) {
      throw new RangeError(`classificationMetrics: labels[${i}] = ${l} is not a class index in [0, ${k})`);
    }
  });
  const confusion = Array.from({ length: k }, () => new Array(k).fill(0));
  let correct = 0;
  probs.forEach((p, i) => {
    const arg = decideClass(p, threshold);
    confusion[labels[i]][arg]++;
    if (arg === labels[i]) correct++;
  });
  let auc: number;
  if (k === 2) auc = rocAuc(probs.map((p) => p[1]), labels);
  else {
    const per = Array.from(
      { length: k },
      (_, c) => rocAuc(probs.map((p) => p[c]), labels.map((l) => (l === c ? 1 : 0))),
    );
    const ok = per.filter((v) => !Number.isNaN(v));
    auc = ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
  }
  const recall = (c: number) => {
    const row = confusion[c].reduce((a: number, b: number) => a + b, 0);
    return row ? confusion[c][c] / row : NaN;
  };
  return {
    n: probs.length,
    accuracy: probs.length ? correct / probs.length : NaN,
    auc,
    sensitivity: k === 2 ? recall(1) : NaN,
    specificity: k === 2 ? recall(0) : NaN,
    confusion,
    ece: expectedCalibrationError(probs, labels),
    ...(threshold !== undefined && k === 2 ? { threshold } : {}),
  };
}

/**
 * The median (the mean of the two middle values for an even count); NaN for no values. Infinity counts as a value.
 *
 * @example
 * ```ts
 * import { median } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 2, 3]), 2.5);
 * ```
 * @param xs the values
 * @returns the median
 */
export function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return !s.length ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Mean and (population) standard deviation. */
export interface MeanStd {
  /** Mean. */
  mean: number;
  /** Standard deviation. */
  std: number;
}

/**
 * Mean ± std of a list (`NaN` for an empty list). Non-finite values are refused.
 *
 * @example
 * ```ts
 * import { meanStd } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.deepEqual(meanStd([1, 3]), { mean: 2, std: 1 });
 * ```
 * @param values numbers
 * @returns mean and std
 * @throws {RangeError} when a value is not finite
 */
export function meanStd(values: number[]): MeanStd {
  if (values.length === 0) return { mean: NaN, std: NaN };
  assertFinite("meanStd", "values", values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { mean, std };
}

function assertFinite(fn: string, what: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(
        `${fn}: ${what}[${i}] is ${values[i]}; the model produced non-finite outputs (its weights or inputs hold ` +
          "NaN or Infinity), so no metric is computed",
      );
    }
  }
}
