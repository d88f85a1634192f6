/**
 * The workloads shared by the model benchmarks: S forward, S forward+backward (KLTV) and the full APPAU-Net
 * mtl train step (D step then S step), on random data with fixed shapes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createDiscriminator, createSegmentor, discriminatorLoss, kltvLoss, segmentorAdversarialLoss } from "../mod.ts";

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
  const optS = tf.train.adam(2e-4, 0.5), optD = tf.train.adam(2e-4, 0.5);
  const x = tf.randomUniform([batch, size, size, 1], 0, 1, "float32", 1);
  const y = tf.tidy(() => tf.cast(tf.greater(x, 0.5), "float32"));
  const one = tf.ones([batch]) as tf.Tensor1D, labels = tf.zeros([batch], "int32") as tf.Tensor1D;
  const sv = S.trainableWeights.map((w) => w.read() as tf.Variable);
  const dv = D.trainableWeights.map((w) => w.read() as tf.Variable);
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
      const sx = tf.tidy(() => S.apply(x, { training: true }) as tf.Tensor);
      const dl = optD.minimize(
        () => {
          const r = D.apply(tf.concat([x, y], 3), { training: true }) as tf.Tensor2D;
          const f = D.apply(tf.concat([x, sx], 3), { training: true }) as tf.Tensor2D;
          return discriminatorLoss({
            logitsLabeledPairs: r,
            logitsReal: r,
            logitsFake: f,
            labels,
            hasLabel: one,
            hasMask: one,
            valid: one,
          })
            .total;
        },
        true,
        dv,
      )!;
      sx.dispose();
      const sl = optS.minimize(
        () => {
          const p = S.apply(x, { training: true }) as tf.Tensor;
          const adv = segmentorAdversarialLoss(D.apply(tf.concat([x, p], 3), { training: true }) as tf.Tensor2D, one);
          return tf.add(kltvLoss(y, p), tf.mul(adv, 0.1)) as tf.Scalar;
        },
        true,
        sv,
      )!;
      await sl.data();
      tf.dispose([dl, sl]);
    },
  };
}
