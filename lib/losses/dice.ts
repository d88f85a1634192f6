/**
 * Soft Dice loss (Milletari et al., "V-Net", 3DV 2016).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLossShapes, sumPerImage } from "./common.ts";

/** Options for {@linkcode diceLoss}. */
export interface DiceOptions {
  /** Smoothing s added to numerator and denominator (keeps empty masks defined). Default 1. */
  smooth?: number;
}

/**
 * Dice loss per image: 1 − (2Σyŷ + s) / (Σy + Σŷ + s), then mean over the batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diceLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.tensor4d([1, 0, 1, 0], [1, 2, 2, 1]);
 * assert.equal((await diceLoss(y, y).data())[0], 0);
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts smoothing
 * @returns scalar loss
 */
export function diceLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: DiceOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(diceLossPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image {@linkcode diceLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { diceLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = diceLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts as for {@linkcode diceLoss}
 * @returns `[B]` losses
 */
export function diceLossPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: DiceOptions = {}): tf.Tensor1D {
  checkLossShapes("diceLoss", yTrue, yPred);
  const s = opts.smooth ?? 1;
  return tf.tidy(() => {
    const inter = sumPerImage(tf.mul(yTrue, yPred));
    const denom = tf.add(tf.add(sumPerImage(yTrue), sumPerImage(yPred)), s);
    return tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), s), denom)) as tf.Tensor1D;
  });
}
