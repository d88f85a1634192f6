/**
 * Running S and D over a split: segmentation and classification metrics, and the predictions (for overlays).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DatasetSplit } from "../data/dataset.ts";
import { dicePerImage, jaccardPerImage, pixelAccuracyPerImage } from "../metrics/overlap.ts";
import { realClassProbabilities } from "../losses/gan.ts";
import {
  type ClassificationMetrics,
  classificationMetrics,
  type MeanStd,
  meanStd,
  median,
} from "../metrics/classification.ts";
import { calibrate, type Calibration } from "../checkpoint/calibration.ts";
import { fitCalibration } from "../metrics/calibration.ts";
import { cleanMask, countPieces } from "../data/postprocess.ts";
import { hausdorffDistance } from "../metrics/hausdorff.ts";

/** Metrics of one split. */
export interface SplitMetrics {
  /** Number of images. */
  n: number;
  /** Segmentation on images with a mask (absent in cls mode). */
  segmentation?: {
    n: number;
    dice: MeanStd;
    jaccard: MeanStd;
    pixelAccuracy: MeanStd;
    /** With field metrics: the field's summaries (HD95 at the model's grid, per source, post-processed). */
    field?: FieldSummary;
  };
  /** Classification from D(x ⊕ S(x)) (mtl) or the classifier (cls), on labeled images. */
  classification?: ClassificationMetrics;
  /** Classification from D(x ⊕ y) on images with a true mask (mtl only). */
  classificationTrueMask?: ClassificationMetrics;
}

/** The field's mask metrics over a split (see `ImagePrediction.field`). */
export interface FieldSummary {
  /** Median HD95 in pixels of the model's grid (raw masks). */
  hd95Median: number;
  /** Median HD95 in millimetres over the images that give a pixel spacing (post-processed masks), and their number. */
  hd95MmMedian?: { n: number; median: number };
  /** Masks in more than two pieces (raw). */
  over2Pieces: number;
  /** Mean Dice by the manifest's `source`. */
  bySource: Record<string, { n: number; dice: number }>;
  /** After post-processing: mean Dice, median HD95 (pixels), masks in more than two pieces. */
  postprocessed: { dice: number; hd95Median: number; over2Pieces: number };
}

/** Summarises the per-image field metrics. */
function fieldSummary(preds: ImagePrediction[]): FieldSummary {
  const f = preds.filter((p) => p.field);
  const bySource: Record<string, { n: number; dice: number }> = {};
  for (const p of f) {
    if (!p.source) continue;
    const b = bySource[p.source] ??= { n: 0, dice: 0 };
    b.dice = (b.dice * b.n + p.dice!) / (b.n + 1);
    b.n++;
  }
  const mm = f.map((p) => p.field!.hd95Mm).filter((v) => v !== undefined) as number[];
  return {
    hd95Median: median(f.map((p) => p.field!.hd95)),
    ...(mm.length ? { hd95MmMedian: { n: mm.length, median: median(mm) } } : {}),
    over2Pieces: f.filter((p) => p.field!.pieces > 2).length,
    bySource,
    postprocessed: {
      dice: f.reduce((s, p) => s + p.field!.clean.dice, 0) / Math.max(1, f.length),
      hd95Median: median(f.map((p) => p.field!.clean.hd95)),
      over2Pieces: f.filter((p) => p.field!.clean.pieces > 2).length,
    },
  };
}

/** Per-image prediction. */
export interface ImagePrediction {
  /** Sample id. */
  id: string;
  /** Predicted mask probabilities (`size²`), when a segmentor ran and `keepMasks` is set. */
  mask?: Float32Array;
  /** Class probabilities over the real classes (calibrated when the models have a calibration). */
  probs?: number[];
  /** The uncalibrated probabilities, when `probs` are calibrated. */
  rawProbs?: number[];
  /** Dice against the true mask, when it exists. */
  dice?: number;
  /** Jaccard index against the true mask, when it exists. */
  jaccard?: number;
  /** The true class index (`null` when the image has none). */
  label?: number | null;
  /** The manifest's `source` of the image, when it has one. */
  source?: string;
  /**
   * With `fieldMetrics`, on images with a true mask, at the model's grid: HD95 in pixels, the number of 8-connected
   * pieces of the predicted mask, and the same with post-processing (`cleanMask`: two largest components, holes
   * filled), with its Dice.
   */
  field?: {
    hd95: number;
    pieces: number;
    clean: { dice: number; hd95: number; pieces: number };
    /** HD95 in millimetres of the post-processed mask, when the image gives its pixel spacing. */
    hd95Mm?: number;
  };
}

/** Hard Dice (threshold 0.5) of two 0/1 masks; 1 when both are empty (as `dicePerImage`). */
function hardDice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0, sa = 0, sb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] >= 0.5 ? 1 : 0, y = b[i] >= 0.5 ? 1 : 0;
    inter += x & y;
    sa += x;
    sb += y;
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}

/**
 * The field's mask metrics of one prediction against its true mask: HD95, pieces, and both after `cleanMask`.
 *
 * @param probs predicted lung probabilities, `size²`
 * @param truth true 0/1 mask
 * @param size side
 * @returns the metrics
 */
function fieldMetrics(
  probs: Float32Array,
  truth: Float32Array,
  size: number,
  spacing?: [number, number],
): NonNullable<ImagePrediction["field"]> {
  const bin = new Uint8Array(probs.length);
  for (let i = 0; i < bin.length; i++) bin[i] = probs[i] >= 0.5 ? 1 : 0;
  const clean = cleanMask(bin, size, size);
  return {
    hd95: hausdorffDistance(bin, truth, size, size),
    pieces: countPieces(bin, size, size),
    clean: {
      dice: hardDice(clean, truth),
      hd95: hausdorffDistance(clean, truth, size, size),
      pieces: countPieces(clean, size, size),
    },
    ...(spacing ? { hd95Mm: hausdorffDistance(clean, truth, size, size, { spacing }) } : {}),
  };
}

/**
 * Fits the calibration on the labeled predictions of a split (see `fitCalibration`); `undefined` without any.
 *
 * @param predictions a split's predictions with raw class probabilities
 * @returns the calibration
 */
export function calibrationFromPredictions(predictions: ImagePrediction[]): Calibration | undefined {
  const labeled = predictions.filter((p) => p.probs && p.label !== null && p.label !== undefined);
  return labeled.length ? fitCalibration(labeled.map((p) => p.probs!), labeled.map((p) => p.label!)) : undefined;
}

/** Models used for evaluation. */
export interface EvalModels {
  /** Segmentor (absent in cls mode). */
  segmentor?: tf.LayersModel;
  /** Discriminator (mtl: K+1 logits on image ⊕ mask) or classifier (cls: K logits on the image). */
  discriminator?: tf.LayersModel;
  /** `"mtl"`, `"seg"` or `"cls"`. */
  mode: "mtl" | "seg" | "cls";
  /**
   * What the classifier reads: `"image+mask"` (mtl's D on x ⊕ S(x), K+1 logits) or `"image"` (a cls classifier, K
   * logits). Default: by `mode`. A model exported with `export --classifier` pairs a segmentor with an image
   * classifier (mode mtl, `"image"`).
   */
  classifierInput?: "image" | "image+mask";
  /**
   * The model's calibration (fitted on val): class probabilities are calibrated (`calibrate`) and the two-class
   * decision uses its threshold. Absent: raw probabilities and the argmax.
   */
  calibration?: Calibration;
}

/** Whether the classifier reads the image alone (cls, or a segmentor paired with an image classifier). */
function classifierReadsImage(models: EvalModels): boolean {
  return models.classifierInput ? models.classifierInput === "image" : models.mode === "cls";
}

/**
 * S's mask probabilities (`pred`) and D's real-class probabilities of image ⊕ S(x) (`probs`; the classifier's of
 * the image in cls mode) for one batch, in inference mode. Not tidied: call it inside `tf.tidy`. Shared by the
 * evaluation and `predict`.
 *
 * @example
 * ```ts
 * import { createAppauNet, inferenceOutputs } from "@appaunet/appaunet";
 * import * as tf from "@appaunet/appaunet/tf";
 * import assert from "node:assert/strict";
 * const net = createAppauNet({ size: 32, segmentor: { baseFilters: 4 }, discriminator: { baseFilters: 4 } });
 * const models = { segmentor: net.segmentor, discriminator: net.discriminator, mode: "mtl" as const };
 * const shapes = tf.tidy(() => {
 *   const { pred, probs } = inferenceOutputs(models, tf.zeros([2, 32, 32, 1]));
 *   return [pred?.shape, probs?.shape];
 * });
 * assert.deepEqual(shapes, [[2, 32, 32, 1], [2, 2]]);
 * net.segmentor.dispose();
 * net.discriminator.dispose();
 * ```
 * @param models segmentor and/or discriminator
 * @param images `[B, H, W, 1]` images
 * @returns `pred` with a segmentor, `probs` with a discriminator
 */
export function inferenceOutputs(models: EvalModels, images: tf.Tensor4D): { pred?: tf.Tensor; probs?: tf.Tensor2D } {
  const r: { pred?: tf.Tensor; probs?: tf.Tensor2D } = {};
  if (models.segmentor) {
    const o = models.segmentor.apply(images, { training: false });
    r.pred = (Array.isArray(o) ? o[0] : o) as tf.Tensor;
  }
  if (models.discriminator) {
    const onImage = classifierReadsImage(models);
    const input = onImage ? images : tf.concat([images, r.pred!], 3);
    const logits = models.discriminator.apply(input, { training: false }) as tf.Tensor2D;
    r.probs = realClassProbabilities(logits, !onImage);
  }
  return r;
}

/**
 * The evaluation's outputs of one batch (tidied; the caller disposes them): {@linkcode inferenceOutputs}, with a
 * segmentor also `dice`, `jac`, `acc` per image, and in mtl `probsTrue` (D's real-class probabilities of image ⊕ true
 * mask). The evaluation and the shader warm-up worker run the same ops.
 *
 * @param models segmentor and/or discriminator
 * @param images `[B, H, W, 1]` images
 * @param masks `[B, H, W, 1]` true masks (zeros where unknown)
 * @returns the named outputs
 */
export function evalOutputs(models: EvalModels, images: tf.Tensor4D, masks: tf.Tensor4D): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const r: Record<string, tf.Tensor> = { ...inferenceOutputs(models, images) };
    if (r.pred) {
      r.dice = dicePerImage(masks, r.pred);
      r.jac = jaccardPerImage(masks, r.pred);
      r.acc = pixelAccuracyPerImage(masks, r.pred);
    }
    if (models.discriminator && !classifierReadsImage(models)) {
      const logitsTrue = models.discriminator.apply(tf.concat([images, masks], 3), { training: false }) as tf.Tensor2D;
      r.probsTrue = realClassProbabilities(logitsTrue, true);
    }
    return r;
  });
}

/**
 * Evaluates models on a split in inference mode (BN moving statistics, no dropout).
 *
 * @param models segmentor and/or discriminator
 * @param split the split
 * @param batchSize batch size (padding keeps shapes fixed)
 * @param keepMasks also return predicted masks for the first N images. Default 0.
 * @param withFieldMetrics also compute each image's `field` metrics (HD95, pieces, post-processed). Default `false`.
 * @returns metrics and per-image predictions
 */
export async function evaluateSplit(
  models: EvalModels,
  split: DatasetSplit,
  batchSize: number,
  keepMasks = 0,
  withFieldMetrics = false,
): Promise<{ metrics: SplitMetrics; predictions: ImagePrediction[] }> {
  const dice: number[] = [], jac: number[] = [], acc: number[] = [];
  const probs: number[][] = [], labels: number[] = [];
  const probsTrue: number[][] = [], labelsTrue: number[] = [];
  const predictions: ImagePrediction[] = [];
  for (const b of split.batches({ batchSize, remainder: "pad" })) {
    const out = evalOutputs(models, b.images, b.masks);
    const read: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(out)) {
      if (k !== "pred" || predictions.length < keepMasks || withFieldMetrics) {
        read[k] = (await t.data()) as Float32Array;
      }
    }
    const k = models.discriminator ? (out.probs.shape[1] as number) : 0;
    const px = split.samples.length ? split.samples[0].image.length : 0;
    b.samples.forEach((s, i) => {
      if (!s) return;
      const p: ImagePrediction = { id: s.id, label: s.label, ...(s.source ? { source: s.source } : {}) };
      if (read.pred && predictions.length < keepMasks) p.mask = read.pred.slice(i * px, (i + 1) * px);
      if (read.dice && s.mask) {
        dice.push(read.dice[i]);
        jac.push(read.jac[i]);
        acc.push(read.acc[i]);
        p.dice = read.dice[i];
        p.jaccard = read.jac[i];
        if (withFieldMetrics) {
          p.field = fieldMetrics(
            read.pred.slice(i * px, (i + 1) * px),
            s.mask,
            split.size ? Math.round(Math.sqrt(px)) : 0,
            s.spacing,
          );
        }
      }
      if (read.probs) {
        const raw = Array.from(read.probs.slice(i * k, (i + 1) * k));
        p.probs = models.calibration ? calibrate(raw, models.calibration) : raw;
        if (models.calibration) p.rawProbs = raw;
        if (s.label !== null) {
          probs.push(p.probs);
          labels.push(s.label);
        }
        if (read.probsTrue && s.mask && s.label !== null) {
          probsTrue.push(Array.from(read.probsTrue.slice(i * k, (i + 1) * k)));
          labelsTrue.push(s.label);
        }
      }
      predictions.push(p);
    });
    tf.dispose(Object.values(out));
    b.dispose();
  }
  const metrics: SplitMetrics = { n: split.size };
  if (models.segmentor) {
    metrics.segmentation = { n: dice.length, dice: meanStd(dice), jaccard: meanStd(jac), pixelAccuracy: meanStd(acc) };
    if (withFieldMetrics) metrics.segmentation.field = fieldSummary(predictions);
  }
  if (models.discriminator && labels.length) {
    metrics.classification = classificationMetrics(probs, labels, models.calibration?.threshold);
  }
  if (labelsTrue.length) metrics.classificationTrueMask = classificationMetrics(probsTrue, labelsTrue);
  return { metrics, predictions };
}
