/**
 * The "absolute KL divergence" term of KLTV (Imran & Terzopoulos, MLMI 2019, arXiv:1908.03693).
 *
 * Reading (documented choice): the paper writes |KL(y‖ŷ)| without a normalization. Default: per image
 * | mean_i y_i · log(clip(y_i) / clip(ŷ_i)) | with clip to [ε, 1], then mean over the batch. With binary y
 * this is the mean over pixels of −y·log ŷ on the lung pixels (the positive half of cross-entropy).
 * `normalized: true` instead treats y and ŷ as spatial distributions (each divided by its sum over pixels)
 * and returns the true KL divergence Σ p log(p/q) between them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLossShapes, EPSILON, meanPerImage, sumPerImage } from "./common.ts";

/** Options for {@linkcode klLoss}. */
export interface KlOptions {
  /** Normalize y and ŷ to sum 1 over pixels first (KL between spatial distributions). Default `false`. */
  normalized?: boolean;
}

/**
 * |KL| loss (see the module doc for the exact reading).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { klLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.tensor4d([1, 0, 1, 0], [1, 2, 2, 1]);
 * assert.equal((await klLoss(y, y).data())[0], 0);
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts normalization
 * @returns scalar loss
 */
export function klLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: KlOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(klLossPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image {@linkcode klLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { klLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = klLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts as for {@linkcode klLoss}
 * @returns `[B]` losses
 */
export function klLossPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: KlOptions = {}): tf.Tensor1D {
  checkLossShapes("klLoss", yTrue, yPred);
  return tf.tidy(() => {
    let p: tf.Tensor = yTrue, q: tf.Tensor = yPred;
    if (opts.normalized) {
      const shape = [yTrue.shape[0], ...Array(yTrue.rank - 1).fill(1)];
      p = tf.div(yTrue, tf.reshape(tf.add(sumPerImage(yTrue), EPSILON), shape));
      q = tf.div(yPred, tf.reshape(tf.add(sumPerImage(yPred), EPSILON), shape));
    }
    const terms = tf.mul(p, tf.sub(tf.log(tf.clipByValue(p, EPSILON, 1)), tf.log(tf.clipByValue(q, EPSILON, 1))));
    const perImage = opts.normalized ? sumPerImage(terms) : meanPerImage(terms);
    return tf.abs(perImage) as tf.Tensor1D;
  });
}
