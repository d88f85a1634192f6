/**
 * The metadata of an exported model (`metadata.json`, and `userDefinedMetadata.appaunet` in each `model.json`).
 *
 * @module
 */

import type { Calibration } from "./calibration.ts";

/** What inference needs to know about a model (`metadata.json`). */
export interface ModelMetadata {
  /** Always `"appaunet-model"`. */
  format: "appaunet-model";
  /** Version of this metadata. */
  formatVersion: 1;
  /** Training mode: `mtl` (S and D), `seg` (S) or `cls` (classifier). */
  mode: "mtl" | "seg" | "cls";
  /** Input side the nets were trained at: images are resized to `size × size` (squashed, as in training). */
  size: number;
  /** Image normalization: `unit` ([0, 1] as decoded) or `zscore` (per image). */
  normalize: "unit" | "zscore";
  /** CLAHE before normalization. */
  clahe: boolean;
  /** Class names by index. */
  classNames: string[];
  /**
   * What the classifier reads: absent (by mode: mtl's D on image ⊕ mask, cls on the image) or `"image"` (a segmentor
   * paired with an image classifier by `export --classifier`).
   */
  classifierInput?: "image" | "image+mask";
  /** Mask probability at or above which a pixel is lung. */
  threshold: number;
  /**
   * The exported nets take any input side divisible by this (2^depth); they were trained at `size`, which is what
   * `predict` and the page use.
   */
  sizeMultiple?: number;
  /** Segmentor variant. */
  variant: string;
  /** The epoch the checkpoint was saved after, and what chose it. */
  checkpoint: { epoch: number; selectedBy: string };
  /** Versions it was trained with. */
  versions: Record<string, unknown>;
  /**
   * Temperature and two-class decision threshold fitted on val (see `calibration.ts`); `predict`, `serve`, `eval`
   * and the page use them. Absent in models exported before calibration existed: raw probabilities, argmax.
   */
  calibration?: Calibration;
  /** Test figures from an independent scorer of `predict`'s output, when recorded (see `export`). */
  independentTest?: IndependentTest;
  /** Test metrics of this checkpoint (from the experiment's result file), when known. */
  testMetrics?: unknown;
  /** With `export --classifier`: the image classifier's checkpoint and training (the segmentor's are above). */
  classifier?: { checkpoint: { epoch: number; selectedBy: string }; training: Record<string, unknown> };
  /** The full training configuration. */
  training: Record<string, unknown>;
}

/** What `experiments/score_predictions.py --json` writes. */
export interface IndependentTest {
  /** The split scored. */
  split?: string;
  /** Lung masks in each image's own grid. */
  segmentation?: {
    n: number;
    dice: { mean: number; ci95: number[] };
    hd95Pixels: { median: number; ci95: number[] };
    over2Pieces: number;
    bySource?: Record<string, { n: number; dice: { mean: number; ci95: number[] } }>;
  };
  /** Classes, from `predictedClass` and the probabilities. */
  classification?: {
    n: number;
    auc: number;
    aucCi95: number[];
    sensitivity: number;
    specificity: number;
    accuracy: number;
    ece: number;
  };
}
