/**
 * Shared helpers of the loss functions: shape validation, per-image reductions, the ε constant.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Clipping constant of every loss (log and division guards). */
export const EPSILON = 1e-7;

/** Signature shared by every loss: `(yTrue, yPred, opts?) => scalar`, mean over the batch of per-image losses. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

/**
 * Throws a clear error unless `yTrue` and `yPred` have the same shape of rank 3 (`[B, H, W]`) or 4
 * (`[B, H, W, C]`), and float dtype.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkLossShapes } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * checkLossShapes("dice", tf.zeros([1, 4, 4, 1]), tf.zeros([1, 4, 4, 1])); // same shape: no error
 * assert.throws(() => checkLossShapes("dice", tf.zeros([1, 4, 4, 1]), tf.zeros([1, 2, 2, 1])), /shape/);
 * ```
 * @param name loss name for the message
 * @param yTrue ground-truth mask
 * @param yPred predicted probabilities
 */
export function checkLossShapes(name: string, yTrue: tf.Tensor, yPred: tf.Tensor): void {
  const same = yTrue.rank === yPred.rank && yTrue.shape.every((d, i) => d === yPred.shape[i]);
  if (!same) {
    throw new Error(
      `${name}: yTrue shape [${yTrue.shape}] differs from yPred shape [${yPred.shape}]; ` +
        "pass the mask and the prediction at the same size ([B, H, W, 1])",
    );
  }
  if (yPred.rank < 2) throw new Error(`${name}: expected a batch of masks [B, H, W(, C)], got shape [${yPred.shape}]`);
  if (yPred.dtype !== "float32") throw new Error(`${name}: yPred must be float32 probabilities, got ${yPred.dtype}`);
  if (yPred.shape.some((d) => d === 0)) {
    throw new Error(`${name}: yPred has shape [${yPred.shape}], an empty batch or image; pass at least one pixel`);
  }
}

/**
 * Checks (asynchronously, as GPU reads must be) that `yPred` lies in [0, 1] and `yTrue` in {0, 1}.
 * The trainer runs it on the first batch; call it yourself when feeding your own tensors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkLossRanges } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await checkLossRanges("kltv", tf.ones([1, 2, 2, 1]), tf.fill([1, 2, 2, 1], 0.5)); // in range: no error
 * await assert.rejects(checkLossRanges("kltv", tf.fill([1, 2, 2, 1], 2), tf.fill([1, 2, 2, 1], 0.5)));
 * ```
 * @param name loss name for the message
 * @param yTrue ground-truth mask
 * @param yPred predicted probabilities
 * @throws {Error} when a value is out of range
 */
export async function checkLossRanges(name: string, yTrue: tf.Tensor, yPred: tf.Tensor): Promise<void> {
  checkLossShapes(name, yTrue, yPred);
  const [p, t] = await Promise.all([yPred.data(), yTrue.data()]);
  for (const v of p) {
    if (!(v >= 0 && v <= 1)) {
      throw new Error(`${name}: yPred has value ${v} outside [0, 1]; apply a sigmoid to logits before the loss`);
    }
  }
  for (const v of t) {
    if (v !== 0 && v !== 1) throw new Error(`${name}: yTrue has value ${v}; masks must be binary {0, 1}`);
  }
}

/** Sums over all axes but the batch axis: `[B, …] → [B]`. */
export function sumPerImage(x: tf.Tensor): tf.Tensor1D {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  return tf.sum(x, axes) as tf.Tensor1D;
}

/** Means over all axes but the batch axis: `[B, …] → [B]`. */
export function meanPerImage(x: tf.Tensor): tf.Tensor1D {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  return tf.mean(x, axes) as tf.Tensor1D;
}
