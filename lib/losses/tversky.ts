/**
 * Tversky loss (Salehi, Erdogmus & Gholipour, "Tversky loss function for image segmentation using 3D fully
 * convolutional deep networks", MLMI 2017) and the Tversky index it is built on.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLossShapes, sumPerImage } from "./common.ts";

/** Options for {@linkcode tverskyLoss} and {@linkcode tverskyIndex}. */
export interface TverskyOptions {
  /** Weight of false positives Σ(1 − y)ŷ. Default 0.3. */
  alpha?: number;
  /** Weight of false negatives Σy(1 − ŷ). Default 0.7. */
  beta?: number;
  /** Smoothing s in numerator and denominator. Default 1. */
  smooth?: number;
}

/**
 * Per-image Tversky index TI = (Σyŷ + s) / (Σyŷ + α Σ(1−y)ŷ + β Σy(1−ŷ) + s), shape `[B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tverskyIndex } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.ones([1, 2, 2, 1]);
 * assert.deepEqual(Array.from(await tverskyIndex(y, y).data()), [1]);
 * ```
 * @param yTrue binary mask
 * @param yPred probabilities of the same shape
 * @param opts α, β, s
 * @returns `[B]` index
 */
export function tverskyIndex(yTrue: tf.Tensor, yPred: tf.Tensor, opts: TverskyOptions = {}): tf.Tensor1D {
  checkLossShapes("tverskyLoss", yTrue, yPred);
  const alpha = opts.alpha ?? 0.3, beta = opts.beta ?? 0.7, s = opts.smooth ?? 1;
  if (!(alpha >= 0 && beta >= 0)) throw new Error(`tverskyLoss: alpha and beta must be ≥ 0, got ${alpha}, ${beta}`);
  return tf.tidy(() => {
    const tp = sumPerImage(tf.mul(yTrue, yPred));
    const fp = sumPerImage(tf.mul(tf.sub(1, yTrue), yPred));
    const fn = sumPerImage(tf.mul(yTrue, tf.sub(1, yPred)));
    const denom = tf.add(tf.add(tf.add(tp, tf.mul(fp, alpha)), tf.mul(fn, beta)), s);
    return tf.div(tf.add(tp, s), denom) as tf.Tensor1D;
  });
}

/**
 * Tversky loss: mean over the batch of 1 − TI. With α = β = 0.5 it equals the Dice loss up to smoothing.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tverskyLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.ones([1, 2, 2, 1]);
 * assert.equal((await tverskyLoss(y, y).data())[0], 0);
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts α (false positives), β (false negatives), s
 * @returns scalar loss
 */
export function tverskyLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: TverskyOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(tverskyLossPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image {@linkcode tverskyLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { tverskyLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = tverskyLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts as for {@linkcode tverskyLoss}
 * @returns `[B]` losses
 */
export function tverskyLossPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: TverskyOptions = {}): tf.Tensor1D {
  return tf.tidy(() => tf.sub(1, tverskyIndex(yTrue, yPred, opts)) as tf.Tensor1D);
}
