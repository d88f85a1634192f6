/**
 * The workloads shared by the model benchmarks: S forward, S forward+backward (KLTV) and the full APPAU-Net
 * mtl train step (the trainer's `ganTrainStep`: D step then S step), on random data with fixed shapes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createAdam, createDiscriminator, createSegmentor, ganTrainStep, kltvLoss, kltvLossPerImage } from "../mod.ts";

/** The three workloads of one configuration. */
export interface Workloads {
  /** S inference. */
  forward(): Promise<void>;
  /** One S optimisation step on KLTV. */
  forwardBackward(): Promise<void>;
  /** One full mtl step: D step (S frozen) then S step (D frozen). */
  mtlStep(): Promise<void>;
}

/**
 * Builds S, D, optimizers and a random batch.
 *
 * @param size image side
 * @param base base filters of S and D
 * @param depth depth of S and D
 * @param batch batch size
 * @returns the workloads
 */
export function makeWorkloads(size: number, base: number, depth: number, batch: number): Workloads {
  const S = createSegmentor({ size, baseFilters: base, depth, seed: 1 });
  const D = createDiscriminator({ size, baseFilters: base, depth, seed: 2 });
  const optS = createAdam(2e-4, 0.5), optD = createAdam(2e-4, 0.5);
  const x = tf.randomUniform([batch, size, size, 1], 0, 1, "float32", 1);
  const y = tf.tidy(() => tf.cast(tf.greater(x, 0.5), "float32"));
  const one = tf.ones([batch]) as tf.Tensor1D, labels = tf.zeros([batch], "int32") as tf.Tensor1D;
  const sv = S.trainableWeights.map((w) => w.read() as tf.Variable);
  const gan = { images: x as tf.Tensor4D, masks: y as tf.Tensor4D, hasMask: one, labels, hasLabel: one, valid: one };
  return {
    async forward() {
      const p = S.apply(x, { training: false }) as tf.Tensor;
      await p.data();
      p.dispose();
    },
    async forwardBackward() {
      const l = optS.minimize(() => kltvLoss(y, S.apply(x, { training: true }) as tf.Tensor), true, sv)!;
      await l.data();
      l.dispose();
    },
    async mtlStep() {
      const l = ganTrainStep({ segmentor: S, discriminator: D, optS, optD }, gan, { segLoss: kltvLossPerImage });
      await l.s.data();
      tf.dispose(Object.values(l));
    },
  };
}
