/**
 * The loss terms of the semi-supervised multi-task GAN (improved-GAN with K + 1 classes; Salimans et al. 2016,
 * as used by APPAU-Net, Imran & Terzopoulos 2019). D outputs K real-class logits and one "predicted by S"
 * logit (index K); p_D = softmax over the K + 1 logits.
 *
 * All terms take per-sample weights (1 = the sample takes part, 0 = it does not) so batch shapes never change;
 * a weighted mean over zero weights is 0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Σ w·v / max(Σ w, 1). */
export function weightedMean(values: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(values, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar);
}

/** log p_D(K | ·) and log(1 − p_D(K | ·)) per sample, computed stably from logits `[B, K+1]`. */
export function fakeLogProbs(logits: tf.Tensor2D): { logFake: tf.Tensor1D; logReal: tf.Tensor1D } {
  return tf.tidy(() => {
    const k = logits.shape[1] - 1;
    const all = tf.logSumExp(logits, 1);
    const real = tf.logSumExp(tf.slice(logits, [0, 0], [-1, k]), 1);
    const fake = tf.reshape(tf.slice(logits, [0, k], [-1, 1]), [-1]);
    return { logFake: tf.sub(fake, all) as tf.Tensor1D, logReal: tf.sub(real, all) as tf.Tensor1D };
  });
}

/**
 * Per-sample cross-entropy over the K real classes: −log softmax(l_0..l_{K−1})[z]. With `fakeClass` false the
 * logits have only K columns and this is the ordinary softmax cross-entropy.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { realClassCrossEntropy } from "./gan.ts";
 * import assert from "node:assert/strict";
 * const ce = realClassCrossEntropy(tf.tensor2d([[0, 0, 5]]), tf.tensor1d([1], "int32"), true);
 * assert.equal((await ce.data())[0].toFixed(4), "0.6931");
 * ```
 * @param logits `[B, K+1]` (or `[B, K]` when `fakeClass` is false)
 * @param labels `[B]` int32 class indices
 * @param fakeClass whether the last column is the extra class
 * @returns `[B]`
 */
export function realClassCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, fakeClass: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    const k = fakeClass ? logits.shape[1] - 1 : logits.shape[1];
    const real = fakeClass ? tf.slice(logits, [0, 0], [-1, k]) : logits;
    const logp = tf.logSoftmax(real);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), k);
    return tf.neg(tf.sum(tf.mul(onehot, logp), 1)) as tf.Tensor1D;
  });
}

/** Inputs of {@linkcode discriminatorLoss}. */
export interface DiscriminatorLossInputs {
  /** D logits on x ⊕ (true mask where known, else S(x)) `[B, K+1]`. */
  logitsLabeledPairs: tf.Tensor2D;
  /** D logits on x ⊕ true mask `[B, K+1]` (rows without a mask are ignored via `hasMask`). */
  logitsReal: tf.Tensor2D;
  /** D logits on x ⊕ S(x) `[B, K+1]`. */
  logitsFake: tf.Tensor2D;
  /** `[B]` int32 labels. */
  labels: tf.Tensor1D;
  /** `[B]` 1 where the class label is known. */
  hasLabel: tf.Tensor1D;
  /** `[B]` 1 where the true mask is known. */
  hasMask: tf.Tensor1D;
  /** `[B]` 1 for real samples (0 for padding). */
  valid: tf.Tensor1D;
  /** Target for the real-pair term in (0, 1]: 1 − label smoothing. Default 1. */
  realTarget?: number;
  /**
   * Weight λ_unsup of the two unsupervised terms (real pairs, S's pairs) against the supervised one. 0 leaves D a
   * supervised classifier of image ⊕ mask. Default 1 (improved-GAN).
   */
  unsupervisedWeight?: number;
}

/**
 * L_D = CE over the K real classes on class-labeled pairs + λ_unsup · [− mean log(1 − p_D(K | x, y)) over pairs
 * with a true mask − mean log p_D(K | x, S(x)) over all images] (λ_unsup = `unsupervisedWeight`, default 1). With
 * one-sided label smoothing s (`realTarget` = 1 − s) the real-pair term becomes −[(1−s) log(1 − p_K) + s log p_K].
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { discriminatorLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const l = tf.tensor2d([[2, 0, -2]]);
 * const one = tf.ones([1]) as tf.Tensor1D;
 * const out = discriminatorLoss({ logitsLabeledPairs: l, logitsReal: l, logitsFake: l, labels: tf.tensor1d([0], "int32"), hasLabel: one, hasMask: one, valid: one });
 * assert.deepEqual(out.total.shape, []);
 * const supervisedOnly = discriminatorLoss({ logitsLabeledPairs: l, logitsReal: l, logitsFake: l, labels: tf.tensor1d([0], "int32"), hasLabel: one, hasMask: one, valid: one, unsupervisedWeight: 0 });
 * assert.equal((await supervisedOnly.total.data())[0], (await supervisedOnly.supervised.data())[0]);
 * ```
 * @param i logits, labels and per-sample weights
 * @returns the total and each term
 */
export function discriminatorLoss(i: DiscriminatorLossInputs): {
  total: tf.Scalar;
  supervised: tf.Scalar;
  real: tf.Scalar;
  fake: tf.Scalar;
} {
  return tf.tidy(() => {
    const t = i.realTarget ?? 1;
    const w = i.unsupervisedWeight ?? 1;
    if (!(w >= 0)) throw new RangeError(`discriminatorLoss: unsupervisedWeight must be ≥ 0, got ${w}`);
    const wLab = tf.mul(i.hasLabel, i.valid) as tf.Tensor1D;
    const wMask = tf.mul(i.hasMask, i.valid) as tf.Tensor1D;
    const supervised = weightedMean(realClassCrossEntropy(i.logitsLabeledPairs, i.labels, true), wLab);
    const r = fakeLogProbs(i.logitsReal);
    const realTerm = t >= 1 ? tf.neg(r.logReal) : tf.neg(tf.add(tf.mul(r.logReal, t), tf.mul(r.logFake, 1 - t)));
    const real = weightedMean(realTerm as tf.Tensor1D, wMask);
    const fake = weightedMean(tf.neg(fakeLogProbs(i.logitsFake).logFake) as tf.Tensor1D, i.valid);
    const total = tf.add(supervised, tf.mul(tf.add(real, fake), w)) as tf.Scalar;
    return { total, supervised, real, fake };
  });
}

/**
 * The segmentor's adversarial term (non-saturating): − mean log(1 − p_D(K | x, S(x))) over valid images.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { segmentorAdversarialLoss } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const out = segmentorAdversarialLoss(tf.tensor2d([[0, 0, 0]]), tf.ones([1]) as tf.Tensor1D);
 * assert.equal((await out.data())[0].toFixed(4), "0.4055");
 * ```
 * @param logitsFake D logits on x ⊕ S(x)
 * @param valid `[B]` sample weights
 * @returns scalar
 */
export function segmentorAdversarialLoss(logitsFake: tf.Tensor2D, valid: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => weightedMean(tf.neg(fakeLogProbs(logitsFake).logReal) as tf.Tensor1D, valid));
}

/**
 * Class probabilities over the K real classes from D's logits (softmax over the first K), `[B, K]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { realClassProbabilities } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const p = realClassProbabilities(tf.tensor2d([[0, 0, 9]]), true);
 * assert.deepEqual(Array.from(await p.data()), [0.5, 0.5]);
 * ```
 * @param logits `[B, K+1]` or `[B, K]`
 * @param fakeClass whether the last column is the extra class
 * @returns `[B, K]`
 */
export function realClassProbabilities(logits: tf.Tensor2D, fakeClass: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const k = fakeClass ? logits.shape[1] - 1 : logits.shape[1];
    return tf.softmax(fakeClass ? tf.slice(logits, [0, 0], [-1, k]) : logits) as tf.Tensor2D;
  });
}
