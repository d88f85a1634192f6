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
import { resolveModel } from "./export.ts";

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

async function loadModels(modelArg: string) {
  const model = resolveModel(modelArg);
  const ck = await loadCheckpoint(model);
  const config = ck.config as unknown as RunConfig;
  const segmentor = config.mode !== "cls" ? await loadCheckpointModel(model, "segmentor") : undefined;
  const discriminator = config.mode !== "seg" ? await loadCheckpointModel(model, "discriminator") : undefined;
  return { config, segmentor, discriminator, state: ck.state };
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
  /** Checkpoint or exported model folder, or `"pretrained"`. */
  model: string;
  /** Image files, or one manifest CSV (its `image` column). */
  inputs: string[];
  /** Output folder (created). */
  out: string;
  /** Process only part `k` of `n` (1-based), for independent parallel processes. Default 1/1. */
  shard?: { k: number; n: number };
  /** Batch size. Default: the run's. */
  batchSize?: number;
  /**
   * Skip inputs that cannot be read (listed in the result and on stderr) instead of stopping before any output is
   * written. Default `false`.
   */
  skipBad?: boolean;
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
 * Every input is read once before anything is written: a bad input stops the call with its name (or, with
 * `skipBad`, is left out and listed). Ids come from the manifest's `id` column or the file names; two inputs with
 * one file name get distinct ids (`name`, `name-2`, …). `predictions.jsonl` is written to a temporary file and
 * renamed at the end, so a failed call never truncates an earlier one's results.
 *
 * @example
 * ```ts ignore
 * import { predict } from "@appaunet/appaunet";
 * await predict({ model: "runs/demo/checkpoints/best", inputs: ["xray.png"], out: "pred" });
 * ```
 * @param opts checkpoint, inputs, output folder, shard
 * @returns the records written (with `skipped` listing the inputs left out by `skipBad`)
 */
export async function predict(
  opts: PredictOptions,
): Promise<PredictionRecord[] & { skipped?: { file: string; message: string }[] }> {
  const shard = opts.shard ?? { k: 1, n: 1 };
  if (!(Number.isInteger(shard.k) && Number.isInteger(shard.n) && shard.k >= 1 && shard.k <= shard.n)) {
    throw new Error(`--shard: expected k/n with 1 ≤ k ≤ n, got ${shard.k}/${shard.n}`);
  }
  if (opts.inputs.length === 0) throw new Error("predict: no inputs; pass image files or a manifest CSV");
  let inputs: { file: string; id: string }[];
  if (opts.inputs.length === 1 && opts.inputs[0].toLowerCase().endsWith(".csv")) {
    inputs = readManifest(opts.inputs[0]).rows.map((r) => ({ file: r.image, id: r.id })); // ids checked, unique
  } else {
    const used = new Map<string, number>();
    inputs = opts.inputs.map((file) => {
      const stem = path.basename(file).replace(/\.[^.]+$/, "") || "image";
      const n = (used.get(stem) ?? 0) + 1;
      used.set(stem, n);
      return { file, id: n === 1 ? stem : `${stem}-${n}` };
    });
    // A later stem may equal an earlier generated one ("a-2" given after two "a"): make those distinct too.
    const seen = new Set<string>();
    for (const x of inputs) {
      let id = x.id;
      for (let k = 2; seen.has(id); k++) id = `${x.id}-${k}`;
      x.id = id;
      seen.add(id);
    }
  }
  inputs = inputs.filter((_, i) => i % shard.n === shard.k - 1);
  const m = await loadModels(opts.model);
  const size = m.config.size, bs = opts.batchSize ?? m.config.batchSize;
  const read = (f: string) => {
    try {
      return loadImage(f, { size, normalize: m.config.normalize, clahe: m.config.clahe });
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(f, (e as Error).message, "check the file");
    }
  };
  // Read every input before writing anything.
  const skipped: { file: string; message: string }[] = [];
  try {
    inputs = inputs.filter(({ file }) => {
      try {
        read(file);
        return true;
      } catch (e) {
        if (!opts.skipBad || !(e instanceof DataError)) throw e;
        skipped.push({ file, message: (e as Error).message });
        return false;
      }
    });
  } catch (e) {
    m.segmentor?.dispose();
    m.discriminator?.dispose();
    throw e;
  }
  for (const s of skipped) console.error(`skipped (--skip-bad): ${s.message}`);
  const files = inputs.map((x) => x.file);
  await Deno.mkdir(opts.out, { recursive: true });
  const records: PredictionRecord[] & { skipped?: typeof skipped } = [];
  if (skipped.length) records.skipped = skipped;
  const jsonl = path.join(opts.out, shard.n > 1 ? `predictions.${shard.k}-of-${shard.n}.jsonl` : "predictions.jsonl");
  const tmpJsonl = `${jsonl}.tmp`;
  await Deno.writeTextFile(tmpJsonl, "");
  try {
    for (let i = 0; i < files.length; i += bs) {
      const chunk = files.slice(i, i + bs);
      const images = chunk.map(read);
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
        const id = inputs[i + j].id;
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
        await Deno.writeTextFile(tmpJsonl, JSON.stringify(rec) + "\n", { append: true });
      }
    }
    await Deno.rename(tmpJsonl, jsonl);
  } catch (e) {
    await Deno.remove(tmpJsonl).catch(() => {});
    throw e;
  } finally {
    m.segmentor?.dispose();
    m.discriminator?.dispose();
  }
  return records;
}
