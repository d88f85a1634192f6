/**
 * Overlap metrics on tensors: Dice coefficient and Jaccard index, thresholded at 0.5, per image then mean.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLossShapes, sumPerImage } from "../losses/common.ts";

/** Options of the overlap metrics. */
export interface OverlapOptions {
  /** Threshold applied to both inputs (value > threshold is foreground). Default 0.5. */
  threshold?: number;
}

function overlap(yTrue: tf.Tensor, yPred: tf.Tensor, threshold: number) {
  const t = tf.cast(tf.greater(yTrue, threshold), "float32");
  const p = tf.cast(tf.greater(yPred, threshold), "float32");
  return { inter: sumPerImage(tf.mul(t, p)), sumT: sumPerImage(t), sumP: sumPerImage(p) };
}

/**
 * Per-image Dice 2|A∩B| / (|A| + |B|) (1 when both are empty), shape `[B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dicePerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]);
 * const p = tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1]);
 * assert.equal((await dicePerImage(y, p).data())[0].toFixed(3), "0.667");
 * ```
 * @param yTrue mask
 * @param yPred probabilities or mask
 * @param opts threshold
 * @returns `[B]`
 */
export function dicePerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: OverlapOptions = {}): tf.Tensor1D {
  checkLossShapes("diceCoefficient", yTrue, yPred);
  return tf.tidy(() => {
    const { inter, sumT, sumP } = overlap(yTrue, yPred, opts.threshold ?? 0.5);
    const denom = tf.add(sumT, sumP);
    return tf.where(
      tf.equal(denom, 0),
      tf.onesLike(denom),
      tf.div(tf.mul(inter, 2), tf.maximum(denom, 1)),
    ) as tf.Tensor1D;
  });
}

/**
 * Per-image Jaccard |A∩B| / |A∪B| (1 when both are empty), shape `[B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { jaccardPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]);
 * const p = tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1]);
 * assert.equal((await jaccardPerImage(y, p).data())[0], 0.5);
 * ```
 * @param yTrue mask
 * @param yPred probabilities or mask
 * @param opts threshold
 * @returns `[B]`
 */
export function jaccardPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: OverlapOptions = {}): tf.Tensor1D {
  checkLossShapes("jaccardIndex", yTrue, yPred);
  return tf.tidy(() => {
    const { inter, sumT, sumP } = overlap(yTrue, yPred, opts.threshold ?? 0.5);
    const union = tf.sub(tf.add(sumT, sumP), inter);
    return tf.where(tf.equal(union, 0), tf.onesLike(union), tf.div(inter, tf.maximum(union, 1))) as tf.Tensor1D;
  });
}

/**
 * Mean Dice coefficient over the batch (thresholded at 0.5).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diceCoefficient } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.ones([2, 2, 2, 1]);
 * assert.equal((await diceCoefficient(y, y).data())[0], 1);
 * ```
 * @param yTrue mask
 * @param yPred probabilities or mask
 * @param opts threshold
 * @returns scalar
 */
export function diceCoefficient(yTrue: tf.Tensor, yPred: tf.Tensor, opts: OverlapOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(dicePerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Mean Jaccard index over the batch (thresholded at 0.5).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { jaccardIndex } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.ones([2, 2, 2, 1]);
 * assert.equal((await jaccardIndex(y, y).data())[0], 1);
 * ```
 * @param yTrue mask
 * @param yPred probabilities or mask
 * @param opts threshold
 * @returns scalar
 */
export function jaccardIndex(yTrue: tf.Tensor, yPred: tf.Tensor, opts: OverlapOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(jaccardPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image pixel accuracy: share of pixels where the thresholded prediction equals the thresholded mask, `[B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { pixelAccuracyPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]);
 * assert.equal((await pixelAccuracyPerImage(y, tf.zeros([1, 2, 2, 1])).data())[0], 0.5);
 * ```
 * @param yTrue mask
 * @param yPred probabilities or mask
 * @param opts threshold
 * @returns `[B]`
 */
export function pixelAccuracyPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: OverlapOptions = {}): tf.Tensor1D {
  checkLossShapes("pixelAccuracy", yTrue, yPred);
  const thr = opts.threshold ?? 0.5;
  return tf.tidy(() => {
    const eq = tf.cast(tf.equal(tf.greater(yTrue, thr), tf.greater(yPred, thr)), "float32");
    const axes = Array.from({ length: eq.rank - 1 }, (_, i) => i + 1);
    return tf.mean(eq, axes) as tf.Tensor1D;
  });
}
