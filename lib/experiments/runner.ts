/**
 * The experiment runner: trains one planned run (resuming it when its folder holds an interrupted run), evaluates
 * its val-selected checkpoints on the test split and writes `results/<id>.json`. Model selection uses `val` only;
 * the test split is read only here, after training.
 *
 * Over 400 lines: a planned run's training, its checkpoints' tests and the result file's schema.
 *
 * @module
 */
import * as path from "node:path";
import { exists, writeFileAtomically } from "../io/fs.ts";
import { loadCheckpoint, loadCheckpointModel } from "../checkpoint/checkpoint.ts";
import type { ImagePrediction, SplitMetrics } from "../infer/evaluation.ts";
import { evaluate } from "../infer/evaluate.ts";
import { meanStd, median, rocAuc } from "../metrics/classification.ts";
import { type EpochRecord, train, type TrainRuntime } from "../train/trainer.ts";
import { bootstrapInterval } from "../metrics/bootstrap.ts";
import type { Calibration } from "../checkpoint/calibration.ts";
import { expectedCalibrationError, type ReliabilityBin, reliabilityBins } from "../metrics/calibration.ts";
import { calibrationFromPredictions } from "../infer/evaluation.ts";
import { type ResolvedRun, type ResultTable, runFolder } from "./plan.ts";

/** Mean, standard deviation and a bootstrap 95 % interval of the mean. */
export interface IntervalStat {
  /** Mean over images. */
  mean: number;
  /** Population standard deviation over images. */
  std: number;
  /** Percentile bootstrap 95 % interval of the mean (1000 resamples, seed 0). */
  ci95: [number, number];
}

/** Test metrics of one checkpoint. */
export interface CheckpointTest {
  /** Checkpoint folder name (`best`, `best-cls`). */
  checkpoint: string;
  /** Epoch it was saved after. */
  epoch: number;
  /** Images in the test split. */
  n: number;
  /** Lung segmentation on the test images with a mask. */
  segmentation?: {
    n: number;
    dice: IntervalStat;
    jaccard: IntervalStat;
    pixelAccuracy: { mean: number; std: number };
    /** HD95 in pixels of the model's grid: median (bootstrap 95 % interval) and mean over images. */
    hd95?: { median: number; ci95: [number, number]; mean: number };
    /** HD95 in millimetres (post-processed masks), over the images that give a pixel spacing (DICOM). */
    hd95Mm?: { n: number; median: number; ci95: [number, number]; mean: number };
    /** Masks in more than two 8-connected pieces. */
    over2Pieces?: number;
    /** Lung Dice by the manifest's `source`. */
    bySource?: Record<string, { n: number; dice: IntervalStat }>;
    /** The same after post-processing (two largest components, holes filled), as `predict` writes masks. */
    postprocessed?: {
      dice: IntervalStat;
      hd95: { median: number; ci95: [number, number]; mean: number };
      over2Pieces: number;
      bySource?: Record<string, { n: number; dice: IntervalStat }>;
    };
  };
  /** Classification of the labeled test images. */
  classification?: {
    n: number;
    auc: number;
    /** Percentile bootstrap 95 % interval of the AUC (1000 resamples, seed 0). */
    aucCi95: [number, number];
    accuracy: number;
    sensitivity: number;
    specificity: number;
    confusion: number[][];
    /** The val-fitted calibration the decisions and probabilities above used (absent: argmax of raw probabilities). */
    calibration?: Calibration;
    /** Test ECE (10 bins) of the calibrated and of the raw probabilities. */
    ece?: { calibrated: number; raw: number };
    /** Reliability diagram of the calibrated test probabilities (10 bins). */
    reliability?: ReliabilityBin[];
  };
  /**
   * Every test image's prediction (id, true class or `null`, class probabilities and lung Dice rounded to 6
   * digits), so that any comparison (e.g. a paired bootstrap between runs) can be recomputed from the file.
   */
  predictions?: TestPrediction[];
}

/** One test image's prediction in a result file. */
export interface TestPrediction {
  /** Sample id (the manifest's). */
  id: string;
  /** True class index, or `null` when the image has none. */
  label: number | null;
  /** Class probabilities, when the run classifies. */
  probs?: number[];
  /** Lung Dice against the true mask, when the run segments and the image has a mask. */
  dice?: number;
  /** HD95 in pixels of the model's grid, raw and post-processed (`null`: one mask empty, infinite). */
  hd95?: number | null;
  /** Dice and HD95 after post-processing. */
  clean?: { dice: number; hd95: number | null };
  /** The manifest's source. */
  source?: string;
}

/** One epoch in a result file. */
export interface ResultEpoch {
  /** 1-based epoch. */
  epoch: number;
  /** Wall seconds of the epoch (training + validation). */
  seconds: number;
  /** Learning rate. */
  lr: number;
  /** Mean training losses. */
  losses: Record<string, number>;
  /** Val Dice (mean), when the run segments. */
  valDice?: number;
  /** Val AUC, when the run classifies. */
  valAuc?: number;
}

/** The content of `results/<id>.json`. */
export interface ExperimentResult {
  /** Format version of this file. */
  schema: 1;
  /** Run id. */
  id: string;
  /** Tables it appears in. */
  tables: ResultTable[];
  /** The plan file it came from. */
  plan: string;
  /** The resolved train options, variant, class names and counts, as in the run's `config.json` (no `out`). */
  config: Record<string, unknown>;
  /** Trainable parameters of each net. */
  params: Record<string, number>;
  /** Versions of appaunet, Deno and tfjs. */
  versions: Record<string, unknown>;
  /** Backend and WebGPU adapter the run trained on. */
  backend: unknown;
  /** Adapter description, vendor and limits. */
  adapter: unknown;
  /** The machine: OS, architecture, logical CPUs, CPU model and the `APPAUNET_MACHINE` label when set. */
  machine: { os: string; arch: string; cpus: number; cpuModel?: string; label?: string };
  /** When the result was written. */
  finishedAt: string;
  /** Sum of the epochs' wall seconds (across resumes). */
  trainSeconds: number;
  /** How training ended: `completed` or `early-stopping`. */
  stopped: string;
  /** Per-epoch losses and val metrics. */
  epochs: ResultEpoch[];
  /** Test metrics of the val-selected checkpoints: `seg` = best val Dice, `cls` = best val AUC. */
  test: { seg?: CheckpointTest; cls?: CheckpointTest };
}

/** Options of {@linkcode runPlannedRun}. */
export interface RunPlannedOptions {
  /** The plan file (recorded in the result). */
  planFile: string;
  /** Where run folders go. Default `runs/experiments`. */
  runsDir?: string;
  /** Where result files go. Default `results`. */
  resultsDir?: string;
  /** Train progress output. Default `"lines"`. */
  progress?: TrainRuntime["progress"];
  /** Stop: finish the step, write a checkpoint, return without a result. */
  signal?: AbortSignal;
  /** Compile shaders on a second thread (see `train`). Default `true`. */
  shaderWarmup?: boolean;
  /** Write a result even when one exists. Default `false`. */
  force?: boolean;
  /** Where messages go. Default `console.error`. */
  log?: (line: string) => void;
}

/** The path of a run's result file. */
export function resultPath(resultsDir: string, id: string): string {
  return path.join(resultsDir, `${id}.json`);
}

function intervalStat(values: number[]): IntervalStat {
  const n = values.length;
  const ci95 = bootstrapInterval(n, (idx) => idx.reduce((s, i) => s + values[i], 0) / n);
  return { ...meanStd(values), ci95 };
}

/**
 * Test metrics with bootstrap intervals from a checkpoint's metrics and per-image predictions.
 *
 * @param checkpoint checkpoint folder name
 * @param epoch the epoch it was saved after
 * @param metrics the evaluation's metrics
 * @param predictions per-image predictions (Dice, Jaccard, probabilities, labels)
 * @returns the metrics with intervals
 */
export function checkpointTest(
  checkpoint: string,
  epoch: number,
  metrics: SplitMetrics,
  predictions: ImagePrediction[],
  calibration?: Calibration,
): CheckpointTest {
  const r: CheckpointTest = { checkpoint, epoch, n: metrics.n };
  const segmentation = segmentationTest(metrics, predictions);
  if (segmentation) r.segmentation = segmentation;
  const classification = classificationTest(metrics, predictions, calibration);
  if (classification) r.classification = classification;
  r.predictions = keptPredictions(predictions);
  return r;
}

/** The test's segmentation figures: Dice and Jaccard with intervals, and the field metrics (HD95, pieces, by source). */
function segmentationTest(metrics: SplitMetrics, predictions: ImagePrediction[]): CheckpointTest["segmentation"] {
  if (!metrics.segmentation) return undefined;
  const r: { segmentation?: CheckpointTest["segmentation"] } = {};
  {
    const withMask = predictions.filter((p) => p.dice !== undefined);
    r.segmentation = {
      n: withMask.length,
      dice: intervalStat(withMask.map((p) => p.dice!)),
      jaccard: intervalStat(withMask.map((p) => p.jaccard!)),
      pixelAccuracy: { mean: metrics.segmentation.pixelAccuracy.mean, std: metrics.segmentation.pixelAccuracy.std },
    };
    const field = withMask.filter((p) => p.field);
    if (field.length) {
      const bySource = (dice: (p: ImagePrediction) => number) => {
        const sources = [...new Set(field.map((p) => p.source).filter((s) => s !== undefined))].sort() as string[];
        if (!sources.length) return undefined;
        return Object.fromEntries(sources.map((s) => {
          const d = field.filter((p) => p.source === s).map(dice);
          return [s, { n: d.length, dice: intervalStat(d) }];
        }));
      };
      const raw = bySource((p) => p.dice!), clean = bySource((p) => p.field!.clean.dice);
      r.segmentation.hd95 = hd95Stat(field.map((p) => p.field!.hd95));
      const summary = metrics.segmentation.field;
      r.segmentation.over2Pieces = summary?.over2Pieces ?? field.filter((p) => p.field!.pieces > 2).length;
      const mm = field.map((p) => p.field!.hd95Mm).filter((v) => v !== undefined) as number[];
      if (mm.length) r.segmentation.hd95Mm = { n: mm.length, ...hd95Stat(mm) };
      if (raw) r.segmentation.bySource = raw;
      r.segmentation.postprocessed = {
        dice: intervalStat(field.map((p) => p.field!.clean.dice)),
        hd95: hd95Stat(field.map((p) => p.field!.clean.hd95)),
        over2Pieces: summary?.postprocessed.over2Pieces ?? field.filter((p) => p.field!.clean.pieces > 2).length,
        ...(clean ? { bySource: clean } : {}),
      };
    }
  }
  return r.segmentation;
}

/** The test's classification figures: AUC with its interval, decisions, and with a calibration its ECE and bins. */
function classificationTest(
  metrics: SplitMetrics,
  predictions: ImagePrediction[],
  calibration?: Calibration,
): CheckpointTest["classification"] {
  const r: { classification?: CheckpointTest["classification"] } = {};
  const c = metrics.classification;
  if (c) {
    const labeled = predictions.filter((p) => p.probs && p.label !== null && p.label !== undefined);
    const k = labeled[0]?.probs?.length ?? 2;
    // Binary: class 1's probability; K > 2 would need the one-vs-rest mean, which the interval leaves out.
    const aucCi95 = k === 2
      ? bootstrapInterval(
        labeled.length,
        (idx) => rocAuc(idx.map((i) => labeled[i].probs![1]), idx.map((i) => labeled[i].label!)),
      )
      : [NaN, NaN] as [number, number];
    r.classification = {
      n: c.n,
      auc: c.auc,
      aucCi95,
      accuracy: c.accuracy,
      sensitivity: c.sensitivity,
      specificity: c.specificity,
      confusion: c.confusion,
    };
    if (calibration) {
      const probs = labeled.map((p) => p.probs!), y = labeled.map((p) => p.label!);
      r.classification.calibration = calibration;
      r.classification.ece = {
        calibrated: expectedCalibrationError(probs, y),
        raw: expectedCalibrationError(labeled.map((p) => p.rawProbs ?? p.probs!), y),
      };
      r.classification.reliability = reliabilityBins(probs, y);
    }
  }
  return r.classification;
}

/** Each test image's prediction as the result file keeps it (rounded). */
function keptPredictions(predictions: ImagePrediction[]): CheckpointTest["predictions"] {
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return predictions.map((p) => ({
    id: p.id,
    label: p.label ?? null,
    ...(p.probs ? { probs: p.probs.map(round) } : {}),
    ...(p.dice !== undefined ? { dice: round(p.dice) } : {}),
    ...(p.field
      ? {
        hd95: finiteOrNull(p.field.hd95),
        clean: { dice: round(p.field.clean.dice), hd95: finiteOrNull(p.field.clean.hd95) },
      }
      : {}),
    ...(p.source ? { source: p.source } : {}),
  }));
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : null);

/** Median HD95 with a bootstrap interval (an empty mask counts as infinitely far), and the mean of the finite ones. */
function hd95Stat(values: number[]): { median: number; ci95: [number, number]; mean: number } {
  const finite = values.filter(Number.isFinite);
  return {
    median: median(values),
    ci95: bootstrapInterval(values.length, (idx) => median(idx.map((i) => values[i]))),
    mean: finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length),
  };
}

/**
 * A checkpoint's calibration, fitted now on val with this version's `fitCalibration` (the same fit the trainer stores
 * in checkpoints; refitting keeps result files of older checkpoints comparable).
 */
async function calibrationOf(dir: string, data: string): Promise<Calibration | undefined> {
  return calibrationFromPredictions(
    (await evaluate({ model: dir, data, split: "val", calibration: null })).predictions,
  );
}

function machine(): ExperimentResult["machine"] {
  const m: ExperimentResult["machine"] = {
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency,
  };
  try {
    const model = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1];
    if (model) m.cpuModel = model.trim();
  } catch { /* not Linux */ }
  const label = Deno.env.get("APPAUNET_MACHINE");
  if (label) m.label = label;
  return m;
}

async function countParams(ckpt: string, name: string): Promise<number> {
  const model = await loadCheckpointModel(ckpt, name);
  try {
    return model.countParams();
  } finally {
    model.dispose();
  }
}

/**
 * Runs one planned run to its result: trains it in `<runsDir>/<id>` (resuming an interrupted run there), evaluates
 * `checkpoints/best` (best val Dice) and, in mtl, `checkpoints/best-cls` (best val AUC) on the test split, and writes
 * `<resultsDir>/<id>.json` (atomically). Does nothing when the result exists (unless `force`).
 *
 * @example
 * ```ts
 * import { initBackend, readPlan, writePhantomDataset } from "@appaunet/appaunet";
 * import { runPlannedRun } from "./runner.ts";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(`${dir}/data`, { count: 12, size: 32 });
 * const plan = {
 *   data: `${dir}/data/manifest.csv`,
 *   defaults: { size: 32, epochs: 1, batchSize: 4, segmentor: { baseFilters: 4 } },
 *   runs: [{ id: "tiny-seg", tables: ["ablation"], options: { mode: "seg" } }],
 * };
 * await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
 * const [run] = await readPlan(`${dir}/plan.json`);
 * const opts = { planFile: `${dir}/plan.json`, runsDir: `${dir}/runs`, resultsDir: `${dir}/results`, log: () => {} };
 * const r = await runPlannedRun(run, { ...opts, progress: "none" });
 * assert.equal(r?.id, "tiny-seg");
 * assert.ok((await Deno.stat(`${dir}/results/tiny-seg.json`)).isFile);
 * ```
 * @param run the run (from {@linkcode readPlan})
 * @param opts folders, progress, abort signal
 * @returns the result, or `undefined` when it was stopped by the signal or was already done
 */
export async function runPlannedRun(
  run: ResolvedRun,
  opts: RunPlannedOptions,
): Promise<ExperimentResult | undefined> {
  const runsDir = opts.runsDir ?? path.join("runs", "experiments");
  const resultsDir = opts.resultsDir ?? "results";
  const log = opts.log ?? ((l: string) => console.error(l));
  const out = runFolder(runsDir, run.id);
  const file = resultPath(resultsDir, run.id);
  if (!opts.force && await exists(file)) {
    log(`${run.id}: done (${file})`);
    return undefined;
  }
  const stopped = await trainOnce(run, opts, out, log);
  if (stopped === undefined) return undefined;
  const result = await resultOf(run, opts, out, stopped);
  await Deno.mkdir(resultsDir, { recursive: true });
  await writeFileAtomically(file, JSON.stringify(result, null, 2) + "\n", `results folder ${resultsDir}`);
  log(`${run.id}: wrote ${file}`);
  return result;
}

/**
 * Trains the run once: resumes its last checkpoint, restarts a folder with none, or skips training when the run is
 * marked trained. Returns why training stopped, or undefined when it was interrupted (run again to resume).
 */
async function trainOnce(
  run: ResolvedRun,
  opts: RunPlannedOptions,
  out: string,
  log: (l: string) => void,
): Promise<string | undefined> {
  const trainedMarker = path.join(out, "trained.json");
  const last = path.join(out, "checkpoints", "last");
  let stopped: string;
  if (await exists(trainedMarker)) {
    stopped = JSON.parse(await Deno.readTextFile(trainedMarker)).stopped;
    log(`${run.id}: trained already (${out}); evaluating`);
  } else {
    const runtime = { progress: opts.progress ?? "lines", signal: opts.signal, shaderWarmup: opts.shaderWarmup };
    let resume = false;
    if (await exists(path.join(last, "COMPLETE")) || await exists(path.join(`${last}.old`, "COMPLETE"))) {
      resume = true;
    } else if (await exists(out)) {
      // The runner owns this folder: a run that stopped before its first checkpoint has nothing to keep.
      log(`${run.id}: ${out} holds no checkpoint; starting the run again`);
      await Deno.remove(out, { recursive: true });
    }
    log(`${run.id}: ${resume ? "resuming" : "training"} in ${out}`);
    const r = resume
      ? await train({ ...run.options, resume: out, ...runtime })
      : await train({ ...run.options, out, ...runtime });
    if (r.stopped === "aborted") {
      log(`${run.id}: stopped; run the same command again to resume`);
      return undefined;
    }
    stopped = r.stopped;
    await Deno.writeTextFile(trainedMarker, JSON.stringify({ stopped, at: new Date().toISOString() }) + "\n");
  }
  return stopped;
}

/** The result file's content: the run's options, versions, machine, per-epoch record and each checkpoint's test. */
async function resultOf(
  run: ResolvedRun,
  opts: RunPlannedOptions,
  out: string,
  stopped: string,
): Promise<ExperimentResult> {
  const last = path.join(out, "checkpoints", "last");
  const ck = await loadCheckpoint(last);
  const config = { ...ck.config } as Record<string, unknown>;
  delete config.out;
  const mode = config.mode as string;
  const history = (ck.state as { history?: EpochRecord[] }).history ?? [];
  const test: ExperimentResult["test"] = {};
  const evalCkpt = async (name: string) => {
    const dir = path.join(out, "checkpoints", name);
    const calibration = mode !== "seg" ? await calibrationOf(dir, run.options.data) : undefined;
    const e = await evaluate({
      model: dir,
      data: run.options.data,
      split: "test",
      calibration: calibration ?? null,
      fieldMetrics: mode !== "cls",
    });
    return checkpointTest(name, e.epoch, e.metrics, e.predictions, calibration);
  };
  if (mode !== "cls") test.seg = await evalCkpt("best");
  if (mode === "cls") test.cls = await evalCkpt("best");
  if (mode === "mtl") test.cls = await evalCkpt("best-cls");
  const params: Record<string, number> = {};
  const best = path.join(out, "checkpoints", "best");
  if (mode !== "cls") params.segmentor = await countParams(best, "segmentor");
  if (mode !== "seg") {
    params[mode === "cls" ? "classifier" : "discriminator"] = await countParams(best, "discriminator");
  }
  const versions = (config.versions ?? {}) as Record<string, unknown>;
  return {
    schema: 1,
    id: run.id,
    tables: run.tables,
    plan: opts.planFile,
    config,
    params,
    versions,
    backend: config.backend,
    adapter: config.adapter,
    machine: machine(),
    finishedAt: new Date().toISOString(),
    trainSeconds: history.reduce((s, h) => s + h.seconds, 0),
    stopped,
    epochs: history.map((h) => ({
      epoch: h.epoch,
      seconds: h.seconds,
      lr: h.lr,
      losses: h.losses,
      ...(h.val.segmentation ? { valDice: h.val.segmentation.dice.mean } : {}),
      ...(h.val.classification ? { valAuc: h.val.classification.auc } : {}),
    })),
    test,
  };
}

/**
 * The runs of a plan that have no result file yet, in plan order.
 *
 * @example
 * ```ts
 * import { readPlan } from "@appaunet/appaunet";
 * import { pendingRuns } from "./runner.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const runs = [{ id: "a", tables: ["ablation"], options: {} }, { id: "b", tables: ["ablation"], options: {} }];
 * await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify({ data: "labels.csv", defaults: {}, runs }));
 * await Deno.mkdir(`${dir}/results`);
 * await Deno.writeTextFile(`${dir}/results/a.json`, "{}");
 * const todo = await pendingRuns(await readPlan(`${dir}/plan.json`), `${dir}/results`);
 * assert.deepEqual(todo.map((r) => r.id), ["b"]);
 * ```
 * @param runs the plan's runs
 * @param resultsDir where result files go. Default `results`.
 * @returns the runs still to do
 */
export async function pendingRuns(runs: ResolvedRun[], resultsDir: string = "results"): Promise<ResolvedRun[]> {
  const out: ResolvedRun[] = [];
  for (const r of runs) if (!await exists(resultPath(resultsDir, r.id))) out.push(r);
  return out;
}
