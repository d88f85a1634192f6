/**
 * `train`'s options, declared once with their command-line flags (see {@linkcode TRAIN_FLAGS}).
 *
 * @module
 */
import { LOSS_NAMES } from "../losses/by_name.ts";
import { SSL_METHODS } from "./ssl.ts";

/** One option of `train` with its command-line flag. */
export interface TrainFlag {
  /** The flag without `--`. */
  flag: string;
  /** A value flag (`--size 64`) or a switch (`--clahe`). */
  kind: "number" | "string" | "switch";
  /** Where the value goes: a train option, the segmentor's or the discriminator's options, or the runtime. */
  target: "train" | "segmentor" | "discriminator" | "runtime";
  /** The option's name there. */
  key: string;
  /** For a switch: the value it sets. */
  sets?: unknown;
  /** The value shown in the usage (the default, or the choices). */
  shown?: string;
  /** One line of help. */
  help: string;
}

/**
 * Every option of `train` with its flag, in usage order: the one table the CLI's parser spec, usage text and mapping to
 * `TrainOptions`, and the experiment plans' option names are generated from (a test keeps its shown defaults
 * equal to `resolveTrainOptions`').
 *
 * @example
 * ```ts
 * import { TRAIN_FLAGS } from "@appaunet/appaunet/cli";
 * import assert from "node:assert/strict";
 * assert.ok(TRAIN_FLAGS.some((f) => f.flag === "epochs"));
 * ```
 */
export const TRAIN_FLAGS: readonly TrainFlag[] = [
  { flag: "data", kind: "string", target: "train", key: "data", shown: "<manifest.csv>", help: "the manifest" },
  { flag: "out", kind: "string", target: "train", key: "out", shown: "runs/<name>", help: "the run folder" },
  { flag: "mode", kind: "string", target: "train", key: "mode", shown: "mtl|seg|cls", help: "default mtl (APPAU-Net)" },
  {
    flag: "size",
    kind: "number",
    target: "train",
    key: "size",
    shown: "64",
    help: "input size (divisible by 2^depth)",
  },
  { flag: "epochs", kind: "number", target: "train", key: "epochs", shown: "10", help: "total epochs" },
  { flag: "batch-size", kind: "number", target: "train", key: "batchSize", shown: "8", help: "batch size" },
  { flag: "seed", kind: "number", target: "train", key: "seed", shown: "0", help: "seed of everything random" },
  { flag: "loss", kind: "string", target: "train", key: "loss", shown: "kltv", help: LOSS_NAMES.join(", ") },
  {
    flag: "tversky-alpha",
    kind: "number",
    target: "train",
    key: "tverskyAlpha",
    shown: "0.3",
    help: "Tversky weight of false positives",
  },
  {
    flag: "tversky-beta",
    kind: "number",
    target: "train",
    key: "tverskyBeta",
    shown: "0.7",
    help: "Tversky weight of false negatives",
  },
  {
    flag: "label-fraction",
    kind: "number",
    target: "train",
    key: "classLabelFraction",
    shown: "1",
    help: "share of train images that keep a class label",
  },
  {
    flag: "mask-fraction",
    kind: "number",
    target: "train",
    key: "maskFraction",
    shown: "1",
    help: "share of train images with a mask that keep it",
  },
  { flag: "lr", kind: "number", target: "train", key: "lr", shown: "X", help: "default 2e-4 (mtl, cls), 1e-3 (seg)" },
  { flag: "lambda-seg", kind: "number", target: "train", key: "lambdaSeg", shown: "1", help: "weight of L_seg in L_S" },
  {
    flag: "lambda-adv",
    kind: "number",
    target: "train",
    key: "lambdaAdv",
    shown: "0.1",
    help: "weight of L_adv in L_S",
  },
  {
    flag: "lambda-unsup",
    kind: "number",
    target: "train",
    key: "lambdaUnsup",
    shown: "1",
    help: "weight of D's unsupervised terms in L_D",
  },
  { flag: "beta1", kind: "number", target: "train", key: "beta1", shown: "X", help: "Adam β1: 0.5 (mtl), 0.9" },
  { flag: "d-steps", kind: "number", target: "train", key: "dSteps", shown: "1", help: "D steps per S step" },
  {
    flag: "label-smoothing",
    kind: "number",
    target: "train",
    key: "labelSmoothing",
    shown: "0",
    help: "one-sided smoothing of D's real target",
  },
  {
    flag: "real-mask-noise",
    kind: "number",
    target: "train",
    key: "realMaskNoise",
    shown: "0.1",
    help: "noise on the real masks D sees",
  },
  { flag: "depth", kind: "number", target: "segmentor", key: "depth", shown: "4", help: "segmentor depth" },
  { flag: "base-filters", kind: "number", target: "segmentor", key: "baseFilters", shown: "16", help: "S filters" },
  { flag: "no-pyramid", kind: "switch", target: "segmentor", key: "pyramid", sets: false, help: "no input pyramid" },
  {
    flag: "no-attention",
    kind: "switch",
    target: "segmentor",
    key: "attention",
    sets: false,
    help: "no attention gates",
  },
  {
    flag: "no-progressive",
    kind: "switch",
    target: "segmentor",
    key: "progressive",
    sets: false,
    help: "no progressive outputs",
  },
  { flag: "dropout", kind: "number", target: "segmentor", key: "dropout", shown: "0", help: "S bottleneck dropout" },
  { flag: "d-depth", kind: "number", target: "discriminator", key: "depth", shown: "4", help: "D depth" },
  {
    flag: "d-base-filters",
    kind: "number",
    target: "discriminator",
    key: "baseFilters",
    shown: "16",
    help: "D filters",
  },
  { flag: "d-dropout", kind: "number", target: "discriminator", key: "dropout", shown: "0.3", help: "D dropout" },
  {
    flag: "d-bn-momentum",
    kind: "number",
    target: "discriminator",
    key: "batchNormMomentum",
    shown: "0.99",
    help: "D BatchNorm momentum",
  },
  {
    flag: "early-stopping",
    kind: "number",
    target: "train",
    key: "earlyStopping",
    shown: "0",
    help: "patience in epochs (0 = off)",
  },
  {
    flag: "max-per-split",
    kind: "number",
    target: "train",
    key: "maxPerSplit",
    shown: "0",
    help: "keep about N rows per split (quick experiments; 0 = all)",
  },
  {
    flag: "lr-schedule",
    kind: "string",
    target: "train",
    key: "lrSchedule",
    shown: "constant|cosine",
    help: "learning-rate schedule",
  },
  {
    flag: "ssl",
    kind: "string",
    target: "train",
    key: "ssl",
    shown: SSL_METHODS.join("|"),
    help: "semi-supervised classifier (--mode cls; default none)",
  },
  {
    flag: "ssl-threshold",
    kind: "number",
    target: "train",
    key: "sslThreshold",
    shown: "0.8",
    help: "confidence threshold τ (fixmatch, pseudolabel)",
  },
  {
    flag: "ssl-weight",
    kind: "number",
    target: "train",
    key: "sslWeight",
    shown: "X",
    help: "weight of the unlabeled loss: 1 (10 for meanteacher)",
  },
  { flag: "ssl-ratio", kind: "number", target: "train", key: "sslRatio", shown: "2", help: "unlabeled per labeled" },
  { flag: "ema-decay", kind: "number", target: "train", key: "emaDecay", shown: "0.99", help: "EMA teacher decay" },
  { flag: "no-augment", kind: "switch", target: "train", key: "augment", sets: false, help: "no augmentation" },
  { flag: "zscore", kind: "switch", target: "train", key: "normalize", sets: "zscore", help: "z-score images" },
  { flag: "clahe", kind: "switch", target: "train", key: "clahe", sets: true, help: "CLAHE before normalizing" },
  { flag: "skip-bad", kind: "switch", target: "train", key: "skipBad", sets: true, help: "skip unreadable rows" },
  {
    flag: "progress",
    kind: "string",
    target: "runtime",
    key: "progress",
    shown: "auto|bar|lines|none",
    help: "progress output",
  },
  {
    flag: "no-shader-warmup",
    kind: "switch",
    target: "runtime",
    key: "shaderWarmup",
    sets: false,
    help: "no second-thread shader compile (lavapipe)",
  },
  {
    flag: "resume",
    kind: "string",
    target: "runtime",
    key: "resume",
    shown: "runs/<name>",
    help: "continue from the last checkpoint (same options; only --epochs may change)",
  },
  {
    flag: "overwrite",
    kind: "switch",
    target: "runtime",
    key: "overwrite",
    sets: true,
    help: "replace the run in --out (otherwise refused)",
  },
];

/**
 * The option names an experiment plan may set: every run option of the table (not the manifest, the run folder or
 * runtime switches), with the segmentor's and discriminator's options as objects.
 *
 * @example
 * ```ts
 * import { planOptionKeys } from "./option_table.ts";
 * import assert from "node:assert/strict";
 * assert.ok(planOptionKeys().has("classLabelFraction"));
 * assert.ok(!planOptionKeys().has("out"));
 * ```
 * @returns the names
 */
export function planOptionKeys(): Set<string> {
  const keys = TRAIN_FLAGS.filter((f) => f.target === "train" && !["data", "out", "skipBad"].includes(f.key))
    .map((f) => f.key);
  return new Set([...keys, "segmentor", "discriminator"]);
}
