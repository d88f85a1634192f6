/**
 * `predict(opts)`: lung masks (in each image's own geometry), overlays, probability maps and class probabilities
 * for new images, with sharding for job schedulers, resumption, and `mergePredictions` for the shard files.
 *
 * Over 400 lines: prediction over files, its shards and their merge, which share one folder format.
 *
 * @module
 */
import { describeOsError, syncFile, writeFileAtomically } from "../io/fs.ts";
import {
  checkShardRuns,
  type ClaimedPredictionFolder,
  claimPredictionFolder,
  markMerged,
  modelDigest,
  type PredictionIdentity,
} from "./prediction_folder.ts";
import { lungMaskAt } from "../data/postprocess.ts";
import { calibrate, decideClass } from "../checkpoint/calibration.ts";
import * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { type DecodedImage, decodeImageBytes } from "../data/decode.ts";
import { DataError } from "../data/errors.ts";
import { inputLimits, readFileChecked } from "../data/load.ts";
import { withDicomCodecs } from "../data/dicom_codecs.ts";
import { readManifest } from "../data/manifest.ts";
import { checkImageGeometry, prepareImage } from "../data/prepare_image.ts";
import { resizeBilinear, resizeMaskNearest } from "../data/resize.ts";
import { encodeGrayPng } from "../io/png.ts";
import { maskPng, overlayPng } from "../io/overlay.ts";
import { inferenceOutputs } from "./evaluation.ts";
import { REDUCED_DECODE } from "./predict_image.ts";
import { dicomSeg, type SegSource, segSource } from "./dicom_seg.ts";
import { type OpenedModel, openModel } from "../checkpoint/open_model.ts";
import { checkBatchSize } from "../model/limits.ts";

/** Options for {@linkcode predict}. */
export interface PredictOptions {
  /** Checkpoint or exported model folder, or `"pretrained"`. */
  model: string;
  /** Image files, folders of images (their PNG, JPEG and DICOM files, not recursive), or one manifest CSV. */
  inputs: string[];
  /** Output folder (created). */
  out: string;
  /** Process only part `k` of `n` (1-based), for independent parallel processes (see {@linkcode shardFromSpec}). */
  shard?: { k: number; n: number };
  /** Batch size. Default: the run's. */
  batchSize?: number;
  /**
   * Skip inputs that cannot be read (listed in the result and on stderr) instead of stopping before any output is
   * written. Default `false`.
   */
  skipBad?: boolean;
  /** Lung where the probability is at least this. Default 0.5. */
  threshold?: number;
  /** Also write `<id>_prob.png`: the lung probability map as a 16-bit PNG (0 … 65535 ↔ 0 … 1). Default `false`. */
  probabilities?: boolean;
  /**
   * Keep the results already in the output's JSONL and predict only the images not in it. Refused when they were made
   * by another model or other options (size, threshold, post-processing, probability maps). Default `false`.
   */
  resume?: boolean;
  /**
   * Replace the predictions of another model or other options in `out` (they are removed first). Without it such a
   * folder is refused, so that it never holds two models' results. Default `false`.
   */
  overwrite?: boolean;
  /**
   * For each DICOM input, also write `<id>_seg.dcm`: a DICOM Segmentation object (binary, one segment "lung") in the
   * image's geometry, referencing its study, series and instance (see `dicomSeg`). Needs a model with a segmentor.
   * Default `false`.
   */
  dicomSeg?: boolean;
  /**
   * Clean each mask as lung pipelines do: keep the two largest components, fill holes (see `cleanMask`). The
   * probability map is written as the model gave it. Default `true`.
   */
  postprocess?: boolean;
  /**
   * Decode JPEG 2000 and HTJ2K inputs only down to the wavelet level that still has `REDUCED_DECODE` (4) × the
   * model's side, as `serve` does (a 2048² JPEG 2000 X-ray in ≈ 35 ms instead of ≈ 0.6 s; see `REDUCED_DECODE` for
   * what it changes). Masks, probability maps and DICOM SEG keep the image's own size; the overlay is drawn at the
   * decoded size. Other formats decode in full either way. Default `false`: every input decodes in full.
   */
  reducedDecode?: boolean;
}

/** One line of `predictions.jsonl`. */
export interface PredictionRecord {
  /** Image id (the manifest's id, else the file name without extension; made unique). */
  id: string;
  /** Input path. */
  image: string;
  /** The image's own width and height: masks and maps have this size. */
  width?: number;
  /** See `width`. */
  height?: number;
  /** Mask PNG path (seg/mtl), in the image's geometry. */
  mask?: string;
  /** Overlay PNG path (seg/mtl): at the image's size, or at its decoded size with `reducedDecode`. */
  overlay?: string;
  /** 16-bit probability map PNG path (with `probabilities`). */
  probabilityMap?: string;
  /** DICOM Segmentation object path (with `dicomSeg`, DICOM inputs only). */
  dicomSeg?: string;
  /** Share of the image's pixels predicted as lung. */
  lungFraction?: number;
  /** Class probabilities by class name (mtl/cls). */
  probabilities?: Record<string, number>;
  /** The decided class name (mtl/cls): the model's val-chosen threshold with two classes, else the argmax. */
  predictedClass?: string;
  /** DICOM inputs: the pixel spacing in mm, `[row, column]`, for metrics in millimetres. */
  pixelSpacing?: [number, number];
}

const IMAGE_EXT = /\.(png|jpe?g|dcm|dicom)$/i;

/**
 * Reads `--shard`: `k/n`, or `env/n` / `env` to take k from a job scheduler — a Kubernetes Indexed Job's
 * `JOB_COMPLETION_INDEX` (0-based) or a Slurm array's `SLURM_ARRAY_TASK_ID` (counted from `SLURM_ARRAY_TASK_MIN`);
 * with `env` alone, n comes from `SLURM_ARRAY_TASK_COUNT`.
 *
 * @example
 * ```ts
 * import { shardFromSpec } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.deepEqual(shardFromSpec("2/4", {}), { k: 2, n: 4 });
 * assert.deepEqual(shardFromSpec("env/4", { JOB_COMPLETION_INDEX: "3" }), { k: 4, n: 4 });
 * assert.deepEqual(shardFromSpec("env", { SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_MIN: "4", SLURM_ARRAY_TASK_COUNT: "3" }), { k: 2, n: 3 });
 * assert.throws(() => shardFromSpec("env/2", {}), /JOB_COMPLETION_INDEX/);
 * ```
 * @param spec the flag's value
 * @param env the environment (e.g. `Deno.env.toObject()`)
 * @returns the shard, 1-based
 * @throws {Error} naming `--shard` and what is missing
 */
export function shardFromSpec(spec: string, env: Record<string, string | undefined>): { k: number; n: number } {
  const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined);
  let k: number | undefined;
  const m = spec.match(/^(\d+|env)(?:\/(\d+))?$/);
  if (!m || (m[1] !== "env" && m[2] === undefined)) {
    throw new Error(`shard (--shard): "${spec}" is not k/n, env/n or env (e.g. 2/4)`);
  }
  const n = m[2] !== undefined ? Number(m[2]) : int(env.SLURM_ARRAY_TASK_COUNT);
  if (m[1] !== "env") k = Number(m[1]);
  else if (int(env.JOB_COMPLETION_INDEX) !== undefined) k = int(env.JOB_COMPLETION_INDEX)! + 1;
  else if (int(env.SLURM_ARRAY_TASK_ID) !== undefined) {
    k = int(env.SLURM_ARRAY_TASK_ID)! - (int(env.SLURM_ARRAY_TASK_MIN) ?? 0) + 1;
  } else {
    throw new Error(
      `shard (--shard ${spec}): neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) ` +
        "is set; give k/n",
    );
  }
  if (n === undefined) throw new Error(`shard (--shard ${spec}): the number of shards is unknown; give env/n`);
  if (!(k >= 1 && k <= n)) throw new Error(`shard (--shard ${spec}): shard ${k} of ${n} is out of range (1 ≤ k ≤ n)`);
  return { k, n };
}

/** The JSONL file a (sharded) prediction writes. */
export function predictionsFile(out: string, shard: { k: number; n: number } = { k: 1, n: 1 }): string {
  return path.join(out, shard.n > 1 ? `predictions.${shard.k}-of-${shard.n}.jsonl` : "predictions.jsonl");
}

function expandInputs(inputs: string[]): { file: string; id: string }[] {
  if (inputs.length === 1 && inputs[0].toLowerCase().endsWith(".csv")) {
    return readManifest(inputs[0]).rows.map((r) => ({ file: r.image, id: r.id })); // ids checked, unique
  }
  const files: string[] = [];
  for (const inp of inputs) {
    let isDir = false;
    try {
      isDir = Deno.statSync(inp).isDirectory;
    } catch { /* missing: reported when read */ }
    if (!isDir) {
      files.push(inp);
      continue;
    }
    const found = [...Deno.readDirSync(inp)].filter((e) => e.isFile && IMAGE_EXT.test(e.name)).map((e) => e.name)
      .sort();
    if (!found.length) throw new DataError(inp, "the folder holds no PNG, JPEG or DICOM file", "pass image files");
    files.push(...found.map((n) => path.join(inp, n)));
  }
  const used = new Map<string, number>(), seen = new Set<string>();
  return files.map((file) => {
    const stem = path.basename(file).replace(/\.[^.]+$/, "") || "image";
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    let id = n === 1 ? stem : `${stem}-${n}`;
    // A later stem may equal an earlier generated one ("a-2" after two "a"): keep every id distinct.
    for (let k = 2; seen.has(id); k++) id = `${stem}-${n}-${k}`;
    seen.add(id);
    return { file, id };
  });
}

async function readJsonl(file: string): Promise<{ lines: string[]; ids: Set<string> }> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { lines: [], ids: new Set() };
    throw e;
  }
  const lines = text.split("\n").filter((l) => l.trim());
  const ids = new Set<string>();
  lines.forEach((l, i) => {
    try {
      ids.add(String(JSON.parse(l).id));
    } catch {
      throw new DataError(`${file}:${i + 1}`, "not a JSON line", "remove the line or the file and predict again");
    }
  });
  return { lines, ids };
}

/**
 * Decoded images `predict` keeps between reading every input (before writing anything) and running its batch: 1 GiB
 * of pixels (64 images of 2048², thousands at the sizes chest X-ray sets ship), so that each image is decoded once.
 */
const DECODED_CACHE_BYTES = 1024 ** 3;

/**
 * Predicts lung masks and classes. Each image is squashed to the model's square input (as the training data were,
 * which keeps the lungs' full extent; letterboxing would add borders the model never saw), and the predicted
 * probability map is resized back (bilinear) to the image's own width and height. Per image it writes
 * `<id>_mask.png` (0/255, lung where the probability ≥ `threshold`), `<id>_overlay.png`, with `probabilities`
 * `<id>_prob.png`, and a line in `predictions.jsonl` (`predictions.k-of-n.jsonl` for a shard).
 *
 * Every input is read once before anything is written: a bad input stops the call with its name (or, with
 * `skipBad`, is left out and listed). The JSONL is written to a temporary file and renamed at the end, so a failed
 * call never truncates an earlier one's results; with `resume` it keeps the earlier lines and predicts only the rest.
 *
 * @example
 * ```ts
 * import { initBackend, predict, train, writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(`${dir}/data`, { count: 12, size: 32 });
 * const data = `${dir}/data/manifest.csv`;
 * const small = { baseFilters: 4 }; // a tiny model, so that the example runs in seconds
 * await train({ data, out: `${dir}/run`, size: 32, epochs: 1, batchSize: 4, segmentor: small, discriminator: small, progress: "none" });
 * const records = await predict({ model: `${dir}/run/checkpoints/best`, inputs: [`${dir}/data/images`], out: `${dir}/pred` });
 * assert.equal(records.length, 12);
 * assert.ok(records.every((r) => r.mask && r.predictedClass));
 * // With your own X-rays: predict({ model: "pretrained", inputs: ["xray.png"], out: "pred", probabilities: true })
 * ```
 * @param opts model, inputs, output folder, shard, threshold, resume
 * @returns the records written by this call (with `skipped` listing the inputs left out by `skipBad`)
 */
export async function predict(
  opts: PredictOptions,
): Promise<PredictionRecord[] & { skipped?: { file: string; message: string }[] }> {
  const { shard, threshold } = checkPredictOptions(opts);
  let inputs = expandInputs(opts.inputs).filter((_, i) => i % shard.n === shard.k - 1);
  const jsonl = predictionsFile(opts.out, shard);
  const m = await openModel(opts.model);
  const run: PredictRun = { opts, m, size: m.config.size, threshold };
  const bs = opts.batchSize ?? m.config.batchSize;
  const identity: PredictionIdentity = {
    modelDigest: await modelDigest(m.dir),
    model: opts.model,
    size: run.size,
    threshold,
    postprocess: opts.postprocess !== false,
    probabilities: Boolean(opts.probabilities),
    ...(opts.dicomSeg ? { dicomSeg: true } : {}),
    ...(opts.reducedDecode ? { reducedDecode: true } : {}),
  };
  const claim = () =>
    claimPredictionFolder(opts.out, path.basename(jsonl), identity, { resume: opts.resume, overwrite: opts.overwrite });
  let claimed: ClaimedPredictionFolder | undefined;
  let earlier = { lines: [] as string[], ids: new Set<string>() };
  let read: ReadInputs;
  try {
    checkBatchSize(bs, run.size, "batchSize (--batch-size)");
    if (opts.dicomSeg && !m.segmentor) {
      throw new Error(
        `dicomSeg (--dicom-seg): the model is a ${m.config.mode} model without a segmentor; it makes no masks`,
      );
    }
    if (opts.resume) {
      // Refuses another model's or other options' run before reading its lines.
      claimed = await claim();
      earlier = await readJsonl(jsonl);
      inputs = inputs.filter((x) => !earlier.ids.has(x.id));
    }
    read = await readInputs(inputs, opts, opts.reducedDecode ? REDUCED_DECODE * run.size : 0); // before any write
    for (const s of read.skipped) console.error(`skipped (--skip-bad): ${s.message}`);
    claimed ??= await claim();
  } catch (e) {
    m.dispose();
    throw e;
  }
  const records: PredictionRecord[] & { skipped?: ReadInputs["skipped"] } = [];
  if (read.skipped.length) records.skipped = read.skipped;
  const tmpJsonl = `${jsonl}.tmp`;
  await Deno.writeTextFile(tmpJsonl, earlier.lines.map((l) => l + "\n").join(""));
  try {
    for (let i = 0; i < read.inputs.length; i += bs) {
      const chunk = read.inputs.slice(i, i + bs);
      const decoded = chunk.map((x) => read.take(x.file));
      const out = await batchOutputs(run, decoded.map((d, k) => ({ image: d, file: chunk[k].file })), bs);
      for (let j = 0; j < chunk.length; j++) {
        const seg = read.segSources.get(chunk[j].file);
        const rec = await writePrediction(run, chunk[j], decoded[j], out.pred?.(j), out.probs?.(j), seg);
        records.push(rec);
        await Deno.writeTextFile(tmpJsonl, JSON.stringify(rec) + "\n", { append: true });
      }
    }
    await syncFile(tmpJsonl); // the lines were appended one by one: on disk before the rename publishes them
    await Deno.rename(tmpJsonl, jsonl);
    await claimed.complete();
  } catch (e) {
    // The run stays marked incomplete (predictions.run.json) and its temporary JSONL lists what it wrote, so that the
    // next run finishes or replaces it; the earlier predictions.jsonl is untouched.
    if (e instanceof DataError) throw e;
    throw describeOsError(e, `--out ${opts.out}`, "write the predictions");
  } finally {
    m.dispose();
  }
  return records;
}

/** What a prediction run writes with. */
interface PredictRun {
  opts: PredictOptions;
  m: OpenedModel;
  size: number;
  threshold: number;
}

/** The options' own checks, before anything is read. */
function checkPredictOptions(opts: PredictOptions): { shard: { k: number; n: number }; threshold: number } {
  const shard = opts.shard ?? { k: 1, n: 1 };
  if (!(Number.isInteger(shard.k) && Number.isInteger(shard.n) && shard.k >= 1 && shard.k <= shard.n)) {
    throw new Error(`shard (--shard): expected k/n with 1 ≤ k ≤ n, got ${shard.k}/${shard.n}`);
  }
  const threshold = opts.threshold ?? 0.5;
  if (!(threshold > 0 && threshold < 1)) {
    throw new Error(`threshold (--threshold): must be in (0, 1), got ${threshold}`);
  }
  if (opts.inputs.length === 0) throw new Error("predict: no inputs; pass image files, folders or a manifest CSV");
  return { shard, threshold };
}

/** Decodes an input's bytes, its geometry checked; any failure is a DataError naming the file. */
function decodeInput(f: string, bytes: Uint8Array, minSide: number): DecodedImage {
  try {
    const img = decodeImageBytes(bytes, f, { maxPixels: inputLimits().maxPixels, minSide });
    checkImageGeometry(img.fullSize ?? img, f);
    return img;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(f, (e as Error).message, "check the file");
  }
}

/** The readable inputs, the skipped ones, and each decoded image for its batch. */
interface ReadInputs {
  inputs: { file: string; id: string }[];
  skipped: { file: string; message: string }[];
  /** The decoded image (kept from the read when it fitted in the cache, else decoded again). */
  take(file: string): DecodedImage;
  /** With `dicomSeg`: a DICOM input's header fields for its SEG, read once during the read. */
  segSources: Map<string, SegSource>;
}

/**
 * Reads every input before anything is written (with `skipBad`, unreadable ones are left out and listed). The
 * decoded images are kept for the batches while they fit in DECODED_CACHE_BYTES (each image is then decoded once);
 * past that, the rest are decoded again when their batch runs. With `dicomSeg`, a DICOM's UIDs are checked now.
 */
async function readInputs(
  all: { file: string; id: string }[],
  opts: PredictOptions,
  minSide: number,
): Promise<ReadInputs> {
  const skipped: ReadInputs["skipped"] = [];
  const cache = new Map<string, DecodedImage>(), segSources = new Map<string, SegSource>();
  let cachedBytes = 0;
  const inputs: ReadInputs["inputs"] = [];
  for (const input of all) {
    const { file } = input;
    try {
      // Read once: the decode (and its retry once a decoder has loaded) and the SEG's header fields share the bytes.
      const bytes = readFileChecked(file);
      const img = await withDicomCodecs(() => decodeInput(file, bytes, minSide));
      if (opts.dicomSeg && img.format === "dicom") segSources.set(file, segSource(bytes, file));
      if (cachedBytes + img.data.byteLength <= DECODED_CACHE_BYTES) {
        cache.set(file, img);
        cachedBytes += img.data.byteLength;
      }
      inputs.push(input);
    } catch (e) {
      if (!opts.skipBad || !(e instanceof DataError)) throw e;
      skipped.push({ file, message: (e as Error).message });
    }
  }
  return {
    inputs,
    skipped,
    segSources,
    take(file) {
      const img = cache.get(file) ?? decodeInput(file, readFileChecked(file), minSide);
      cache.delete(file);
      return img;
    },
  };
}

/** One batch through the model: per image, S's probabilities at the model's size and the raw class probabilities. */
async function batchOutputs(
  run: PredictRun,
  images: { image: DecodedImage; file: string }[],
  bs: number,
): Promise<{ pred?: (j: number) => Float32Array; probs?: (j: number) => number[] }> {
  const { m, size } = run;
  const buf = new Float32Array(bs * size * size);
  images.forEach(({ image, file }, k) =>
    buf.set(prepareImage(image, file, { size, normalize: m.config.normalize, clahe: m.config.clahe }), k * size * size)
  );
  const out = tf.tidy(() =>
    inferenceOutputs(
      {
        segmentor: m.segmentor,
        discriminator: m.discriminator,
        mode: m.config.mode,
        classifierInput: m.config.classifierInput,
      },
      tf.tensor4d(buf, [bs, size, size, 1]),
    )
  );
  const pred = out.pred ? (await out.pred.data()) as Float32Array : undefined;
  const probs = out.probs ? (await out.probs.data()) as Float32Array : undefined;
  tf.dispose(Object.values(out));
  const k = m.config.classNames.length;
  return {
    ...(pred ? { pred: (j: number) => pred.slice(j * size * size, (j + 1) * size * size) } : {}),
    ...(probs ? { probs: (j: number) => Array.from(probs.slice(j * k, (j + 1) * k)) } : {}),
  };
}

/**
 * Writes one image's files (mask, overlay, probability map, DICOM SEG, in its own geometry) and returns its record
 * with the calibrated class probabilities and decision.
 */
async function writePrediction(
  run: PredictRun,
  input: { file: string; id: string },
  img: DecodedImage,
  probsMap: Float32Array | undefined,
  raw: number[] | undefined,
  seg?: SegSource,
): Promise<PredictionRecord> {
  const { opts, m, size } = run, { id, file } = input;
  // The image's own size (a reduced JPEG 2000 decode holds fewer pixels: only the overlay is drawn at that size).
  const { width, height } = img.fullSize ?? img;
  const rec: PredictionRecord = {
    id,
    image: file,
    width,
    height,
    ...(img.pixelSpacing ? { pixelSpacing: img.pixelSpacing } : {}),
  };
  if (probsMap) {
    const lung = Float32Array.from(
      lungMaskAt(probsMap, size, width, height, { threshold: run.threshold, postprocess: opts.postprocess }),
    );
    rec.mask = path.join(opts.out, `${id}_mask.png`);
    rec.overlay = path.join(opts.out, `${id}_overlay.png`);
    await Deno.writeFile(rec.mask, maskPng(lung, width, height));
    const shown = img.fullSize ? resizeMaskNearest(lung, width, height, img.width, img.height) : lung;
    await Deno.writeFile(rec.overlay, overlayPng(img.data, shown, null, img.width, img.height));
    if (opts.probabilities) {
      rec.probabilityMap = path.join(opts.out, `${id}_prob.png`);
      const p = resizeBilinear(probsMap, size, size, width, height);
      await Deno.writeFile(rec.probabilityMap, encodeGrayPng(p, width, height, 16));
    }
    if (seg) {
      rec.dicomSeg = path.join(opts.out, `${id}_seg.dcm`);
      await Deno.writeFile(rec.dicomSeg, dicomSeg(seg, lung));
    }
    let n = 0;
    for (const v of lung) n += v;
    rec.lungFraction = n / lung.length;
  }
  if (raw) {
    const pr = m.calibration ? calibrate(raw, m.calibration) : raw;
    rec.probabilities = Object.fromEntries(m.config.classNames.map((n, c) => [n, pr[c]]));
    rec.predictedClass = m.config.classNames[decideClass(pr, m.calibration?.threshold)];
  }
  return rec;
}

/**
 * Joins the shard files `predictions.k-of-n.jsonl` of a folder into `predictions.jsonl` (shard order; every shard
 * must be there, and no id twice). Refuses to replace an existing `predictions.jsonl` unless `overwrite`.
 *
 * @example
 * ```ts
 * import { mergePredictions } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/predictions.1-of-2.jsonl`, '{"id":"a"}\n');
 * await Deno.writeTextFile(`${dir}/predictions.2-of-2.jsonl`, '{"id":"b"}\n');
 * assert.equal((await mergePredictions(dir)).records, 2);
 * assert.equal(await Deno.readTextFile(`${dir}/predictions.jsonl`), '{"id":"a"}\n{"id":"b"}\n');
 * ```
 * @param dir the output folder of the shards
 * @param opts `overwrite`: replace an existing `predictions.jsonl`
 * @returns the merged file and its number of records
 * @throws {Error} when a shard is missing, the shard counts differ, or an id appears twice
 */
export async function mergePredictions(
  dir: string,
  opts: { overwrite?: boolean } = {},
): Promise<{ file: string; records: number }> {
  const shards = new Map<number, { k: number; file: string }[]>();
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    throw new Error(
      `out (--out ${dir}): cannot read the folder (${
        (e as Error).message.split(":")[0]
      }); pass the --out the shards wrote to`,
    );
  }
  for (const e of entries) {
    const m = e.name.match(/^predictions\.(\d+)-of-(\d+)\.jsonl$/);
    if (!m || !e.isFile) continue;
    const n = Number(m[2]);
    if (!shards.has(n)) shards.set(n, []);
    shards.get(n)!.push({ k: Number(m[1]), file: path.join(dir, e.name) });
  }
  if (shards.size === 0) throw new Error(`${dir}: no predictions.k-of-n.jsonl shard files to merge`);
  if (shards.size > 1) {
    throw new Error(`${dir}: shard files of different counts (${[...shards.keys()].join(", ")}); merge one run's`);
  }
  const [[n, list]] = [...shards.entries()];
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !list.some((s) => s.k === k));
  if (missing.length) throw new Error(`${dir}: shard(s) ${missing.join(", ")} of ${n} are missing; run them first`);
  const identity = await checkShardRuns(dir, list.map((s) => s.file));
  const out = path.join(dir, "predictions.jsonl");
  if (!opts.overwrite && await Deno.stat(out).then(() => true, () => false)) {
    throw new Error(`${out}: exists; pass --overwrite to replace it with the merged shards`);
  }
  const lines: string[] = [];
  const seen = new Map<string, string>();
  for (const s of list.sort((a, b) => a.k - b.k)) {
    const r = await readJsonl(s.file);
    for (const l of r.lines) {
      const id = String(JSON.parse(l).id);
      if (seen.has(id)) throw new Error(`${s.file}: id "${id}" is also in ${seen.get(id)}; the shards overlap`);
      seen.set(id, s.file);
      lines.push(l);
    }
  }
  await writeFileAtomically(out, lines.map((l) => l + "\n").join(""), `--out ${path.dirname(out)}`);
  if (identity) await markMerged(dir, identity);
  return { file: out, records: lines.length };
}
