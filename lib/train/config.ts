/**
 * Training options: defaults, validation, and the resume comparison.
 *
 * @module
 */
import type { DiscriminatorOptions } from "../model/discriminator.ts";
import type { SegmentorOptions } from "../model/segmentor.ts";
import { LOSS_NAMES } from "../losses/by_name.ts";
import { SSL_METHODS, type SslMethod } from "./ssl.ts";
import { checkBatchSize, MAX_SIZE } from "../model/limits.ts";
import { APPAUNET_VERSION } from "../checkpoint/version.ts";

export { APPAUNET_VERSION, checkBatchSize, MAX_SIZE };

/** The three training modes. */
export type TrainMode = "mtl" | "seg" | "cls";

/** Options for {@linkcode train}. Every field has a documented default. */
export interface TrainOptions {
  /** Manifest CSV (see README: Manifest). Required. */
  data: string;
  /** Run folder, e.g. `runs/exp1`. Required (or given by `resume`). */
  out: string;
  /**
   * `"mtl"` (default): APPAU-Net semi-supervised multi-task GAN. `"seg"`: segmentor only. `"cls"`: supervised
   * classifier on the image alone (the D trunk), the baseline for "does semi-supervision help".
   */
  mode?: TrainMode;
  /** Input size H = W. Default 64. */
  size?: number;
  /** Epochs to train in total (may be raised on resume). Default 10. */
  epochs?: number;
  /** Batch size (fixed; the last partial batch is filled, see `batches`). Default 8. */
  batchSize?: number;
  /** Seed for init, split, knobs, shuffling, augmentation, dropout and mask noise. Default 0. */
  seed?: number;
  /**
   * Segmentation loss name (`xe`, `dice`, `tversky`, `focal-tversky`, `kl`, `kltv`, `kltv-normalized`, `xe-tversky`).
   * Default `"kltv"`.
   */
  loss?: string;
  /**
   * Weight α of false positives in the Tversky term of `tversky`, `focal-tversky`, `kltv`, `kltv-normalized` and
   * `xe-tversky` (Salehi et al. 2017). Default 0.3.
   */
  tverskyAlpha?: number;
  /** Weight β of false negatives in the same Tversky term. Default 0.7. */
  tverskyBeta?: number;
  /** Share of train images that keep their class label. Default 1. */
  classLabelFraction?: number;
  /** Share of train images with a mask that keep it. Default 1. */
  maskFraction?: number;
  /** Learning rate of S (and of D/cls). Default 2e-4 for mtl and cls, 1e-3 for seg. */
  lr?: number;
  /** Adam β1. Default 0.5 for mtl (GAN practice), 0.9 otherwise. */
  beta1?: number;
  /** Weight of the segmentation loss in L_S. Default 1. */
  lambdaSeg?: number;
  /** Weight of the adversarial term in L_S. Default 0.1. */
  lambdaAdv?: number;
  /**
   * Weight of D's unsupervised terms (true-mask pairs as real, S's pairs as fake) against its supervised
   * cross-entropy in L_D (mtl). 1 is the improved-GAN objective of the paper; 0 leaves D a supervised classifier of
   * image ⊕ mask. Default 1.
   */
  lambdaUnsup?: number;
  /** One-sided label smoothing of D's real-pair target (target = 1 − s). Default 0. */
  labelSmoothing?: number;
  /** D steps per S step. Default 1. */
  dSteps?: number;
  /**
   * Noise on real masks shown to D: each pixel y becomes |y − u|, u ~ U(0, noise). Without it D can tell binary
   * real masks from soft predicted ones by their values alone and its gradient to S carries no shape
   * information. Default 0.1.
   */
  realMaskNoise?: number;
  /** Segmentor architecture (size comes from `size`). Defaults: depth 4, baseFilters 16, all parts on. */
  segmentor?: Omit<SegmentorOptions, "size" | "seed">;
  /** Discriminator architecture. Defaults: depth 4, baseFilters 16, dropout 0.3. */
  discriminator?: Omit<DiscriminatorOptions, "size" | "seed" | "numClasses" | "channels" | "fakeClass">;
  /** Stop after this many epochs without val improvement (Dice; AUC in cls). 0 = off (default). */
  earlyStopping?: number;
  /** `"constant"` (default) or `"cosine"` (per epoch, to 0 at `epochs`). */
  lrSchedule?: "constant" | "cosine";
  /** Train-time augmentation. Default `true`. */
  augment?: boolean;
  /** Image normalization. Default `"unit"`. */
  normalize?: "unit" | "zscore";
  /** CLAHE before normalization. Default `false`. */
  clahe?: boolean;
  /** Skip unreadable rows with a warning. Default `false`. */
  skipBad?: boolean;
  /** Overlays in the report. Default 8. */
  overlays?: number;
  /**
   * Keep about this many rows of each split (seeded, stratified by class and mask presence; the same rows in
   * `evaluate`), for quick experiments. Default 0: every row.
   */
  maxPerSplit?: number;
  /**
   * Semi-supervised method of the classifier (`mode: "cls"` only; see `ssl.ts`): `"none"` (default: batches from all
   * train images, the labeled ones learned from), `"supervised"` (labeled batches and an EMA teacher: the fair
   * baseline), `"fixmatch"`, `"meanteacher"`, `"pseudolabel"`.
   */
  ssl?: SslMethod;
  /** Confidence threshold τ of `fixmatch` and `pseudolabel`. Default 0.8. */
  sslThreshold?: number;
  /** Weight λ_u of the unsupervised loss. Default 1 (fixmatch, pseudolabel), 10 (meanteacher). */
  sslWeight?: number;
  /** Unlabeled images per labeled image in a step (μ). Default 2. */
  sslRatio?: number;
  /** Decay of the EMA teacher that `ssl` methods other than `none` evaluate and save. Default 0.99. */
  emaDecay?: number;
}

/** Options the run does not depend on numerically (not compared on resume). */
const RUNTIME_KEYS = [
  "out",
  "epochs",
  "backend",
  "progress",
  "signal",
  "onEpoch",
  "resume",
  "overlays",
  "skipBad",
  "shaderWarmup",
  "overwrite",
];

/** Fully resolved options. */
export type ResolvedTrainOptions =
  & Required<Omit<TrainOptions, "segmentor" | "discriminator">>
  & { segmentor: Omit<SegmentorOptions, "size" | "seed">; discriminator: TrainOptions["discriminator"] & object };

/**
 * Fills defaults and validates every option with a message naming the option.
 *
 * @example
 * ```ts
 * import { resolveTrainOptions } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(resolveTrainOptions({ data: "m.csv", out: "runs/x", mode: "seg" }).lr, 0.001);
 * ```
 * @param o user options
 * @returns resolved options
 * @throws {Error} naming the bad option and the accepted values
 */
export function resolveTrainOptions(o: TrainOptions): ResolvedTrainOptions {
  // Long by design: one default and one check per option, in the order of TrainOptions, each error naming its option.
  // Errors name the option as the library spells it and as the CLI does: "batchSize (--batch-size)".
  const p = (flag: string) =>
    `${
      flag === "label-fraction" ? "classLabelFraction" : flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    } (--${flag})`;
  const mode = o.mode ?? "mtl";
  if (!["mtl", "seg", "cls"].includes(mode)) throw new Error(`${p("mode")}: "${mode}" is not one of mtl, seg, cls`);
  const def = <T>(v: T | undefined, d: T) => (v === undefined ? d : v);
  const r: ResolvedTrainOptions = {
    data: o.data,
    out: o.out,
    mode,
    size: def(o.size, 64),
    epochs: def(o.epochs, 10),
    batchSize: def(o.batchSize, 8),
    seed: def(o.seed, 0),
    loss: def(o.loss, "kltv"),
    tverskyAlpha: def(o.tverskyAlpha, 0.3),
    tverskyBeta: def(o.tverskyBeta, 0.7),
    classLabelFraction: def(o.classLabelFraction, 1),
    maskFraction: def(o.maskFraction, 1),
    lr: def(o.lr, mode === "seg" ? 1e-3 : 2e-4),
    beta1: def(o.beta1, mode === "mtl" ? 0.5 : 0.9),
    lambdaSeg: def(o.lambdaSeg, 1),
    lambdaAdv: def(o.lambdaAdv, 0.1),
    lambdaUnsup: def(o.lambdaUnsup, 1),
    labelSmoothing: def(o.labelSmoothing, 0),
    dSteps: def(o.dSteps, 1),
    realMaskNoise: def(o.realMaskNoise, 0.1),
    segmentor: { ...o.segmentor },
    discriminator: { ...o.discriminator },
    earlyStopping: def(o.earlyStopping, 0),
    lrSchedule: def(o.lrSchedule, "constant"),
    augment: def(o.augment, true),
    normalize: def(o.normalize, "unit"),
    clahe: def(o.clahe, false),
    skipBad: def(o.skipBad, false),
    overlays: def(o.overlays, 8),
    maxPerSplit: def(o.maxPerSplit, 0),
    ssl: def(o.ssl, "none"),
    sslThreshold: def(o.sslThreshold, 0.8),
    sslWeight: def(o.sslWeight, o.ssl === "meanteacher" ? 10 : 1),
    sslRatio: def(o.sslRatio, 2),
    emaDecay: def(o.emaDecay, 0.99),
  };
  if (!r.data) throw new Error(`${p("data")}: a manifest CSV is required (e.g. fixtures/phantoms/manifest.csv)`);
  if (!r.out) throw new Error(`${p("out")}: a run folder is required (e.g. runs/exp1)`);
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`${p(name)}: must be an integer ≥ ${min}, got ${v}`);
  };
  const frac = (name: string, v: number) => {
    if (!(v >= 0 && v <= 1)) throw new Error(`${p(name)}: must be in [0, 1], got ${v}`);
  };
  int("size", r.size, 8);
  if (r.size > MAX_SIZE) {
    // The dataset is cached as float32 images and masks; the nets' activations grow with size² as well.
    const perImageMiB = (r.size * r.size * 4 * 2) / 2 ** 20;
    throw new Error(
      `${p("size")}: at most ${MAX_SIZE}, got ${r.size} (the cached images and masks alone take ${
        perImageMiB.toFixed(0)
      } MiB per image, ${(perImageMiB * 800 / 1024).toFixed(1)} GiB for 800 images, before the nets' activations)`,
    );
  }
  int("epochs", r.epochs, 1);
  int("batch-size", r.batchSize, 1);
  checkBatchSize(r.batchSize, r.size, p("batch-size"));
  int("seed", r.seed, 0);
  int("d-steps", r.dSteps, 1);
  // A step runs its D steps without yielding: an unbounded count would hold the process past any signal.
  if (r.dSteps > 100) throw new Error(`${p("d-steps")}: at most 100 D steps per S step, got ${r.dSteps}`);
  int("early-stopping", r.earlyStopping, 0);
  int("max-per-split", r.maxPerSplit, 0);
  frac("label-fraction", r.classLabelFraction);
  frac("mask-fraction", r.maskFraction);
  frac("label-smoothing", r.labelSmoothing);
  frac("beta1", r.beta1);
  if (!(r.lr > 0 && r.lr < 1)) throw new Error(`${p("lr")}: must be in (0, 1), got ${r.lr}`);
  if (!(r.lambdaSeg >= 0) || !(r.lambdaAdv >= 0) || !(r.lambdaUnsup >= 0)) {
    throw new Error(`${p("lambda-seg")}, ${p("lambda-adv")} and ${p("lambda-unsup")}: must be ≥ 0`);
  }
  if (!(r.tverskyAlpha >= 0) || !(r.tverskyBeta >= 0) || !(r.tverskyAlpha + r.tverskyBeta > 0)) {
    throw new Error(
      `${p("tversky-alpha")} and ${
        p("tversky-beta")
      }: must be ≥ 0 and not both 0, got ${r.tverskyAlpha}, ${r.tverskyBeta}`,
    );
  }
  if (!(r.realMaskNoise >= 0 && r.realMaskNoise < 0.5)) {
    throw new Error(`${p("real-mask-noise")}: must be in [0, 0.5), got ${r.realMaskNoise}`);
  }
  if (!(LOSS_NAMES as readonly string[]).includes(r.loss)) {
    throw new Error(`${p("loss")}: "${r.loss}" is not one of ${LOSS_NAMES.join(", ")}`);
  }
  if (!["constant", "cosine"].includes(r.lrSchedule)) {
    throw new Error(`${p("lr-schedule")}: "${r.lrSchedule}" is not constant or cosine`);
  }
  if (!(SSL_METHODS as readonly string[]).includes(r.ssl)) {
    throw new Error(`${p("ssl")}: "${r.ssl}" is not one of ${SSL_METHODS.join(", ")}`);
  }
  if (r.ssl !== "none" && r.mode !== "cls") {
    throw new Error(`${p("ssl")}: "${r.ssl}" trains the classifier alone; use it with mode "cls" (--mode cls)`);
  }
  if (!(r.sslThreshold > 0 && r.sslThreshold <= 1)) {
    throw new Error(`${p("ssl-threshold")}: must be in (0, 1], got ${r.sslThreshold}`);
  }
  if (!(r.sslWeight >= 0 && r.sslWeight <= 1000)) {
    throw new Error(`${p("ssl-weight")}: must be in [0, 1000], got ${r.sslWeight}`);
  }
  if (!(r.sslRatio > 0 && r.sslRatio <= 16) || !Number.isInteger(r.sslRatio * r.batchSize)) {
    throw new Error(
      `${p("ssl-ratio")}: must be in (0, 16] and give a whole number of unlabeled images per step ` +
        `(ratio × batch size ${r.batchSize}), got ${r.sslRatio}`,
    );
  }
  if (!(r.emaDecay >= 0 && r.emaDecay < 1)) throw new Error(`${p("ema-decay")}: must be in [0, 1), got ${r.emaDecay}`);
  if (r.mode === "seg" && r.maskFraction === 0) throw new Error(`${p("mask-fraction")}: seg mode needs masks (> 0)`);
  if (r.mode === "cls" && r.classLabelFraction === 0) {
    throw new Error(`${p("label-fraction")}: cls mode needs labels (> 0)`);
  }
  return r;
}

/**
 * Lists the options that differ between a saved run config and new options (runtime-only keys ignored).
 *
 * @param saved resolved options of the run
 * @param given the options explicitly given now
 * @returns `key: saved → given` strings (empty when compatible)
 */
export function configDifferences(saved: Record<string, unknown>, given: Record<string, unknown>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(given)) {
    if (RUNTIME_KEYS.includes(k) || v === undefined) continue;
    const a = JSON.stringify(saved[k]), b = JSON.stringify(v);
    if (k === "segmentor" || k === "discriminator") {
      for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) {
        const sv = (saved[k] as Record<string, unknown> | undefined)?.[kk];
        if (vv !== undefined && JSON.stringify(sv) !== JSON.stringify(vv)) {
          diffs.push(`${k}.${kk}: ${JSON.stringify(sv)} → ${JSON.stringify(vv)}`);
        }
      }
    } else if (a !== b) diffs.push(`${k}: ${a} → ${b}`);
  }
  return diffs;
}
