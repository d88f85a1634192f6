/**
 * XE + Tversky: binary cross-entropy plus Tversky loss (the paper's "XE+TV" baseline).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { bceLossPerImage } from "./bce.ts";
import { tverskyLossPerImage, type TverskyOptions } from "./tversky.ts";

/**
 * `bceLoss + tverskyLoss` (α = 0.3 false positives, β = 0.7 false negatives by default).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { xeTverskyLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.ones([1, 2, 2, 1]);
 * assert.equal((await xeTverskyLoss(y, y).data())[0] < 1e-5, true);
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts Tversky options
 * @returns scalar loss
 */
export function xeTverskyLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: TverskyOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(xeTverskyLossPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image {@linkcode xeTverskyLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { xeTverskyLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = xeTverskyLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts as for {@linkcode xeTverskyLoss}
 * @returns `[B]` losses
 */
export function xeTverskyLossPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: TverskyOptions = {}): tf.Tensor1D {
  return tf.tidy(() => tf.add(bceLossPerImage(yTrue, yPred), tverskyLossPerImage(yTrue, yPred, opts)) as tf.Tensor1D);
}
