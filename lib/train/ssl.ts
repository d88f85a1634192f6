/**
 * Semi-supervised classification beyond the paper's GAN objective, for `mode: "cls"` (`--ssl <method>`): the
 * classifier learns from every train image, labeled or not, with an exponential-moving-average (EMA) teacher.
 *
 * Every method draws each step's batch of `batchSize` images from the *labeled* train images only (seeded rounds
 * through them), and `ratio × batchSize` images from all train images as unlabeled (labels ignored, as in FixMatch),
 * and evaluates and saves the EMA teacher (decay `emaDecay`) as the model; the student is kept in checkpoints for
 * `--resume`.
 *
 * - `supervised`: labeled batches and the EMA teacher, no unlabeled term: the fair supervised baseline (the default
 *   `none` draws batches from all train images, so at 10 % labels a batch of 8 holds 0.8 labeled images).
 * - `fixmatch` (Sohn et al., NeurIPS 2020, arXiv:2001.07685; teacher variant): the EMA teacher labels a weakly
 *   augmented view of each unlabeled image; where its top probability is ≥ `threshold`, the student learns that
 *   label on a strongly augmented view ({@linkcode augmentStrong}). Unsupervised loss: the masked cross-entropy
 *   averaged over all unlabeled images of the batch, weight `weight`.
 * - `meanteacher` (Tarvainen & Valpola, NeurIPS 2017, arXiv:1703.01780): the squared distance between the student's
 *   class probabilities on the strong view and the teacher's on the weak view, weight `weight` ramped up with
 *   exp(−5 (1 − t)²) over the first 5 epochs' steps; no threshold.
 * - `pseudolabel` (Lee, ICML-W 2013, with an EMA teacher): as fixmatch, but the student sees another weak view
 *   instead of a strong one (self-training without strong augmentation).
 * - `maskaux` (multi-task learning with an auxiliary task, Caruana 1997; the masks shape the classifier's features):
 *   a light decoder on the classifier's last feature map ({@linkcode createMaskHead}) predicts the lung mask of every
 *   image that has one, labeled or not; loss = cross-entropy on the labeled images + `weight` × per-image
 *   cross-entropy of the masks. The head is used in training only; the saved model is the classifier.
 *
 * Over 400 lines: the five semi-supervised methods share their batches, teacher and step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { augmentPair, augmentStrong } from "../data/augment.ts";
import type { Sample } from "../data/dataset.ts";
import { createRng } from "../data/rng.ts";
import { realClassCrossEntropy, weightedMean } from "../losses/gan.ts";
import { perImageLossByName } from "../losses/by_name.ts";

/**
 * The values of `ssl` (`--ssl`), `none` first (the default: the plain supervised classifier of the paper's
 * comparison).
 *
 * @example
 * ```ts
 * import { SSL_METHODS } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.deepEqual(SSL_METHODS, ["none", "supervised", "fixmatch", "meanteacher", "pseudolabel", "maskaux"]);
 * ```
 */
export const SSL_METHODS: readonly SslMethod[] = [
  "none",
  "supervised",
  "fixmatch",
  "meanteacher",
  "pseudolabel",
  "maskaux",
];

/** One of {@linkcode SSL_METHODS}. */
export type SslMethod = "none" | "supervised" | "fixmatch" | "meanteacher" | "pseudolabel" | "maskaux";

/** What an SSL step needs to know of the run. */
export interface SslStepOptions {
  /** The method (not `none`). */
  method: Exclude<SslMethod, "none">;
  /** Confidence threshold τ of `fixmatch` and `pseudolabel`, in (0, 1]. */
  threshold: number;
  /** Weight λ_u of the unsupervised loss (≥ 0). */
  weight: number;
  /** 0-based global step (ramps up `meanteacher`'s weight). */
  step: number;
  /** Steps over which `meanteacher`'s weight ramps up (0: no ramp). */
  rampSteps: number;
}

/** One step's inputs: a labeled batch and two views of the unlabeled images. The caller disposes it. */
export interface SslBatch {
  /** `[B, H, W, 1]` weakly augmented labeled images. */
  images: tf.Tensor4D;
  /** `[B]` int32 labels. */
  labels: tf.Tensor1D;
  /** `[μB, H, W, 1]` weak views of the unlabeled images (absent for `supervised`). */
  weak?: tf.Tensor4D;
  /** `[μB, H, W, 1]` the student's views: strong (`fixmatch`, `meanteacher`) or a second weak one (`pseudolabel`). */
  student?: tf.Tensor4D;
  /** `maskaux`: `[B + μB, H, W, 1]` the masks of the labeled then the unlabeled images (zeros where unknown). */
  masks?: tf.Tensor4D;
  /** `maskaux`: `[B + μB]` 1 where the mask is known. */
  hasMask?: tf.Tensor1D;
  /** Frees the tensors. */
  dispose(): void;
}

/** Options of {@linkcode sslBatches}. */
export interface SslBatchOptions {
  /** The method (not `none`). */
  method: Exclude<SslMethod, "none">;
  /** Labeled images per step. */
  batchSize: number;
  /** Unlabeled images per labeled image (μ). */
  ratio: number;
  /** Steps per epoch. */
  steps: number;
  /** Run seed. */
  seed: number;
  /** 0-based epoch. */
  epoch: number;
  /** Batches of this epoch to skip (resume). Default 0. */
  skip?: number;
  /** Augment the views (off: the weak views are the images as they are; the strong views still differ). */
  augment: boolean;
  /** Clamp augmented values to [0, 1] (off for z-scored images). */
  clamp: boolean;
}

/**
 * The sample at a position of an endless sequence of seeded rounds through `pool` (each round a new shuffle).
 *
 * @param pool the samples
 * @param pos 0-based position in the sequence
 * @param seed run seed
 * @param tag distinguishes sequences drawn from the same seed
 * @param rounds cache of shuffles by round
 * @returns the sample
 */
function inRounds(pool: Sample[], pos: number, seed: number, tag: number, rounds: Map<number, number[]>): Sample {
  const r = Math.floor(pos / pool.length);
  let order = rounds.get(r);
  if (!order) {
    order = createRng(seed, r, tag).shuffle(pool.map((_, i) => i));
    rounds.set(r, order);
  }
  return pool[order[pos % pool.length]];
}

/**
 * The seeded batches of one epoch of semi-supervised training: each a labeled batch (rounds through `labeled`) and
 * the unlabeled views (rounds through `all`). Batch `b` of epoch `e` depends only on (seed, e, b), so that a resumed
 * run sees the same batches.
 *
 * @example
 * ```ts
 * import { createRng, sslBatches } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const sample = (i: number, label: number | null) => ({
 *   id: `s${i}`, image: new Float32Array(16 * 16).fill(i / 10), mask: null, label,
 * });
 * const all = Array.from({ length: 10 }, (_, i) => sample(i, i < 3 ? i % 2 : null));
 * const labeled = all.filter((s) => s.label !== null);
 * const opts = { method: "fixmatch" as const, batchSize: 2, ratio: 2, steps: 3, seed: 0, epoch: 0, augment: true, clamp: true };
 * // deno-lint-ignore no-explicit-any
 * const batches = [...sslBatches(labeled as any, all as any, 16, opts)];
 * assert.equal(batches.length, 3);
 * assert.deepEqual(batches[0].images.shape, [2, 16, 16, 1]);
 * assert.deepEqual(batches[0].student!.shape, [4, 16, 16, 1]);
 * for (const b of batches) b.dispose();
 * ```
 * @param labeled train samples with a class label (non-empty)
 * @param all every train sample (the unlabeled pool)
 * @param size image side
 * @param o options
 * @returns a generator of batches; the caller disposes each
 */
export function* sslBatches(
  labeled: Sample[],
  all: Sample[],
  size: number,
  o: SslBatchOptions,
): Generator<SslBatch> {
  if (labeled.length === 0) throw new RangeError("sslBatches: no labeled sample");
  const px = size * size, B = o.batchSize, U = o.method === "supervised" ? 0 : Math.round(o.ratio * B);
  const roundsL = new Map<number, number[]>(), roundsU = new Map<number, number[]>();
  const withMasks = o.method === "maskaux";
  let masks: Float32Array | undefined, hasMask: Float32Array | undefined; // this batch's (maskaux)
  // The weak view of a sample; with `maskaux` its mask, transformed alike, goes to row `row` of the masks.
  const weakOf = (s: Sample, rngSeed: number[], row = -1) => {
    const a = o.augment
      ? augmentPair(s.image, withMasks ? s.mask : null, size, createRng(...rngSeed), { clamp: o.clamp })
      : { image: s.image, mask: s.mask };
    if (masks && hasMask && row >= 0 && a.mask) {
      masks.set(a.mask, row * px);
      hasMask[row] = 1;
    }
    return a.image;
  };
  for (let b = o.skip ?? 0; b < o.steps; b++) {
    const g = o.epoch * o.steps + b;
    const img = new Float32Array(B * px), labels = new Int32Array(B);
    if (withMasks) [masks, hasMask] = [new Float32Array((B + U) * px), new Float32Array(B + U)];
    for (let k = 0; k < B; k++) {
      const s = inRounds(labeled, g * B + k, o.seed, 0x1abe1, roundsL);
      img.set(weakOf(s, [o.seed, g, k, 0x3ea1], k), k * px);
      labels[k] = s.label!;
    }
    const weak = new Float32Array(U * px), stud = new Float32Array(U * px);
    for (let k = 0; k < U; k++) {
      const s = inRounds(all, g * U + k, o.seed, 0x0a11, roundsU);
      weak.set(weakOf(s, [o.seed, g, k, 0x3ea2], B + k), k * px);
      if (withMasks) continue;
      stud.set(
        o.method === "pseudolabel"
          ? weakOf(s, [o.seed, g, k, 0x3ea3])
          : augmentStrong(s.image, size, createRng(o.seed, g, k, 0x5a0), o.clamp),
        k * px,
      );
    }
    const batch: SslBatch = {
      images: tf.tensor4d(img, [B, size, size, 1]),
      labels: tf.tensor1d(labels, "int32"),
      ...(U > 0 ? { weak: tf.tensor4d(weak, [U, size, size, 1]) } : {}),
      ...(U > 0 && !withMasks ? { student: tf.tensor4d(stud, [U, size, size, 1]) } : {}),
      ...(masks && hasMask ? { masks: tf.tensor4d(masks, [B + U, size, size, 1]), hasMask: tf.tensor1d(hasMask) } : {}),
      dispose() {
        tf.dispose(
          [batch.images, batch.labels, batch.weak, batch.student, batch.masks, batch.hasMask].filter((t) =>
            t !== undefined
          ) as tf.Tensor[],
        );
      },
    };
    yield batch;
  }
}

/**
 * An exponential moving average of a model's weights (trainable and batch-norm statistics alike):
 * θ_teacher ← d θ_teacher + (1 − d) θ_student after every step.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { EmaTeacher } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const make = () => tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1], kernelInitializer: "zeros" })] });
 * const student = make();
 * const ema = new EmaTeacher(student, make());
 * student.setWeights([tf.ones([1, 1]), tf.ones([1])]);
 * ema.update(0.9);
 * assert.equal(((await ema.model.getWeights()[0].data())[0]).toFixed(2), "0.10");
 * ema.dispose(); student.dispose();
 * ```
 */
export class EmaTeacher {
  /** The teacher network (same architecture as the student). */
  readonly model: tf.LayersModel;
  private readonly student: tf.LayersModel;

  /**
   * Creates the teacher as a copy of the student.
   *
   * @param student the network being trained
   * @param twin a fresh network of the same architecture; it starts as a copy of the student and becomes the teacher
   */
  constructor(student: tf.LayersModel, twin: tf.LayersModel) {
    if (student.weights.length !== twin.weights.length) {
      throw new RangeError(
        `EmaTeacher: the twin has ${twin.weights.length} weights, the student ${student.weights.length}`,
      );
    }
    this.student = student;
    this.model = twin;
    this.copyFromStudent();
  }

  /** Sets the teacher to the student's weights. */
  copyFromStudent(): void {
    tf.tidy(() => {
      this.student.weights.forEach((w, i) => (this.model.weights[i].read() as tf.Variable).assign(w.read()));
    });
  }

  /**
   * One EMA step.
   *
   * @param decay d in [0, 1): the teacher keeps this share of itself
   */
  update(decay: number): void {
    tf.tidy(() => {
      this.student.weights.forEach((w, i) => {
        const t = this.model.weights[i].read() as tf.Variable;
        t.assign(tf.add(tf.mul(t, decay), tf.mul(w.read(), 1 - decay)));
      });
    });
  }

  /** Frees the teacher network. */
  dispose(): void {
    this.model.dispose();
  }
}

/**
 * The classifier with a mask decoder on its last feature map (the layer `disc_lrelu_<depth − 1>` of
 * `createDiscriminator`): `depth` × (bilinear 2× upsampling, 3×3 conv, ReLU), halving the filters, then a 1×1 conv
 * and a sigmoid, back at the input size. The returned model shares the classifier's layers (training it trains the
 * classifier) and outputs `[logits, mask]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createDiscriminator, createMaskHead } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const cls = createDiscriminator({ size: 32, depth: 2, baseFilters: 4, channels: 1, fakeClass: false });
 * const joint = createMaskHead(cls, { depth: 2, seed: 1 });
 * const [logits, mask] = joint.predict(tf.zeros([1, 32, 32, 1])) as tf.Tensor[];
 * assert.deepEqual([logits.shape, mask.shape], [[1, 2], [1, 32, 32, 1]]);
 * assert.ok(cls.weights.every((w) => joint.weights.includes(w))); // shared layers
 * tf.dispose([logits, mask]);
 * joint.dispose();
 * ```
 * @param classifier a classifier from `createDiscriminator` (one input channel, no fake class)
 * @param o its depth (default 4) and a seed for the head's initializers
 * @returns the joint model
 */
export function createMaskHead(classifier: tf.LayersModel, o: { depth?: number; seed?: number } = {}): tf.LayersModel {
  const depth = o.depth ?? 4;
  let x = classifier.getLayer(`disc_lrelu_${depth - 1}`).output as tf.SymbolicTensor;
  let filters = Math.max(4, (x.shape[3] ?? 16) / 2);
  for (let k = 0; k < depth; k++) {
    x = tf.layers.upSampling2d({ size: [2, 2], interpolation: "bilinear", name: `maskhead_up_${k}` }).apply(
      x,
    ) as tf.SymbolicTensor;
    x = tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      kernelInitializer: tf.initializers.heNormal({ seed: o.seed === undefined ? undefined : o.seed * 1000 + 900 + k }),
      name: `maskhead_conv_${k}`,
    }).apply(x) as tf.SymbolicTensor;
    filters = Math.max(4, filters / 2);
  }
  const mask = tf.layers.conv2d({
    filters: 1,
    kernelSize: 1,
    activation: "sigmoid",
    kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed === undefined ? undefined : o.seed * 1000 + 999 }),
    name: "maskhead_mask",
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: classifier.inputs, outputs: [classifier.outputs[0], mask], name: "classifier_maskhead" });
}

/**
 * The weight of the unsupervised loss at a step: `weight`, ramped up for `meanteacher` with exp(−5 (1 − t)²),
 * t = step / rampSteps (Laine & Aila 2017).
 *
 * @example
 * ```ts
 * import { unsupervisedWeight } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const o = { method: "meanteacher" as const, threshold: 0.8, weight: 10, step: 0, rampSteps: 100 };
 * assert.ok(unsupervisedWeight(o) < 0.1);
 * assert.equal(unsupervisedWeight({ ...o, step: 100 }), 10);
 * assert.equal(unsupervisedWeight({ ...o, method: "fixmatch" }), 10);
 * ```
 * @param o the step's options
 * @returns λ_u at this step
 */
export function unsupervisedWeight(o: SslStepOptions): number {
  if (o.method !== "meanteacher" || o.rampSteps <= 0) return o.weight;
  const t = Math.min(1, o.step / o.rampSteps);
  return o.weight * Math.exp(-5 * (1 - t) ** 2);
}

/**
 * One semi-supervised step of the classifier: the supervised cross-entropy on the labeled images plus λ_u times the
 * method's unsupervised loss, minimised for the student, then the EMA update of the teacher.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { EmaTeacher, sslStep } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const make = () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2 })] });
 * const student = make(), teacher = new EmaTeacher(student, make()), opt = tf.train.adam(0.01);
 * const batch = {
 *   images: tf.randomUniform([2, 4, 4, 1]) as tf.Tensor4D, labels: tf.tensor1d([0, 1], "int32"),
 *   weak: tf.randomUniform([4, 4, 4, 1]) as tf.Tensor4D, student: tf.randomUniform([4, 4, 4, 1]) as tf.Tensor4D,
 *   dispose() {},
 * };
 * const o = { method: "fixmatch" as const, threshold: 0, weight: 1, step: 0, rampSteps: 0 };
 * tf.dispose(Object.values(sslStep(student, teacher, opt, batch, o, 0.99))); // creates Adam's moments
 * const before = tf.memory().numTensors;
 * const out = sslStep(student, teacher, opt, batch, o, 0.99);
 * assert.equal((await out.confident.data())[0], 1); // threshold 0: every unlabeled image counts
 * tf.dispose(Object.values(out));
 * assert.equal(tf.memory().numTensors, before); // leak-free
 * ```
 * @param student the classifier being trained (logits `[B, K]`)
 * @param teacher its EMA teacher
 * @param opt the student's optimizer
 * @param batch the step's inputs
 * @param o method, threshold, weight, step
 * @param emaDecay the teacher's decay
 * @param joint `maskaux`: the classifier with its mask head ({@linkcode createMaskHead}), trained in place of `student`
 * @returns scalars `cls` (supervised loss), `unsup` (unsupervised loss, unweighted: the mask cross-entropy for
 *   `maskaux`) and `confident` (share of unlabeled images above the threshold; 1 for meanteacher) or, for `maskaux`,
 *   `withMask` (share of the step's images with a mask); the caller disposes them
 */
export function sslStep(
  student: tf.LayersModel,
  teacher: EmaTeacher,
  opt: tf.Optimizer,
  batch: SslBatch,
  o: SslStepOptions,
  emaDecay: number,
  joint?: tf.LayersModel,
): Record<string, tf.Scalar> {
  const lu = unsupervisedWeight(o);
  if (o.method === "maskaux") {
    if (!joint || !batch.masks || !batch.hasMask) {
      throw new RangeError("sslStep: maskaux needs the joint model and masks");
    }
    return maskAuxStep(joint, teacher, opt, batch, lu, emaDecay);
  }
  const targets = batch.weak && o.method !== "supervised"
    ? tf.tidy(() => tf.softmax(teacher.model.apply(batch.weak!, { training: false }) as tf.Tensor2D) as tf.Tensor2D)
    : undefined;
  const kept: Record<string, tf.Scalar> = {};
  const vars = student.trainableWeights.map((w) => w.read() as tf.Variable);
  const total = opt.minimize(
    () => {
      const logitsL = student.apply(batch.images, { training: true }) as tf.Tensor2D;
      const sup = tf.mean(realClassCrossEntropy(logitsL, batch.labels, false)) as tf.Scalar;
      kept.cls = tf.keep(sup.clone());
      if (!targets) return sup;
      const logitsU = student.apply(batch.student!, { training: true }) as tf.Tensor2D;
      let unsup: tf.Scalar;
      if (o.method === "meanteacher") {
        unsup = tf.mean(tf.sum(tf.squaredDifference(tf.softmax(logitsU), targets), 1)) as tf.Scalar;
        kept.confident = tf.keep(tf.scalar(1));
      } else {
        const conf = tf.cast(tf.greaterEqual(tf.max(targets, 1), o.threshold), "float32") as tf.Tensor1D;
        const pseudo = tf.argMax(targets, 1) as tf.Tensor1D;
        unsup = tf.mean(tf.mul(realClassCrossEntropy(logitsU, pseudo, false), conf)) as tf.Scalar;
        kept.confident = tf.keep(tf.mean(conf) as tf.Scalar);
      }
      kept.unsup = tf.keep(unsup.clone());
      return tf.add(sup, tf.mul(unsup, lu)) as tf.Scalar;
    },
    false,
    vars,
  );
  total?.dispose();
  targets?.dispose();
  teacher.update(emaDecay);
  return kept;
}

const maskXe = perImageLossByName("xe");

/** The `maskaux` step: cross-entropy on the labeled images + λ × mask cross-entropy on every image with a mask. */
function maskAuxStep(
  joint: tf.LayersModel,
  teacher: EmaTeacher,
  opt: tf.Optimizer,
  batch: SslBatch,
  lu: number,
  emaDecay: number,
): Record<string, tf.Scalar> {
  const kept: Record<string, tf.Scalar> = {};
  const B = batch.images.shape[0];
  const total = opt.minimize(
    () => {
      const x = batch.weak ? tf.concat([batch.images, batch.weak], 0) : batch.images;
      const [logits, mask] = joint.apply(x, { training: true }) as tf.Tensor[];
      const sup = tf.mean(
        realClassCrossEntropy(tf.slice(logits, [0, 0], [B, -1]) as tf.Tensor2D, batch.labels, false),
      ) as tf.Scalar;
      const seg = weightedMean(maskXe(batch.masks!, mask), batch.hasMask!);
      kept.cls = tf.keep(sup.clone());
      kept.unsup = tf.keep(seg.clone());
      kept.withMask = tf.keep(tf.mean(batch.hasMask!) as tf.Scalar);
      return tf.add(sup, tf.mul(seg, lu)) as tf.Scalar;
    },
    false,
    joint.trainableWeights.map((w) => w.read() as tf.Variable),
  );
  total?.dispose();
  teacher.update(emaDecay);
  return kept;
}
