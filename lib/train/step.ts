/**
 * One training step of a run, shared by the trainer and the shader warm-up worker (which runs the same step on
 * zeros to learn which shaders the first real step will compile): the networks and optimizers a mode needs, and
 * the step itself.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/dataset.ts";
import { createRng } from "../data/rng.ts";
import { createDiscriminator } from "../model/discriminator.ts";
import { createSegmentor } from "../model/segmentor.ts";
import { createAppauNet } from "../model/appaunet.ts";
import { createAdam } from "./adam.ts";
import type { ResolvedTrainOptions } from "./config.ts";
import { ganTrainStep } from "./gan_step.ts";
import { realClassCrossEntropy, weightedMean } from "../losses/gan.ts";
import { perImageLossByName, type PerImageLossFn } from "../losses/by_name.ts";

/** The networks and optimizers of a run: S and its optimizer unless `cls`, D and its optimizer unless `seg`. */
export interface Nets {
  /** The segmentor (absent in cls mode). */
  segmentor?: tf.LayersModel;
  /** The discriminator (mtl), or the classifier (cls); absent in seg mode. */
  discriminator?: tf.LayersModel;
  /** Adam for S. */
  optS?: tf.AdamOptimizer;
  /** Adam for D. */
  optD?: tf.AdamOptimizer;
}

/** The tensors of a batch that a step reads. */
export type StepBatch = Pick<Batch, "images" | "masks" | "hasMask" | "labels" | "hasLabel" | "valid">;

/**
 * Builds the networks and optimizers of a run (internal; the trainer and the warm-up worker build the same ones).
 *
 * @example
 * ```ts
 * import { initBackend } from "../runtime/backend.ts";
 * import { resolveTrainOptions } from "./config.ts";
 * import { buildNets, disposeNets } from "./step.ts";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const c = resolveTrainOptions({
 *   data: "fixtures/phantoms/manifest.csv",
 *   out: "runs/x",
 *   mode: "seg",
 *   size: 32,
 *   segmentor: { depth: 2, baseFilters: 4 },
 * });
 * const nets = buildNets(c, 2);
 * assert.equal(nets.discriminator === undefined, true);
 * disposeNets(nets);
 * ```
 * @param c the run's resolved options
 * @param numClasses number of real disease classes
 * @returns the networks and optimizers the mode needs
 */
export function buildNets(c: ResolvedTrainOptions, numClasses: number): Nets {
  const nets: Nets = {};
  if (c.mode === "mtl") {
    // APPAU-Net: the pair createAppauNet builds (S without deep supervision; D on image ⊕ mask with the fake class).
    const net = createAppauNet({
      size: c.size,
      numClasses,
      seed: c.seed,
      segmentor: { ...c.segmentor, deepSupervision: false },
      discriminator: { ...c.discriminator },
    });
    nets.segmentor = net.segmentor;
    nets.discriminator = net.discriminator;
    nets.optS = createAdam(c.lr, c.beta1, 0.999, 1e-7);
    nets.optD = createAdam(c.lr, c.beta1, 0.999, 1e-7);
    return nets;
  }
  if (c.mode === "seg") {
    nets.segmentor = createSegmentor({ ...c.segmentor, size: c.size, seed: c.seed, deepSupervision: false });
    nets.optS = createAdam(c.lr, c.beta1, 0.999, 1e-7);
  } else {
    nets.discriminator = buildClassifier(c, numClasses);
    nets.optD = createAdam(c.lr, c.beta1, 0.999, 1e-7);
  }
  return nets;
}

/**
 * The classifier of cls mode: D's trunk on the image alone with K logits (also the EMA teacher's twin).
 *
 * @param c the run's resolved options
 * @param numClasses number of classes
 * @returns a new classifier
 */
export function buildClassifier(c: ResolvedTrainOptions, numClasses: number): tf.LayersModel {
  return createDiscriminator({
    ...c.discriminator,
    size: c.size,
    seed: c.seed,
    numClasses,
    channels: 1,
    fakeClass: false,
  });
}

/**
 * The run's per-image segmentation loss: `loss` with the run's Tversky weights.
 *
 * @param c the run's resolved options
 * @returns `(yTrue, yPred) => [B]`
 */
export function segmentationLoss(c: ResolvedTrainOptions): PerImageLossFn {
  return perImageLossByName(c.loss, { alpha: c.tverskyAlpha, beta: c.tverskyBeta });
}

/**
 * Frees the networks and optimizers of {@linkcode buildNets}.
 *
 * @param nets the networks and optimizers
 */
export function disposeNets(nets: Nets): void {
  for (const m of [nets.segmentor, nets.discriminator]) m?.dispose();
  for (const o of [nets.optS, nets.optD]) o?.dispose();
}

/**
 * The trainable variables of a model.
 *
 * @param m the model
 * @returns its trainable weights as variables
 */
export function trainableVariables(m: tf.LayersModel): tf.Variable[] {
  return m.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * One optimisation step (one S step after `dSteps` D steps in mtl).
 *
 * @param c the run's resolved options
 * @param nets from {@linkcode buildNets}
 * @param segLoss per-image segmentation loss
 * @param batch the batch
 * @param epoch epoch index (seeds the real-mask noise)
 * @param b batch index in the epoch (seeds the real-mask noise)
 * @returns scalar losses (the caller disposes them)
 */
export function runStep(
  c: ResolvedTrainOptions,
  nets: Nets,
  segLoss: (t: tf.Tensor, p: tf.Tensor) => tf.Tensor1D,
  batch: StepBatch,
  epoch: number,
  b: number,
): Record<string, tf.Scalar> {
  const out: Record<string, tf.Scalar> = {};
  const { images, masks, hasMask, labels, hasLabel, valid } = batch;
  const maskW = tf.tidy(() => tf.mul(hasMask, valid)) as tf.Tensor1D;
  if (c.mode === "seg") {
    const S = nets.segmentor!;
    out.seg = nets.optS!.minimize(
      () => {
        const p = S.apply(images, { training: true }) as tf.Tensor;
        return weightedMean(segLoss(masks, p), maskW);
      },
      true,
      trainableVariables(S),
    )!;
  } else if (c.mode === "cls") {
    const D = nets.discriminator!;
    out.cls = nets.optD!.minimize(
      () => {
        const logits = D.apply(images, { training: true }) as tf.Tensor2D;
        return weightedMean(realClassCrossEntropy(logits, labels, false), tf.mul(hasLabel, valid) as tf.Tensor1D);
      },
      true,
      trainableVariables(D),
    )!;
  } else {
    // Real masks with noise (seeded): y → |y − u|, u ~ U(0, noise).
    const realMasks = tf.tidy(() => {
      if (c.realMaskNoise <= 0) return masks.clone();
      const u = tf.randomUniform(
        masks.shape,
        0,
        c.realMaskNoise,
        "float32",
        createRng(c.seed, epoch, b, 0x9015e).int(2 ** 31),
      );
      return tf.abs(tf.sub(masks, u));
    });
    Object.assign(
      out,
      ganTrainStep(
        { segmentor: nets.segmentor!, discriminator: nets.discriminator!, optS: nets.optS!, optD: nets.optD! },
        { ...batch, realMasks },
        {
          segLoss,
          lambdaSeg: c.lambdaSeg,
          lambdaAdv: c.lambdaAdv,
          lambdaUnsup: c.lambdaUnsup,
          labelSmoothing: c.labelSmoothing,
          dSteps: c.dSteps,
        },
      ),
    );
    realMasks.dispose();
  }
  maskW.dispose();
  return out;
}
