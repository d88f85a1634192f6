/**
 * The trainer: `train(opts)` runs seg, cls or the APPAU-Net semi-supervised multi-task GAN (mtl) and leaves a
 * run folder (`config.json`, `metrics.jsonl`, `checkpoints/{last,best,best-cls}`, `report.html`, overlays).
 *
 * Reproducibility: on the cpu backend a seed gives identical weights (dropout draws from `Math.random`, which
 * the trainer reseeds from (seed, epoch, step) around every step; real-mask noise comes from a seeded
 * generator). On webgpu, reductions run in parallel and float sums may differ in the last bits between runs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { backendInfo } from "../runtime/backend.ts";
import { createDataset } from "../data/dataset.ts";
import { readManifest } from "../data/manifest.ts";
import { segmentorVariantName } from "../model/segmentor.ts";
import { checkLossRanges } from "../losses/common.ts";
import { fastKernelsEnabled } from "../kernels/registry.ts";
import {
  APPAUNET_VERSION,
  configDifferences,
  type ResolvedTrainOptions,
  resolveTrainOptions,
  type TrainOptions,
} from "./config.ts";
import { loadCheckpoint, restoreModelWeights, restoreOptimizer, saveCheckpoint } from "../checkpoint/checkpoint.ts";
import { calibrationFromPredictions, evaluateSplit } from "../infer/evaluation.ts";
import type { Calibration } from "../checkpoint/calibration.ts";
import type { EpochRecord } from "../report/epoch_record.ts";

export type { EpochRecord };
import { buildClassifier, buildNets, disposeNets, runStep, segmentationLoss } from "./step.ts";
import { createMaskHead, EmaTeacher, type SslBatch, sslBatches, sslStep } from "./ssl.ts";
import type { Batch } from "../data/dataset.ts";
import { type ShaderWarmupReport, startShaderWarmup } from "./shader_warmup.ts";
import { NON_FINITE_CAUSES, NonFiniteError } from "../checkpoint/numerics.ts";
import { withSeededRandom } from "./seeded_random.ts";
import { claimRunFolder, clearRun, type RunFolderLock } from "./run_folder.ts";
import { describeOsError, writeFileAtomically } from "../io/fs.ts";
import { writeReport } from "../report/report.ts";
import { createProgress, type ProgressMode } from "../report/progress.ts";

/** Runtime options of {@linkcode train} (not part of the run's identity). */
export interface TrainRuntime {
  /** Continue the run in `out` (or this folder) from its last checkpoint. */
  resume?: boolean | string;
  /** `"auto"` (default: bar on a TTY, else one line per epoch), `"bar"`, `"lines"`, `"none"`. */
  progress?: ProgressMode;
  /** Abort: finish the current step, write a checkpoint, return. */
  signal?: AbortSignal;
  /** Called after every epoch. */
  onEpoch?: (r: EpochRecord) => void;
  /** Called after every step with the global step and the nets being trained (like a Keras callback's model). */
  onStep?: (
    step: number,
    models: { segmentor?: tf.LayersModel; discriminator?: tf.LayersModel },
  ) => void | Promise<void>;
  /**
   * Compile the first step's shaders on a second thread while the first step runs (see shader_warmup.ts). It runs
   * only on Mesa's software adapter (lavapipe) with Mesa's shader cache on, and once per configuration; it changes
   * nothing in the results. Default `true`.
   */
  shaderWarmup?: boolean;
  /**
   * A new run may replace an earlier run in `out` (its files are removed once the new run's options and data are
   * validated). Without it, `train` refuses an `out` that holds a run. Default `false`.
   */
  overwrite?: boolean;
  /** Test hook: simulate a crash while writing a checkpoint after this epoch. */
  crashCheckpointAfterEpoch?: { epoch: number; at: "writing" | "swapping" };
}

/** Options to continue a run: its folder, optionally a higher `epochs` (other options must match the run's). */
export type ResumeOptions = Partial<TrainOptions> & { resume: string };

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** Run folder. */
  out: string;
  /** Records of the epochs run in this call. */
  history: EpochRecord[];
  /** Best val Dice (seg/mtl) and best val AUC (mtl/cls) so far. */
  best: { dice: number; auc: number; diceEpoch: number; aucEpoch: number };
  /** Why it stopped. */
  stopped: "completed" | "early-stopping" | "aborted";
  /** The resolved options. */
  config: ResolvedTrainOptions;
  /** What the shader warm-up did, when one ran and finished before training ended. */
  shaderWarmup?: ShaderWarmupReport;
}

/** Mean over steps of scalar losses, kept on the device until the epoch ends (no per-step readback). */
class LossMeter {
  private sums = new Map<string, tf.Scalar>();
  private n = 0;
  add(values: Record<string, tf.Scalar>) {
    for (const [k, v] of Object.entries(values)) {
      const prev = this.sums.get(k);
      this.sums.set(k, tf.keep(prev ? tf.add(prev, v) as tf.Scalar : v.clone()));
      prev?.dispose();
    }
    this.n++;
  }
  async read(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.sums) out[k] = (await v.data())[0] / Math.max(this.n, 1);
    return out;
  }
  dispose() {
    tf.dispose([...this.sums.values()]);
    this.sums.clear();
    this.n = 0;
  }
}

/**
 * Checks that every step's losses are finite. Each step's losses are read one step late, so that JS encodes the next
 * step while the device finishes this one (no extra wait per step).
 */
class FiniteLossCheck {
  private pending?: { read: Promise<Float32Array>; t: tf.Tensor; names: string[]; where: string };
  /** Starts reading this step's losses. */
  start(values: Record<string, tf.Scalar>, where: string) {
    const t = tf.stack(Object.values(values));
    this.pending = { read: t.data() as Promise<Float32Array>, t, names: Object.keys(values), where };
  }
  /** Waits for the pending read; throws a NonFiniteError when a loss is not finite. */
  async settle(afterwards: string) {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    let v: Float32Array;
    try {
      v = await p.read;
    } finally {
      p.t.dispose();
    }
    const i = v.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) {
      throw new NonFiniteError(
        `${p.where}: the ${p.names[i]} loss is ${v[i]}; training stopped, and no checkpoint was written after ` +
          `this step (${afterwards}); ${NON_FINITE_CAUSES}`,
      );
    }
  }
  dispose() {
    this.pending?.t.dispose();
    this.pending = undefined;
  }
}

/** Where a run starts: from scratch, or from its last checkpoint (`--resume`). */
interface RunStart {
  /** The run folder being resumed, if any. */
  resumeDir?: string;
  /** Its last checkpoint. */
  lastCkpt?: string;
  /** The options to resolve: the saved config with the explicitly given ones over it. */
  given: TrainOptions;
  /** Epoch, batch within it, and global step to continue from. */
  start: { epoch: number; batch: number; step: number };
  /** Best val metrics so far. */
  best: BestSoFar;
  /** The records of the epochs already done. */
  history0: EpochRecord[];
}

/** Best val Dice and AUC so far and their epochs. */
type BestSoFar = TrainResult["best"];

/** Reads where a run starts, checking that a resume keeps the run's options (only `epochs` may rise). */
async function runStart(opts: (TrainOptions | ResumeOptions) & TrainRuntime): Promise<RunStart> {
  const resumeDir = typeof opts.resume === "string" ? opts.resume : opts.resume ? opts.out : undefined;
  const fresh: RunStart = {
    resumeDir,
    given: { ...opts, out: (resumeDir ?? opts.out)! } as TrainOptions,
    start: { epoch: 0, batch: 0, step: 0 },
    best: { dice: -Infinity, auc: -Infinity, diceEpoch: 0, aucEpoch: 0 },
    history0: [],
  };
  if (resumeDir && typeof opts.resume === "string" && opts.out !== undefined && opts.out !== resumeDir) {
    throw new Error(
      `--resume ${resumeDir} with --out ${opts.out}: a resumed run stays in its folder; drop --out ` +
        "(to start a new run elsewhere, use --out without --resume)",
    );
  }
  if (!resumeDir) return fresh;
  const lastCkpt = path.join(resumeDir, "checkpoints", "last");
  const ck = await loadCheckpoint(lastCkpt).catch(async (e) => {
    const has = (p: string) => Deno.stat(p).then(() => true, () => false);
    const complete = await has(path.join(lastCkpt, "COMPLETE")) || await has(path.join(`${lastCkpt}.old`, "COMPLETE"));
    if (!complete && await has(path.join(resumeDir, "config.json"))) {
      throw new Error(
        `--resume ${resumeDir}: the run stopped before its first checkpoint, so there is nothing to resume; start it ` +
          `again with --out ${resumeDir} (the folder is reused)`,
      );
    }
    throw new Error(`--resume ${resumeDir}: ${(e as Error).message}`);
  });
  const saved = ck.config as unknown as ResolvedTrainOptions;
  // The run folder's config.json is a copy for people; an edit to it would be silently ignored, so it is refused.
  try {
    const shown = JSON.parse(await Deno.readTextFile(path.join(resumeDir, "config.json")));
    const edited = configDifferences(saved as unknown as Record<string, unknown>, shown);
    if (edited.length) {
      throw new Error(
        `--resume ${resumeDir}: config.json was edited (${edited.join("; ")}); a resumed run keeps the options it ` +
          "started with (only --epochs may change): undo the edit, or start a new run with the new options and another --out",
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof SyntaxError)) throw e;
    if (e instanceof SyntaxError) {
      throw new Error(`--resume ${resumeDir}: config.json is not valid JSON (${e.message}); undo the edit`);
    }
  }
  const explicit = Object.fromEntries(
    Object.entries(opts).filter(([k, v]) => v !== undefined && k !== "resume" && k !== "out"),
  );
  const diffs = configDifferences(saved as unknown as Record<string, unknown>, explicit);
  if (diffs.length) {
    throw new Error(
      `--resume ${resumeDir}: the options differ from the run's config.json (${diffs.join("; ")}); ` +
        "resume with the same options (only --epochs may change), or start a new run with another --out",
    );
  }
  const st = ck.state as { epoch: number; batch: number; step: number; best: BestSoFar; history?: EpochRecord[] };
  if (explicit.epochs !== undefined && Number(explicit.epochs) < st.epoch) {
    throw new Error(
      `--resume ${resumeDir} --epochs ${explicit.epochs}: the run has done ${st.epoch} epoch(s) already; ` +
        `give --epochs ≥ ${st.epoch} (or leave it out to use the run's ${saved.epochs})`,
    );
  }
  return {
    resumeDir,
    lastCkpt,
    given: { ...saved, ...explicit, out: resumeDir } as TrainOptions,
    start: { epoch: st.epoch, batch: st.batch, step: st.step },
    best: st.best,
    history0: st.history ?? [],
  };
}

/**
 * The checkpoint policy after an epoch: `best` follows val Dice (val AUC in cls), `best-cls` follows val AUC (mtl);
 * `last` is always written. Non-finite metrics never count as an improvement.
 *
 * @example
 * ```ts
 * import { checkpointsAfterEpoch } from "./trainer.ts";
 * import assert from "node:assert/strict";
 * const best = { dice: 0.9, auc: 0.8, diceEpoch: 1, aucEpoch: 1 };
 * const r = checkpointsAfterEpoch("mtl", best, 2, 0.92, 0.7);
 * assert.deepEqual(r.save, ["best"]);
 * assert.equal(r.best.diceEpoch, 2);
 * assert.equal(r.improved, true);
 * ```
 * @param mode the run's mode
 * @param best the best val metrics so far
 * @param epoch the 1-based epoch just done
 * @param dice its val Dice (NaN without segmentation)
 * @param auc its val AUC (NaN without classification)
 * @returns the updated best, the checkpoints to write besides `last`, and whether the early-stopping metric improved
 */
export function checkpointsAfterEpoch(
  mode: "mtl" | "seg" | "cls",
  best: BestSoFar,
  epoch: number,
  dice: number,
  auc: number,
): { best: BestSoFar; save: ("best" | "best-cls")[]; improved: boolean } {
  const save: ("best" | "best-cls")[] = [];
  let improved = false;
  let b = best;
  if (Number.isFinite(dice) && dice > b.dice) {
    b = { ...b, dice, diceEpoch: epoch };
    improved = mode !== "cls";
    save.push("best");
  }
  if (mode !== "seg" && Number.isFinite(auc) && auc > b.auc) {
    b = { ...b, auc, aucEpoch: epoch };
    if (mode === "cls") improved = true;
    save.push(mode === "cls" ? "best" : "best-cls");
  }
  return { best: b, save, improved };
}

/**
 * Trains APPAU-Net (or the seg / cls baselines) and writes the run folder.
 *
 * @example
 * ```ts
 * import { initBackend, train, writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" }); // "webgpu" (the default) is what you want for real runs
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(`${dir}/data`, { count: 12, size: 32 });
 * const small = { baseFilters: 4 }; // a tiny model, so that the example runs in seconds
 * const r = await train({
 *   data: `${dir}/data/manifest.csv`,
 *   out: `${dir}/run`,
 *   size: 32,
 *   epochs: 1,
 *   batchSize: 4,
 *   segmentor: small,
 *   discriminator: small,
 *   progress: "none",
 * });
 * assert.equal(r.history.length, 1);
 * assert.ok((await Deno.stat(`${dir}/run/checkpoints/best`)).isDirectory);
 * ```
 * @param opts run options (see {@linkcode TrainOptions}) and runtime options
 * @returns history, best metrics, stop reason
 */
export async function train(opts: (TrainOptions | ResumeOptions) & TrainRuntime): Promise<TrainResult> {
  const rs = await runStart(opts);
  const { resumeDir, lastCkpt, given, start, history0 } = rs;
  let best = rs.best;
  const c = resolveTrainOptions(given);
  const lock: RunFolderLock = await claimRunFolder(c.out, { resume: Boolean(resumeDir), overwrite: opts.overwrite });
  let wrote = false;
  let nets: ReturnType<typeof buildNets> | undefined;
  let teacher: EmaTeacher | undefined;
  let jointModel: tf.LayersModel | undefined;
  let warmup: ReturnType<typeof startShaderWarmup> | undefined;
  try {
    return await trainLocked();
  } catch (e) {
    // Nothing of a new run was written: leave no half-made folder behind.
    if (!wrote && lock.created) await Deno.remove(c.out, { recursive: true }).catch(() => {});
    throw e;
  } finally {
    warmup?.stop();
    teacher?.dispose();
    // The joint model shares the classifier's layers (disposed with the nets): free the mask head's own layers only.
    if (jointModel) { for (const l of jointModel.layers) if (l.name.startsWith("maskhead_")) l.dispose(); }
    if (nets) disposeNets(nets);
    await lock.release();
  }

  async function trainLocked(): Promise<TrainResult> {
    const manifest = readManifest(c.data);
    // Started before the images load, so that the worker is compiling by the time the first step runs.
    warmup = opts.shaderWarmup === false ? undefined : startShaderWarmup(c, manifest.classNames.length);
    let warmupReport: ShaderWarmupReport | undefined;
    void warmup?.done.then((r) => (warmupReport = r));
    {
      const ds = await createDataset(manifest, {
        size: c.size,
        seed: c.seed,
        classLabelFraction: c.mode === "seg" ? 1 : c.classLabelFraction,
        maskFraction: c.mode === "cls" ? 1 : c.maskFraction,
        normalize: c.normalize,
        clahe: c.clahe,
        skipBad: c.skipBad,
        maxPerSplit: c.maxPerSplit,
      });
      const trainSplit = ds.split("train"), valSplit = ds.split("val");
      const numClasses = ds.classNames.length;
      const part = ds.partition();
      if (c.mode !== "seg" && part.labeled.length === 0) {
        throw new Error(`--label-fraction ${c.classLabelFraction}: no train image keeps a class label; raise it`);
      }
      const seen = new Set(part.labeled.map((s) => s.label));
      if (c.mode !== "seg" && seen.size < 2) {
        const only = ds.classNames[[...seen][0] ?? 0];
        throw new Error(
          `${c.data}: every labeled train image is class "${only}"; a classifier needs at least two classes among ` +
            "them (check the label column; with --label-fraction, raise it)",
        );
      }
      if (c.mode !== "cls" && trainSplit.samples.every((s) => !s.mask)) {
        throw new Error(`--mask-fraction ${c.maskFraction}: no train image keeps a mask; raise it or use --mode cls`);
      }
      // Options and data are valid: from here on the run writes its folder.
      if (!resumeDir && (opts.overwrite || lock.unsaved)) await clearRun(c.out);
      wrote = true;
      await Deno.mkdir(path.join(c.out, "checkpoints"), { recursive: true });
      const info = backendInfo();
      const runConfig = {
        ...c,
        variant: c.mode === "cls" ? "classifier" : segmentorVariantName(c.segmentor),
        classNames: ds.classNames,
        counts: {
          train: trainSplit.size,
          val: valSplit.size,
          labeled: part.labeled.length,
          maskOnly: part.maskOnly.length,
          unlabeled: part.unlabeled.length,
        },
        versions: { appaunet: APPAUNET_VERSION, ...info.versions },
        backend: info.backend,
        adapter: info.adapter ?? null,
        fastKernels: fastKernelsEnabled(),
      };
      if (!resumeDir) await Deno.writeTextFile(path.join(c.out, "config.json"), JSON.stringify(runConfig, null, 2));
      // metrics.jsonl holds exactly one line per completed epoch: after a crash it may hold more lines than the last
      // checkpoint knows of (or a torn line), so a resumed run rewrites it from the checkpoint's history.
      const metricsFile = path.join(c.out, "metrics.jsonl");
      if (resumeDir) {
        await writeFileAtomically(
          metricsFile,
          history0.map((h) => JSON.stringify(h) + "\n").join(""),
          `--out ${c.out}`,
        );
      }
      nets = buildNets(c, numClasses);
      const net = nets;
      // ssl: the EMA teacher is the model that is evaluated and saved as "discriminator"; the student is kept too.
      const ssl = c.ssl !== "none"
        ? { method: c.ssl, teacher: teacher = new EmaTeacher(net.discriminator!, buildClassifier(c, numClasses)) }
        : undefined;
      const ema = ssl?.teacher;
      const evalD = ema ? ema.model : net.discriminator;
      // maskaux: the classifier with a mask head, trained (and saved as the student) in place of the classifier.
      const joint = c.ssl === "maskaux"
        ? (jointModel = createMaskHead(net.discriminator!, { depth: c.discriminator.depth ?? 4, seed: c.seed }))
        : undefined;
      const studentModel = joint ?? net.discriminator;
      if (resumeDir && lastCkpt) {
        if (net.segmentor) await restoreModelWeights(lastCkpt, "segmentor", net.segmentor);
        if (ema) {
          await restoreModelWeights(lastCkpt, "student", studentModel!);
          await restoreModelWeights(lastCkpt, "discriminator", ema.model);
        } else if (net.discriminator) await restoreModelWeights(lastCkpt, "discriminator", net.discriminator);
        if (net.optS) await restoreOptimizer(lastCkpt, "s", net.optS);
        if (net.optD) await restoreOptimizer(lastCkpt, "d", net.optD);
      }
      const segLoss = segmentationLoss(c);
      const stepsPerEpoch = trainSplit.numBatches(c.batchSize, "wrap");
      const progress = createProgress(opts.progress ?? "auto", c.epochs, stepsPerEpoch);
      const history: EpochRecord[] = [];
      let stopped: TrainResult["stopped"] = "completed";
      let step = start.step;
      let checkedRanges = false;
      const lrAt = (epoch: number) =>
        c.lrSchedule === "cosine" ? c.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / c.epochs)) : c.lr;
      const saveState = async (name: string, epochDone: number, batch: number, crashAt?: "writing" | "swapping") => {
        const models: Record<string, tf.LayersModel> = {};
        if (net.segmentor) models.segmentor = net.segmentor;
        if (evalD) models.discriminator = evalD;
        if (ema) models.student = studentModel!;
        const optimizers: Record<string, tf.Optimizer> = {};
        if (net.optS) optimizers.s = net.optS;
        if (net.optD) optimizers.d = net.optD;
        await saveCheckpoint(path.join(c.out, "checkpoints", name), {
          models,
          optimizers,
          state: {
            epoch: epochDone,
            batch,
            step,
            best,
            history: [...history0, ...history],
            ...(calibration ? { calibration } : {}),
          },
          config: runConfig,
        }, crashAt).catch((e) => {
          // A full disk, a read-only or vanished folder: say where, why and what to do (the earlier checkpoint stays).
          throw describeOsError(e, `--out ${c.out}`, `write checkpoints/${name}`);
        });
      };
      // Fitted on this epoch's val predictions; saved with the checkpoints written after the epoch.
      let calibration: Calibration | undefined;
      const meter = new LossMeter();
      const lossCheck = new FiniteLossCheck();
      let lastEpoch = start.epoch;
      const kept = () =>
        lastEpoch > 0 ? `checkpoints/last holds epoch ${lastEpoch}` : "no checkpoint had been written yet";
      try {
        for (let epoch = start.epoch; epoch < c.epochs; epoch++) {
          const t0 = performance.now();
          const lr = lrAt(epoch);
          for (const o of [net.optS, net.optD]) if (o) (o as unknown as { learningRate: number }).learningRate = lr;
          let images = 0, trainMs = 0;
          const skip = epoch === start.epoch ? start.batch : 0;
          let b = skip;
          const batches: Generator<Batch | SslBatch> = ssl
            ? sslBatches(part.labeled, trainSplit.samples, c.size, {
              method: ssl.method,
              batchSize: c.batchSize,
              ratio: c.sslRatio,
              steps: stepsPerEpoch,
              seed: c.seed,
              epoch,
              skip,
              augment: c.augment,
              clamp: c.normalize !== "zscore",
            })
            : trainSplit.batches({
              batchSize: c.batchSize,
              shuffle: true,
              seed: c.seed,
              epoch,
              augment: c.augment,
              skip,
            });
          for (const batch of batches) {
            const ts = performance.now();
            if (!checkedRanges && c.mode !== "cls" && "hasLabel" in batch) {
              await checkLossRanges(c.loss, batch.masks, batch.masks); // masks must be binary
              checkedRanges = true;
            }
            const values = withSeededRandom(
              [c.seed, epoch, b, 0xd1],
              () =>
                ssl
                  ? sslStep(
                    net.discriminator!,
                    ssl.teacher,
                    net.optD!,
                    batch as SslBatch,
                    {
                      method: ssl.method,
                      threshold: c.sslThreshold,
                      weight: c.sslWeight,
                      step,
                      rampSteps: 5 * stepsPerEpoch,
                    },
                    c.emaDecay,
                    joint,
                  )
                  : runStep(c, net, segLoss, batch as Batch, epoch, b),
            );
            meter.add(values);
            await lossCheck.settle(kept()).catch((e) => {
              tf.dispose(Object.values(values));
              batch.dispose();
              throw e;
            });
            lossCheck.start(values, `epoch ${epoch + 1}, step ${b + 1}/${stepsPerEpoch} (global step ${step + 1})`);
            tf.dispose(Object.values(values));
            batch.dispose();
            images += c.batchSize;
            b++;
            step++;
            trainMs += performance.now() - ts;
            progress.step(epoch, b, (images * 1000) / Math.max(trainMs, 1));
            await opts.onStep?.(step, { segmentor: net.segmentor, discriminator: evalD });
            if (opts.signal?.aborted) break;
          }
          await lossCheck.settle(kept());
          if (opts.signal?.aborted && b < stepsPerEpoch) {
            // Mid-epoch stop: save where we are so --resume continues with the next batch.
            await saveState("last", epoch, b);
            meter.dispose();
            stopped = "aborted";
            progress.done(`stopped at epoch ${epoch + 1}, step ${b}/${stepsPerEpoch}; checkpoint written`);
            break;
          }
          const losses = await meter.read();
          meter.dispose();
          const { metrics: val, predictions: valPredictions } = await evaluateSplit(
            { segmentor: net.segmentor, discriminator: evalD, mode: c.mode },
            valSplit,
            c.batchSize,
          ).catch((e) => {
            if (!(e instanceof RangeError)) throw e;
            throw new NonFiniteError(
              `epoch ${epoch + 1}, validation: ${e.message}; training stopped before this epoch's checkpoints ` +
                `(${kept()}); ${NON_FINITE_CAUSES}`,
            );
          });
          calibration = calibrationFromPredictions(valPredictions);
          const rec: EpochRecord = {
            epoch: epoch + 1,
            losses,
            val,
            imagesPerSecond: (images * 1000) / Math.max(trainMs, 1),
            seconds: (performance.now() - t0) / 1000,
            lr,
          };
          history.push(rec);
          await Deno.writeTextFile(path.join(c.out, "metrics.jsonl"), JSON.stringify(rec) + "\n", { append: true });
          const dice = val.segmentation?.dice.mean ?? NaN, auc = val.classification?.auc ?? NaN;
          const crash = opts.crashCheckpointAfterEpoch?.epoch === epoch + 1
            ? opts.crashCheckpointAfterEpoch.at
            : undefined;
          const policy = checkpointsAfterEpoch(c.mode, best, epoch + 1, dice, auc);
          best = policy.best;
          const improved = policy.improved;
          for (const name of policy.save) await saveState(name, epoch + 1, 0);
          await saveState("last", epoch + 1, 0, crash);
          lastEpoch = epoch + 1;
          progress.epoch(rec);
          opts.onEpoch?.(rec);
          if (opts.signal?.aborted) {
            stopped = "aborted";
            break;
          }
          const bestEpoch = c.mode === "cls" ? best.aucEpoch : best.diceEpoch;
          if (c.earlyStopping > 0 && !improved && epoch + 1 - bestEpoch >= c.earlyStopping) {
            stopped = "early-stopping";
            progress.done(`early stopping: no val improvement for ${c.earlyStopping} epoch(s)`);
            break;
          }
        }
      } finally {
        meter.dispose();
        lossCheck.dispose();
      }
      // Report: every epoch's metrics (resumed runs included) and overlays drawn with the last net.
      const all = [...history0, ...history];
      if (all.length) {
        const predictions = net.segmentor && c.overlays > 0
          ? (await evaluateSplit(
            { segmentor: net.segmentor, discriminator: net.discriminator, mode: c.mode },
            valSplit,
            c.batchSize,
            c.overlays,
          )).predictions.slice(0, c.overlays)
          : [];
        await writeReport({
          out: c.out,
          config: runConfig as unknown as Record<string, unknown>,
          history: all,
          dataset: ds,
          predictions,
          note: `after epoch ${lastEpoch}`,
        });
      }
      return { out: c.out, history, best, stopped, config: c, ...(warmupReport ? { shaderWarmup: warmupReport } : {}) };
    }
  }
}
