/**
 * Binary cross-entropy (the paper's "XE") over pixels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLossShapes, EPSILON, meanPerImage } from "./common.ts";

/**
 * Mean binary cross-entropy: per image mean over pixels of −[y log ŷ + (1 − y) log(1 − ŷ)] with ŷ clipped to
 * [ε, 1 − ε] (ε = 1e-7), then mean over the batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { bceLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const l = bceLoss(tf.ones([1, 2, 2, 1]), tf.fill([1, 2, 2, 1], 0.5));
 * assert.equal((await l.data())[0].toFixed(4), "0.6931");
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @returns scalar loss
 */
export function bceLoss(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(bceLossPerImage(yTrue, yPred)) as tf.Scalar);
}

/**
 * Per-image {@linkcode bceLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { bceLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = bceLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @returns `[B]` losses
 */
export function bceLossPerImage(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  checkLossShapes("bceLoss", yTrue, yPred);
  return tf.tidy(() => {
    const p = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
    const ll = tf.add(tf.mul(yTrue, tf.log(p)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, p))));
    return tf.neg(meanPerImage(ll)) as tf.Tensor1D;
  });
}
