/**
 * `evaluate(opts)` (metrics of a checkpoint on a split) and `predict(opts)` (masks, overlays and class
 * probabilities for new images).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { DataError } from "../data/errors.ts";
import { loadImage } from "../data/load.ts";
import { readManifest } from "../data/manifest.ts";
import { maskPng, overlayPng } from "../report/overlay.ts";
import { loadCheckpoint, loadCheckpointModel } from "./checkpoint.ts";
import { evaluateSplit, type ImagePrediction, inferenceOutputs, type SplitMetrics } from "./evaluation.ts";
import { datasetForRun } from "./trainer.ts";

interface RunConfig {
  mode: "mtl" | "seg" | "cls";
  size: number;
  seed: number;
  batchSize: number;
  normalize?: "unit" | "zscore";
  clahe?: boolean;
  classNames: string[];
  maxPerSplit?: number;
}

async function loadModels(model: string) {
  const ck = await loadCheckpoint(model);
  const config = ck.config as unknown as RunConfig;
  const segmentor = config.mode !== "cls" ? await loadCheckpointModel(model, "segmentor") : undefined;
  const discriminator = config.mode !== "seg" ? await loadCheckpointModel(model, "discriminator") : undefined;
  return { config, segmentor, discriminator, state: ck.state };
}

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Checkpoint folder, e.g. `runs/x/checkpoints/best`. */
  model: string;
  /** Manifest CSV. */
  data: string;
  /** Split. Default `"test"`. */
  split?: "train" | "val" | "test";
  /** Batch size. Default: the run's. */
  batchSize?: number;
  /** Skip unreadable rows. Default `false`. */
  skipBad?: boolean;
}

/**
 * Evaluates a checkpoint on a split of a manifest (inference mode).
 *
 * @example
 * ```ts ignore
 * import { evaluate } from "@appaunet/appaunet";
 * const r = await evaluate({ model: "runs/demo/checkpoints/best", data: "fixtures/phantoms/manifest.csv" });
 * console.log(r.metrics.segmentation?.dice.mean);
 * ```
 * @param opts checkpoint, manifest, split
 * @returns metrics, per-image predictions (id, label, Dice, Jaccard, class probabilities), the split, the epoch of the
 * checkpoint and the class names
 */
export async function evaluate(
  opts: EvaluateOptions,
): Promise<
  { metrics: SplitMetrics; predictions: ImagePrediction[]; split: string; epoch: number; classNames: string[] }
> {
  const split = opts.split ?? "test";
  if (!["train", "val", "test"].includes(split)) throw new Error(`--split: "${split}" is not train, val or test`);
  const m = await loadModels(opts.model);
  try {
    const ds = await datasetForRun(m.config, opts.data, split, opts.skipBad);
    const { metrics, predictions } = await evaluateSplit(
      { segmentor: m.segmentor, discriminator: m.discriminator, mode: m.config.mode },
      ds.split(split),
      opts.batchSize ?? m.config.batchSize,
    );
    return { metrics, predictions, split, epoch: Number(m.state.epoch), classNames: m.config.classNames };
  } finally {
    m.segmentor?.dispose();
    m.discriminator?.dispose();
  }
}

/** Options for {@linkcode predict}. */
export interface PredictOptions {
  /** Checkpoint folder. */
  model: string;
  /** Image files, or one manifest CSV (its `image` column). */
  inputs: string[];
  /** Output folder (created). */
  out: string;
  /** Process only part `k` of `n` (1-based), for independent parallel processes. Default 1/1. */
  shard?: { k: number; n: number };
  /** Batch size. Default: the run's. */
  batchSize?: number;
}

/** One line of `predictions.jsonl`. */
export interface PredictionRecord {
  /** Image id (file name without extension). */
  id: string;
  /** Input path. */
  image: string;
  /** Mask PNG path (seg/mtl). */
  mask?: string;
  /** Overlay PNG path (seg/mtl). */
  overlay?: string;
  /** Share of pixels predicted as lung. */
  lungFraction?: number;
  /** Class probabilities by class name (mtl/cls). */
  probabilities?: Record<string, number>;
  /** Argmax class name (mtl/cls). */
  predictedClass?: string;
}

/**
 * Predicts masks and classes: per image `<id>_mask.png`, `<id>_overlay.png` and a line in `predictions.jsonl`.
 *
 * @example
 * ```ts ignore
 * import { predict } from "@appaunet/appaunet";
 * await predict({ model: "runs/demo/checkpoints/best", inputs: ["xray.png"], out: "pred" });
 * ```
 * @param opts checkpoint, inputs, output folder, shard
 * @returns the records written
 */
export async function predict(opts: PredictOptions): Promise<PredictionRecord[]> {
  const shard = opts.shard ?? { k: 1, n: 1 };
  if (!(Number.isInteger(shard.k) && Number.isInteger(shard.n) && shard.k >= 1 && shard.k <= shard.n)) {
    throw new Error(`--shard: expected k/n with 1 ≤ k ≤ n, got ${shard.k}/${shard.n}`);
  }
  if (opts.inputs.length === 0) throw new Error("predict: no inputs; pass image files or a manifest CSV");
  let files = opts.inputs;
  if (files.length === 1 && files[0].toLowerCase().endsWith(".csv")) {
    files = readManifest(files[0]).rows.map((r) => r.image);
  }
  files = files.filter((_, i) => i % shard.n === shard.k - 1);
  const m = await loadModels(opts.model);
  const size = m.config.size, bs = opts.batchSize ?? m.config.batchSize;
  await Deno.mkdir(opts.out, { recursive: true });
  const records: PredictionRecord[] = [];
  const jsonl = path.join(opts.out, shard.n > 1 ? `predictions.${shard.k}-of-${shard.n}.jsonl` : "predictions.jsonl");
  await Deno.writeTextFile(jsonl, "");
  try {
    for (let i = 0; i < files.length; i += bs) {
      const chunk = files.slice(i, i + bs);
      const images = chunk.map((f) => {
        try {
          return loadImage(f, { size, normalize: m.config.normalize, clahe: m.config.clahe });
        } catch (e) {
          if (e instanceof DataError) throw e;
          throw new DataError(f, (e as Error).message, "check the file");
        }
      });
      const buf = new Float32Array(bs * size * size);
      images.forEach((im, k) => buf.set(im, k * size * size));
      const out = tf.tidy(() =>
        inferenceOutputs(
          { segmentor: m.segmentor, discriminator: m.discriminator, mode: m.config.mode },
          tf.tensor4d(buf, [bs, size, size, 1]),
        )
      );
      const pred = out.pred ? (await out.pred.data()) as Float32Array : undefined;
      const probs = out.probs ? (await out.probs.data()) as Float32Array : undefined;
      tf.dispose(Object.values(out));
      const k = m.config.classNames.length;
      for (let j = 0; j < chunk.length; j++) {
        const id = path.basename(chunk[j]).replace(/\.[^.]+$/, "");
        const rec: PredictionRecord = { id, image: chunk[j] };
        if (pred) {
          const p = pred.slice(j * size * size, (j + 1) * size * size);
          rec.mask = path.join(opts.out, `${id}_mask.png`);
          rec.overlay = path.join(opts.out, `${id}_overlay.png`);
          await Deno.writeFile(rec.mask, maskPng(p, size));
          await Deno.writeFile(rec.overlay, overlayPng(images[j], p, null, size));
          rec.lungFraction = p.reduce((a, v) => a + (v > 0.5 ? 1 : 0), 0) / p.length;
        }
        if (probs) {
          const pr = Array.from(probs.slice(j * k, (j + 1) * k));
          rec.probabilities = Object.fromEntries(m.config.classNames.map((n, c) => [n, pr[c]]));
          rec.predictedClass = m.config.classNames[pr.indexOf(Math.max(...pr))];
        }
        records.push(rec);
        await Deno.writeTextFile(jsonl, JSON.stringify(rec) + "\n", { append: true });
      }
    }
  } finally {
    m.segmentor?.dispose();
    m.discriminator?.dispose();
  }
  return records;
}
