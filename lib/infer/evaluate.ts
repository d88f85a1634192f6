/**
 * `evaluate(opts)`: metrics of a checkpoint or model folder on a split of a manifest.
 *
 * @module
 */
import { openModel, type RunConfig } from "../checkpoint/open_model.ts";
import { evaluateSplit, type ImagePrediction, type SplitMetrics } from "./evaluation.ts";
import { createDataset, type Dataset } from "../data/dataset.ts";
import { readManifest } from "../data/manifest.ts";
import { checkBatchSize } from "../model/limits.ts";
import type { Calibration } from "../checkpoint/calibration.ts";

function batchSize(given: number | undefined, config: RunConfig): number {
  const bs = given ?? config.batchSize;
  checkBatchSize(bs, config.size, "batchSize (--batch-size)");
  return bs;
}

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Checkpoint or exported model folder (e.g. `runs/x/checkpoints/best`), or `"pretrained"`. */
  model: string;
  /** Manifest CSV. */
  data: string;
  /** Split. Default `"test"`. */
  split?: "train" | "val" | "test";
  /** Batch size. Default: the run's. */
  batchSize?: number;
  /** Skip unreadable rows. Default `false`. */
  skipBad?: boolean;
  /**
   * The calibration to apply: default the model's own (fitted on val when it was saved; none for checkpoints written
   * before calibration existed); `null` for raw probabilities and argmax decisions.
   */
  calibration?: Calibration | null;
  /** Also compute each image's HD95, pieces and post-processed metrics (`ImagePrediction.field`). Default `false`. */
  fieldMetrics?: boolean;
}

/**
 * Evaluates a checkpoint on a split of a manifest (inference mode).
 *
 * @example
 * ```ts
 * import { evaluate, initBackend, train, writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(`${dir}/data`, { count: 12, size: 32 });
 * const data = `${dir}/data/manifest.csv`;
 * const small = { baseFilters: 4 }; // a tiny model, so that the example runs in seconds
 * await train({ data, out: `${dir}/run`, size: 32, epochs: 1, batchSize: 4, segmentor: small, discriminator: small, progress: "none" });
 * const r = await evaluate({ model: `${dir}/run/checkpoints/best`, data, split: "test" });
 * const dice = r.metrics.segmentation?.dice.mean ?? NaN;
 * assert.ok(dice >= 0 && dice <= 1);
 * assert.equal(r.predictions.length, r.metrics.n);
 * ```
 * @param opts checkpoint, manifest, split
 * @returns metrics, per-image predictions (id, label, Dice, Jaccard, class probabilities), the split, the epoch of the
 * checkpoint and the class names
 */
export async function evaluate(
  opts: EvaluateOptions,
): Promise<
  {
    metrics: SplitMetrics;
    predictions: ImagePrediction[];
    split: string;
    epoch: number;
    classNames: string[];
    calibration?: Calibration;
  }
> {
  const split = opts.split ?? "test";
  if (!["train", "val", "test"].includes(split)) {
    throw new Error(`split (--split): "${split}" is not train, val or test`);
  }
  const m = await openModel(opts.model);
  try {
    const ds = await datasetForRun(m.config, opts.data, split, opts.skipBad);
    const { metrics, predictions } = await evaluateSplit(
      {
        segmentor: m.segmentor,
        discriminator: m.discriminator,
        mode: m.config.mode,
        classifierInput: m.config.classifierInput,
        calibration: opts.calibration === null ? undefined : opts.calibration ?? m.calibration,
      },
      ds.split(split),
      batchSize(opts.batchSize, m.config),
      0,
      opts.fieldMetrics,
    );
    return {
      metrics,
      predictions,
      split,
      epoch: Number(m.state.epoch),
      classNames: m.config.classNames,
      ...(m.calibration ? { calibration: m.calibration } : {}),
    };
  } finally {
    m.dispose();
  }
}

/** Loads a dataset split for evaluation with a run's config. */
async function datasetForRun(
  config: {
    size: number;
    seed: number;
    normalize?: "unit" | "zscore";
    clahe?: boolean;
    maxPerSplit?: number;
    classNames?: string[];
  },
  data: string,
  split: "train" | "val" | "test",
  skipBad = false,
): Promise<Dataset> {
  // The model's class names: labels given by name are matched by name, and label_name must agree with the index.
  return await createDataset(readManifest(data, config.classNames ? { classNames: config.classNames } : {}), {
    size: config.size,
    seed: config.seed,
    normalize: config.normalize,
    clahe: config.clahe,
    splits: [split],
    skipBad,
    maxPerSplit: config.maxPerSplit,
  });
}
