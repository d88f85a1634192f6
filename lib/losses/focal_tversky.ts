/**
 * Focal Tversky loss (Abraham & Khan, "A novel focal Tversky loss function with improved attention U-Net for
 * lesion segmentation", ISBI 2019).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { EPSILON } from "./common.ts";
import { tverskyIndex, type TverskyOptions } from "./tversky.ts";

/** Options for {@linkcode focalTverskyLoss}. */
export interface FocalTverskyOptions extends TverskyOptions {
  /** Focal exponent γ; the loss is (1 − TI)^(1/γ). Default 4/3. */
  gamma?: number;
}

/**
 * Focal Tversky loss: mean over the batch of max(1 − TI, ε)^(1/γ). The ε floor keeps the gradient finite at a
 * perfect prediction (1/γ < 1 makes d/dx x^(1/γ) infinite at 0).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { focalTverskyLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const l = focalTverskyLoss(tf.ones([1, 2, 2, 1]), tf.zeros([1, 2, 2, 1]));
 * assert.equal((await l.data())[0] > 0.5, true);
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts γ, α (false positives), β (false negatives), s
 * @returns scalar loss
 */
export function focalTverskyLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: FocalTverskyOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(focalTverskyLossPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image {@linkcode focalTverskyLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { focalTverskyLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = focalTverskyLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts as for {@linkcode focalTverskyLoss}
 * @returns `[B]` losses
 */
export function focalTverskyLossPerImage(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  opts: FocalTverskyOptions = {},
): tf.Tensor1D {
  const gamma = opts.gamma ?? 4 / 3;
  if (!(gamma > 0)) throw new Error(`focalTverskyLoss: gamma must be > 0, got ${gamma}`);
  return tf.tidy(() => {
    const oneMinus = tf.maximum(tf.sub(1, tverskyIndex(yTrue, yPred, opts)), EPSILON);
    return tf.pow(oneMinus, 1 / gamma) as tf.Tensor1D;
  });
}
