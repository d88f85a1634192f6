/**
 * KLTV loss = wKL·|KL| + wTV·Tversky (Imran & Terzopoulos, MLMI 2019, arXiv:1908.03693), the segmentation loss
 * of APPAU-Net.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { klLossPerImage, type KlOptions } from "./kl.ts";
import { tverskyLossPerImage, type TverskyOptions } from "./tversky.ts";

/** Options for {@linkcode kltvLoss}. */
export interface KltvOptions extends TverskyOptions, KlOptions {
  /** Weight of the |KL| term. Default 1. */
  klWeight?: number;
  /** Weight of the Tversky term. Default 1. */
  tverskyWeight?: number;
}

/**
 * KLTV: `klWeight · klLoss + tverskyWeight · tverskyLoss` (α = 0.3 false positives, β = 0.7 false negatives).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { kltvLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const y = tf.ones([1, 2, 2, 1]);
 * assert.equal((await kltvLoss(y, y).data())[0] < 1e-6, true);
 * ```
 * @param yTrue binary mask `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts weights and the options of both terms
 * @returns scalar loss
 */
export function kltvLoss(yTrue: tf.Tensor, yPred: tf.Tensor, opts: KltvOptions = {}): tf.Scalar {
  return tf.tidy(() => tf.mean(kltvLossPerImage(yTrue, yPred, opts)) as tf.Scalar);
}

/**
 * Per-image {@linkcode kltvLoss}, shape `[B]`: one loss per image of the batch (for weighting images, or for hiding
 * the masks of unlabeled images).
 *
 * @example
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import { kltvLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const yTrue = tf.ones([2, 4, 4, 1]);
 * const yPred = tf.concat([tf.fill([1, 4, 4, 1], 0.99), tf.fill([1, 4, 4, 1], 0.25)]); // good, then poor
 * const l = kltvLossPerImage(yTrue, yPred);
 * assert.deepEqual(l.shape, [2]);
 * const [good, poor] = await l.data();
 * assert.ok(good < poor);
 * ```
 * @param yTrue binary masks `[B, H, W(, 1)]`
 * @param yPred probabilities of the same shape
 * @param opts as for {@linkcode kltvLoss}
 * @returns `[B]` losses
 */
export function kltvLossPerImage(yTrue: tf.Tensor, yPred: tf.Tensor, opts: KltvOptions = {}): tf.Tensor1D {
  const wKl = opts.klWeight ?? 1, wTv = opts.tverskyWeight ?? 1;
  return tf.tidy(() =>
    tf.add(
      tf.mul(klLossPerImage(yTrue, yPred, opts), wKl),
      tf.mul(tverskyLossPerImage(yTrue, yPred, opts), wTv),
    ) as tf.Tensor1D
  );
}
