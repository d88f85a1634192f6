/**
 * The in-memory dataset: decoded, resized samples, splits, the semi-supervised label/mask hiding and
 * fixed-shape seeded batching.
 *
 * Over 400 lines: splits, label and mask knobs, batching and augmentation of one cached dataset.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AugmentOptions, augmentPair } from "./augment.ts";
import { DataError } from "./errors.ts";
import { decodeFile, type LoadImageOptions, loadMask, prepareImage } from "./load.ts";
import type { Manifest, ManifestRow, SplitName } from "./manifest.ts";
import { createRng } from "./rng.ts";
import { withDicomCodecs } from "./dicom_codecs.ts";

/** One decoded sample at model size. */
export interface Sample {
  /** Row id. */
  id: string;
  /** Image path. */
  path: string;
  /** `size × size` image. */
  image: Float32Array;
  /** Binary mask, or `null` when absent or hidden by `maskFraction`. */
  mask: Float32Array | null;
  /** Class index, or `null` when absent or hidden by `classLabelFraction`. */
  label: number | null;
  /** Split this sample belongs to. */
  split: SplitName;
  /** The true mask/label were hidden by the fraction knobs (train only). */
  hidden: { mask: boolean; label: boolean };
  /** The manifest's `source` of the row, when it has one. */
  source?: string;
  /** Pixel spacing at the model size in mm, `[row, column]`, when the image file gives one (DICOM). */
  spacing?: [number, number];
}

/** Options for {@linkcode createDataset}. */
export interface DatasetOptions extends LoadImageOptions {
  /** Model input size (H = W). Default 64. */
  size?: number;
  /** Seed for the split (when the manifest has none) and the fraction knobs. Default 0. */
  seed?: number;
  /** Share of train samples that keep their class label, stratified by class. Default 1. */
  classLabelFraction?: number;
  /** Share of train samples with a mask that keep it, stratified by class. Default 1. */
  maskFraction?: number;
  /** Split fractions used only for rows without a `split`. Default `{train: 0.7, val: 0.15}` (rest test). */
  splitFractions?: { train: number; val: number };
  /** Skip unreadable rows with a warning count instead of failing. Default `false`. */
  skipBad?: boolean;
  /** Only load these splits (faster eval/predict). Default: all. */
  splits?: SplitName[];
  /**
   * Keep about this many rows of each split (a seeded draw stratified by class and mask presence, the same rows for
   * the same seed and manifest), for quick experiments. Default 0: every row.
   */
  maxPerSplit?: number;
}

/** Options for {@linkcode DatasetSplit.batches}. */
export interface BatchOptions {
  /** Samples per batch; every batch has exactly this many. Required. */
  batchSize: number;
  /** Shuffle (seeded by `seed` and `epoch`). Default `false`. */
  shuffle?: boolean;
  /** Seed for shuffling and augmentation. Default 0. */
  seed?: number;
  /** Epoch number, mixed into the seed. Default 0. */
  epoch?: number;
  /** Augment (train only): `true` for defaults or ranges. Default `false`. */
  augment?: boolean | AugmentOptions;
  /**
   * How the last partial batch keeps the fixed shape: `"wrap"` fills it with samples from the start of this
   * epoch's order (every sample seen, all real; default when shuffling), `"pad"` fills it with zero images
   * marked `valid = 0` (default otherwise; for eval), `"drop"` leaves it out.
   */
  remainder?: "wrap" | "pad" | "drop";
  /** Skip this many batches (resume within an epoch). Default 0. */
  skip?: number;
}

/** A fixed-shape batch. The caller owns its tensors: call `dispose()`. */
export interface Batch {
  /** `[B, H, W, 1]` images. */
  images: tf.Tensor4D;
  /** `[B, H, W, 1]` masks (zeros where `hasMask` is 0). */
  masks: tf.Tensor4D;
  /** `[B]` 1 where the mask is known. */
  hasMask: tf.Tensor1D;
  /** `[B]` int32 class index (0 where unknown). */
  labels: tf.Tensor1D;
  /** `[B]` 1 where the class label is known. */
  hasLabel: tf.Tensor1D;
  /** `[B]` 1 for real samples, 0 for padding. */
  valid: tf.Tensor1D;
  /** Sample ids ("" for padding). */
  ids: string[];
  /** The samples in the batch (`null` for padding). */
  samples: (Sample | null)[];
  /** Frees every tensor of the batch. */
  dispose(): void;
}

/** One split of a dataset. */
export interface DatasetSplit {
  /** Split name. */
  name: SplitName;
  /** Samples in manifest order. */
  samples: Sample[];
  /** Number of samples. */
  size: number;
  /** Number of batches per epoch for a batch size (and remainder policy). */
  numBatches(batchSize: number, remainder?: "wrap" | "pad" | "drop"): number;
  /** Fixed-shape batches. */
  batches(opts: BatchOptions): Generator<Batch>;
}

/** The semi-supervised partition of the train split. */
export interface Partition {
  /** Samples with a class label (with or without mask). */
  labeled: Sample[];
  /** Samples with a mask but no class label. */
  maskOnly: Sample[];
  /** Samples with neither. */
  unlabeled: Sample[];
  /** Samples with both a label and a mask. */
  both: number;
}

/** A loaded dataset. */
export interface Dataset {
  /** Model input size. */
  size: number;
  /** Class names. */
  classNames: string[];
  /** A split by name. */
  split(name: SplitName): DatasetSplit;
  /** The labeled / mask-only / unlabeled partition of the train split. */
  partition(): Partition;
  /** Rows skipped with `skipBad`, with the reason. */
  skipped: { file: string; message: string }[];
}

/**
 * Seeded stratified split of rows without a `split`: grouped by (label, has mask), shuffled, the first
 * round(train·n) → train, next round(val·n) → val, rest → test (the reference data's rule).
 *
 * @example
 * ```ts
 * import { stratifiedSplit } from "./dataset.ts";
 * import assert from "node:assert/strict";
 * const rows = Array.from({ length: 20 }, (_, i) => ({ label: i % 2, masks: [] as string[] }));
 * const s = stratifiedSplit(rows, 1);
 * assert.equal(s.filter((x) => x === "train").length, 14);
 * ```
 * @param rows rows with `label` and `masks`
 * @param seed shuffle seed
 * @param fractions train and val fractions
 * @returns a split per row, in order
 */
export function stratifiedSplit(
  rows: Pick<ManifestRow, "label" | "masks">[],
  seed: number,
  fractions: { train: number; val: number } = { train: 0.7, val: 0.15 },
): SplitName[] {
  const out: SplitName[] = new Array(rows.length);
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = `${r.label}|${r.masks.length > 0}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  });
  for (const [key, idx] of [...groups.entries()].sort()) {
    const order = createRng(seed, hashString(key)).shuffle(idx);
    const nTrain = Math.round(fractions.train * order.length);
    const nVal = Math.round(fractions.val * order.length);
    order.forEach((i, k) => out[i] = k < nTrain ? "train" : k < nTrain + nVal ? "val" : "test");
  }
  return out;
}

/**
 * Chooses which items keep something (a label, a mask), stratified by `key`: round(fraction·n) per group,
 * seeded. Deterministic for the same seed and items.
 *
 * @example
 * ```ts
 * import { stratifiedKeep } from "./dataset.ts";
 * import assert from "node:assert/strict";
 * const keep = stratifiedKeep([0, 0, 0, 0, 1, 1, 1, 1], (c) => String(c), 0.5, 3);
 * assert.equal(keep.size, 4);
 * ```
 * @param items candidates
 * @param key stratum of an item
 * @param fraction share to keep in each stratum
 * @param seed seed
 * @returns indices (into `items`) that keep it
 */
export function stratifiedKeep<T>(items: T[], key: (t: T) => string, fraction: number, seed: number): Set<number> {
  const groups = new Map<string, number[]>();
  items.forEach((t, i) => {
    const k = key(t);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(i);
  });
  const keep = new Set<number>();
  for (const [k, idx] of groups) {
    const order = createRng(seed, hashString(k)).shuffle(idx);
    order.slice(0, Math.round(fraction * idx.length)).forEach((i) => keep.add(i));
  }
  return keep;
}

/** Row indices that keep about `max` rows per split, stratified by class and mask presence (seeded). */
function subsetRows(
  rows: ManifestRow[],
  splitOf: (i: number) => SplitName,
  max: number,
  seed: number,
): Set<number> {
  const keep = new Set<number>();
  for (const name of ["train", "val", "test"] as SplitName[]) {
    const idx = rows.map((_, i) => i).filter((i) => splitOf(i) === name);
    if (idx.length <= max) {
      idx.forEach((i) => keep.add(i));
      continue;
    }
    const kept = stratifiedKeep(
      idx,
      (i) => `${rows[i].label}|${rows[i].masks.length > 0}`,
      max / idx.length,
      seed + 101,
    );
    kept.forEach((k) => keep.add(idx[k]));
  }
  return keep;
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function checkFraction(name: string, v: number) {
  if (!(v >= 0 && v <= 1)) throw new DataError(name, `must be in [0, 1], got ${v}`, "pass a fraction such as 0.25");
}

/**
 * Loads every row of a manifest at the model size (decoded once, cached as Float32), assigns splits and
 * applies the semi-supervised fraction knobs to the train split.
 *
 * @example
 * ```ts
 * import { createDataset, readManifest, writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(dir, { count: 12, size: 32 });
 * const ds = await createDataset(readManifest(`${dir}/manifest.csv`), { size: 32 });
 * for (const b of ds.split("train").batches({ batchSize: 4 })) {
 *   assert.deepEqual(b.images.shape.slice(1), [32, 32, 1]);
 *   b.dispose();
 * }
 * ```
 * @param manifest a manifest from {@linkcode readManifest}
 * @param opts size, seed, fraction knobs, normalization
 * @returns the dataset
 * @throws {DataError} on the first bad row (unless `skipBad`), or when a split is empty
 */
export async function createDataset(manifest: Manifest, opts: DatasetOptions = {}): Promise<Dataset> {
  const size = opts.size ?? 64;
  const seed = opts.seed ?? 0;
  const classFrac = opts.classLabelFraction ?? 1, maskFrac = opts.maskFraction ?? 1;
  checkFraction("classLabelFraction", classFrac);
  checkFraction("maskFraction", maskFrac);
  if (!Number.isInteger(size) || size < 8) {
    throw new DataError("size", `must be an integer ≥ 8, got ${size}`, "e.g. 64");
  }
  const assigned = manifest.rows.some((r) => r.split === null)
    ? stratifiedSplit(manifest.rows, seed, opts.splitFractions)
    : null;
  const splitOf = (i: number) => manifest.rows[i].split ?? assigned![i];
  const maxPerSplit = opts.maxPerSplit ?? 0;
  if (!Number.isInteger(maxPerSplit) || maxPerSplit < 0) {
    throw new DataError("maxPerSplit", `must be an integer ≥ 0, got ${maxPerSplit}`, "0 keeps every row");
  }
  const subset = maxPerSplit > 0 ? subsetRows(manifest.rows, splitOf, maxPerSplit, seed) : null;
  const skipped: { file: string; message: string }[] = [];
  const samples: Sample[] = [];
  for (let i = 0; i < manifest.rows.length; i++) {
    const row = manifest.rows[i];
    const split = splitOf(i);
    if (opts.splits && !opts.splits.includes(split)) continue;
    if (subset && !subset.has(i)) continue;
    try {
      samples.push(await withDicomCodecs(() => loadSample(row, split, size, opts)));
    } catch (e) {
      if (!(e instanceof DataError) || !opts.skipBad) throw e;
      skipped.push({ file: e.file, message: e.message });
    }
    if (i % 64 === 63) await new Promise((r) => setTimeout(r, 0));
  }
  if (skipped.length) {
    console.error(`warning: skipped ${skipped.length} bad row(s) (--skip-bad); first: ${skipped[0].message}`);
  }
  hideByFractions(samples, classFrac, maskFrac, seed);
  const splits = new Map<SplitName, DatasetSplit>();
  for (const name of ["train", "val", "test"] as SplitName[]) {
    splits.set(name, makeSplit(name, samples.filter((s) => s.split === name), size, opts.normalize !== "zscore"));
  }
  return datasetOf(manifest, splits, size, skipped, opts);
}

/** One row's sample: the image decoded and prepared at `size`, its mask, label, split, source and pixel spacing. */
function loadSample(row: ManifestRow, split: SplitName, size: number, opts: DatasetOptions): Sample {
  const decoded = decodeFile(row.image);
  const image = prepareImage(decoded, row.image, { ...opts, size });
  const mask = row.masks.length
    ? loadMask(row.masks, {
      size,
      expectSize: { width: decoded.width, height: decoded.height, image: row.image },
    })
    : null;
  return {
    id: row.id,
    path: row.image,
    image,
    mask,
    label: row.label,
    split,
    hidden: { mask: false, label: false },
    ...(row.source ? { source: row.source } : {}),
    ...(decoded.pixelSpacing
      ? {
        spacing: [
          (decoded.pixelSpacing[0] * decoded.height) / size,
          (decoded.pixelSpacing[1] * decoded.width) / size,
        ] as [number, number],
      }
      : {}),
  };
}

/** The fraction knobs (train only): hides masks and class labels, each stratified by the true class. */
function hideByFractions(samples: Sample[], classFrac: number, maskFrac: number, seed: number): void {
  const train = samples.filter((s) => s.split === "train");
  const byClass = (s: Sample) => String(s.label);
  const masked = train.filter((s) => s.mask !== null);
  const keepMask = stratifiedKeep(masked, byClass, maskFrac, seed * 7919 + 2);
  const labeled = train.filter((s) => s.label !== null);
  const keepLabel = stratifiedKeep(labeled, byClass, classFrac, seed * 7919 + 1);
  masked.forEach((s, i) => {
    if (!keepMask.has(i)) {
      s.mask = null;
      s.hidden.mask = true;
    }
  });
  labeled.forEach((s, i) => {
    if (!keepLabel.has(i)) {
      s.label = null;
      s.hidden.label = true;
    }
  });
}

/** The dataset object over its splits. */
function datasetOf(
  manifest: Manifest,
  splits: Map<SplitName, DatasetSplit>,
  size: number,
  skipped: { file: string; message: string }[],
  opts: DatasetOptions,
): Dataset {
  return {
    size,
    classNames: manifest.classNames,
    skipped,
    split(name: SplitName) {
      const s = splits.get(name);
      if (!s) throw new DataError("split", `unknown split "${name}"`, "use train, val or test");
      if (s.size === 0) {
        throw new DataError(
          manifest.path,
          `split "${name}" is empty${opts.splits && !opts.splits.includes(name) ? " (not loaded)" : ""}`,
          "add rows with that split to the manifest, or leave the split column empty for a seeded split",
        );
      }
      return s;
    },
    partition() {
      const t = splits.get("train")!.samples;
      return {
        labeled: t.filter((s) => s.label !== null),
        maskOnly: t.filter((s) => s.label === null && s.mask !== null),
        unlabeled: t.filter((s) => s.label === null && s.mask === null),
        both: t.filter((s) => s.label !== null && s.mask !== null).length,
      };
    },
  };
}

function makeSplit(name: SplitName, samples: Sample[], size: number, clamp: boolean): DatasetSplit {
  const numBatches = (batchSize: number, remainder: "wrap" | "pad" | "drop" = "pad") =>
    remainder === "drop" ? Math.floor(samples.length / batchSize) : Math.ceil(samples.length / batchSize);
  return {
    name,
    samples,
    size: samples.length,
    numBatches,
    *batches(opts: BatchOptions) {
      const bs = opts.batchSize;
      if (!Number.isInteger(bs) || bs < 1) {
        throw new DataError("batchSize", `must be an integer ≥ 1, got ${bs}`, "e.g. 8");
      }
      const seed = opts.seed ?? 0, epoch = opts.epoch ?? 0;
      const remainder = opts.remainder ?? (opts.shuffle ? "wrap" : "pad");
      const order = opts.shuffle
        ? createRng(seed, epoch, 0x5eed).shuffle(samples.map((_, i) => i))
        : samples.map((_, i) => i);
      const augOpts = opts.augment ? { clamp, ...(opts.augment === true ? {} : opts.augment) } : null;
      const n = numBatches(bs, remainder);
      const px = size * size;
      for (let b = opts.skip ?? 0; b < n; b++) {
        const img = new Float32Array(bs * px), msk = new Float32Array(bs * px);
        const hasMask = new Float32Array(bs), labels = new Int32Array(bs), hasLabel = new Float32Array(bs);
        const valid = new Float32Array(bs);
        const ids: string[] = [], members: (Sample | null)[] = [];
        for (let k = 0; k < bs; k++) {
          const pos = b * bs + k;
          if (pos >= order.length && remainder === "pad") {
            ids.push("");
            members.push(null);
            continue;
          }
          const s = samples[order[pos % order.length]];
          let image = s.image, mask = s.mask;
          if (augOpts) {
            const a = augmentPair(image, mask, size, createRng(seed, epoch, pos, 0xa09), augOpts);
            image = a.image;
            mask = a.mask;
          }
          img.set(image, k * px);
          if (mask) {
            msk.set(mask, k * px);
            hasMask[k] = 1;
          }
          if (s.label !== null) {
            labels[k] = s.label;
            hasLabel[k] = 1;
          }
          valid[k] = 1;
          ids.push(s.id);
          members.push(s);
        }
        const batch: Batch = {
          images: tf.tensor4d(img, [bs, size, size, 1]),
          masks: tf.tensor4d(msk, [bs, size, size, 1]),
          hasMask: tf.tensor1d(hasMask),
          labels: tf.tensor1d(labels, "int32"),
          hasLabel: tf.tensor1d(hasLabel),
          valid: tf.tensor1d(valid),
          ids,
          samples: members,
          dispose() {
            tf.dispose([batch.images, batch.masks, batch.hasMask, batch.labels, batch.hasLabel, batch.valid]);
          },
        };
        yield batch;
      }
    },
  };
}
