/**
 * One APPAU-Net semi-supervised multi-task GAN step: `dSteps` discriminator steps (S frozen, S(x) detached), then
 * one segmentor step (D frozen, after its update). S's forward pass runs once per step and serves both (S does not
 * change during the D steps), so S's BatchNorm moving statistics are updated once per step, as in a Keras
 * `train_on_batch`. The trainer, the benchmarks and the kernel tests all run this one function.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { discriminatorLoss, segmentorAdversarialLoss, weightedMean } from "../losses/gan.ts";

/** The networks and their optimizers. */
export interface GanNets {
  /** Segmentor S. */
  segmentor: tf.LayersModel;
  /** Discriminator D (K + 1 logits). */
  discriminator: tf.LayersModel;
  /** Optimizer of S. */
  optS: tf.Optimizer;
  /** Optimizer of D. */
  optD: tf.Optimizer;
}

/** One batch, fixed shape; per-sample weights say which terms a sample takes part in. */
export interface GanBatch {
  /** `[B, H, W, 1]` images. */
  images: tf.Tensor4D;
  /** `[B, H, W, 1]` true masks (zeros where unknown), for the segmentation loss. */
  masks: tf.Tensor4D;
  /** `[B, H, W, 1]` the true masks as D sees them (e.g. with noise). Default: `masks`. */
  realMasks?: tf.Tensor;
  /** `[B]` 1 where the mask is known. */
  hasMask: tf.Tensor1D;
  /** `[B]` int32 labels (0 where unknown). */
  labels: tf.Tensor1D;
  /** `[B]` 1 where the label is known. */
  hasLabel: tf.Tensor1D;
  /** `[B]` 1 for real samples, 0 for padding. */
  valid: tf.Tensor1D;
}

/** Loss weights and step options. */
export interface GanStepOptions {
  /** Per-image segmentation loss `(y, ŷ) → [B]`. */
  segLoss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;
  /** λ_seg. Default 1. */
  lambdaSeg?: number;
  /** λ_adv. Default 0.1. */
  lambdaAdv?: number;
  /** λ_unsup: weight of D's unsupervised terms (real pairs, S's pairs) against its supervised one. Default 1. */
  lambdaUnsup?: number;
  /** One-sided label smoothing of D's real-pair target. Default 0. */
  labelSmoothing?: number;
  /** D steps per S step. Default 1. */
  dSteps?: number;
}

function vars(m: tf.LayersModel): tf.Variable[] {
  return m.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * Runs one GAN step and returns the scalar losses of the last D step and of the S step (`d`, `dSup`, `dReal`,
 * `dFake`, `s`, `seg`, `adv`); the caller disposes them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createDiscriminator, createSegmentor, ganTrainStep, kltvLossPerImage } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const nets = {
 *   segmentor: createSegmentor({ size: 16, depth: 1, baseFilters: 2 }),
 *   discriminator: createDiscriminator({ size: 16, depth: 1, baseFilters: 2 }),
 *   optS: tf.train.adam(1e-3),
 *   optD: tf.train.adam(1e-3),
 * };
 * const one = tf.ones([2]) as tf.Tensor1D;
 * const out = ganTrainStep(nets, {
 *   images: tf.zeros([2, 16, 16, 1]), masks: tf.zeros([2, 16, 16, 1]),
 *   hasMask: one, labels: tf.tensor1d([0, 1], "int32"), hasLabel: one, valid: one,
 * }, { segLoss: kltvLossPerImage });
 * assert.equal(Object.keys(out).sort().join(), "adv,d,dFake,dReal,dSup,s,seg");
 * ```
 * @param nets S, D and their optimizers
 * @param batch images, masks, labels and per-sample weights
 * @param opts loss function and weights
 * @returns scalar losses
 */
export function ganTrainStep(nets: GanNets, batch: GanBatch, opts: GanStepOptions): Record<string, tf.Scalar> {
  const { segmentor: S, discriminator: D } = nets;
  const { images, masks, hasMask, labels, hasLabel, valid } = batch;
  const realMasks = batch.realMasks ?? masks;
  const dSteps = opts.dSteps ?? 1, lambdaSeg = opts.lambdaSeg ?? 1, lambdaAdv = opts.lambdaAdv ?? 0.1;
  const out: Record<string, tf.Scalar> = {};
  const dStep = (sx: tf.Tensor, k: number) => {
    const dl = nets.optD.minimize(
      () => {
        const logitsReal = D.apply(tf.concat([images, realMasks], 3), { training: true }) as tf.Tensor2D;
        const logitsFake = D.apply(tf.concat([images, sx], 3), { training: true }) as tf.Tensor2D;
        // Labeled pairs use the true mask where known, else S(x): the same rows of the two passes.
        const logitsLabeledPairs = tf.where(
          tf.cast(tf.reshape(hasMask, [-1, 1]), "bool"),
          logitsReal,
          logitsFake,
        ) as tf.Tensor2D;
        const l = discriminatorLoss({
          logitsLabeledPairs,
          logitsReal,
          logitsFake,
          labels,
          hasLabel,
          hasMask,
          valid,
          realTarget: 1 - (opts.labelSmoothing ?? 0),
          unsupervisedWeight: opts.lambdaUnsup ?? 1,
        });
        if (k === dSteps - 1) {
          out.dSup = tf.keep(l.supervised);
          out.dReal = tf.keep(l.real);
          out.dFake = tf.keep(l.fake);
        }
        return l.total;
      },
      true,
      vars(D),
    )!;
    if (k === dSteps - 1) out.d = tf.keep(dl);
    else dl.dispose();
  };
  const maskW = tf.tidy(() => tf.mul(hasMask, valid)) as tf.Tensor1D;
  // S's weights do not change during the D steps, so S(x) (training mode: batch statistics) is the same tensor in
  // the D steps and in the S step: it is computed once, inside the S step's gradient tape, and the D steps run on
  // it before the S step's losses are taken (with the updated D). The D steps' gradients only flow to D's
  // variables; the S gradient only follows the S step's loss. (S's saved activations are held while the D steps run:
  // peak memory is that of the S step plus a D step.)
  out.s = nets.optS.minimize(
    () => {
      const p = S.apply(images, { training: true }) as tf.Tensor;
      for (let k = 0; k < dSteps; k++) dStep(p, k);
      const seg = weightedMean(opts.segLoss(masks, p), maskW);
      const adv = segmentorAdversarialLoss(
        D.apply(tf.concat([images, p], 3), { training: true }) as tf.Tensor2D,
        valid,
      );
      out.seg = tf.keep(seg.clone());
      out.adv = tf.keep(adv.clone());
      return tf.add(tf.mul(seg, lambdaSeg), tf.mul(adv, lambdaAdv)) as tf.Scalar;
    },
    true,
    vars(S),
  )!;
  maskW.dispose();
  return out;
}
