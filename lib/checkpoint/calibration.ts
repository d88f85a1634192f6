/**
 * A model's stored calibration and how it is applied: temperature or Platt scaling of the class probabilities and the
 * two-class decision threshold (fitted on `val` by `fitCalibration` in `lib/metrics/calibration.ts`; stored in
 * checkpoints' `state.json` and in `metadata.json`).
 *
 * @module
 */

/** A model's fitted calibration (stored in checkpoints' `state.json` and in `metadata.json`). */
export interface Calibration {
  /** Temperature T: calibrated probabilities are softmax(log p / T). 1 = unchanged. */
  temperature: number;
  /** Two classes: the bias b added to the scaled class-1 logit (Platt scaling). Absent or 0: temperature only. */
  bias?: number;
  /** Two classes: class 1 is predicted where its calibrated probability is ≥ this. Absent with more classes. */
  threshold?: number;
  /** How the threshold was chosen. */
  rule: "youden-val" | "argmax";
  /** The val images it was fitted on. */
  n: number;
  /** Val ECE before and after temperature scaling. */
  ece: { before: number; after: number };
}

/**
 * Temperature-scaled probabilities: softmax(log p / T).
 *
 * @example
 * ```ts
 * import { applyTemperature } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.deepEqual(applyTemperature([0.2, 0.8], 1).map((v) => v.toFixed(3)), ["0.200", "0.800"]);
 * assert.ok(applyTemperature([0.2, 0.8], 2)[1] < 0.8); // T > 1 softens
 * ```
 * @param probs class probabilities
 * @param temperature T > 0
 * @returns calibrated probabilities (sum 1)
 */
export function applyTemperature(probs: number[], temperature: number): number[] {
  if (!(temperature > 0)) throw new RangeError(`applyTemperature: temperature must be > 0, got ${temperature}`);
  if (temperature === 1) return probs.slice();
  const z = probs.map((p) => Math.log(Math.max(p, 1e-12)) / temperature);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Applies a calibration: with two classes and a bias, σ(log(p₁/p₀) / T + b); otherwise temperature scaling.
 *
 * @example
 * ```ts
 * import { calibrate } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const cal = { temperature: 1, bias: Math.log(3), rule: "youden-val" as const, n: 1, ece: { before: 0, after: 0 } };
 * assert.equal(calibrate([0.5, 0.5], cal)[1].toFixed(2), "0.75"); // odds 1 → 3
 * ```
 * @param probs raw class probabilities
 * @param cal the calibration
 * @returns calibrated probabilities
 */
export function calibrate(probs: number[], cal: Pick<Calibration, "temperature" | "bias">): number[] {
  if (probs.length !== 2 || !cal.bias) return applyTemperature(probs, cal.temperature);
  const z = (Math.log(Math.max(probs[1], 1e-12)) - Math.log(Math.max(probs[0], 1e-12))) / cal.temperature + cal.bias;
  const p1 = 1 / (1 + Math.exp(-z));
  return [1 - p1, p1];
}

/**
 * The class decision: with two classes and a threshold, class 1 where p₁ ≥ threshold; otherwise the argmax.
 *
 * @example
 * ```ts
 * import { decideClass } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(decideClass([0.7, 0.3]), 0);
 * assert.equal(decideClass([0.7, 0.3], 0.25), 1);
 * ```
 * @param probs (calibrated) class probabilities
 * @param threshold the two-class threshold on p₁, if any
 * @returns the class index
 */
export function decideClass(probs: number[], threshold?: number): number {
  if (probs.length === 2 && threshold !== undefined) return probs[1] >= threshold ? 1 : 0;
  let arg = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[arg]) arg = c;
  return arg;
}
