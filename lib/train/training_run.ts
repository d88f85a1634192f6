/**
 * One training run's state and its stages, in the order `train()` calls them: the data (validated before anything is
 * written), the run folder, the nets (restored on resume), one epoch of steps, the epoch's close (validation,
 * calibration, the checkpoint policy, early stopping), and the report. One class of ≈ 450 lines because every stage
 * reads and updates the same run state (nets, best metrics, step, history); each method is one stage.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setLearningRate } from "../kernels/tfjs_internals.ts";
import * as path from "node:path";
import { backendInfo } from "../runtime/backend.ts";
import { type Batch, createDataset, type Dataset, type DatasetSplit, type Partition } from "../data/dataset.ts";
import type { Manifest } from "../data/manifest.ts";
import { segmentorVariantName } from "../model/segmentor.ts";
import { checkLossRanges } from "../losses/common.ts";
import type { PerImageLossFn } from "../losses/by_name.ts";
import { fastKernelsEnabled } from "../kernels/registry.ts";
import { APPAUNET_VERSION, type ResolvedTrainOptions } from "./config.ts";
import { restoreModelWeights, restoreOptimizer, saveCheckpoint } from "../checkpoint/checkpoint.ts";
import { calibrationFromPredictions, evaluateSplit } from "../infer/evaluation.ts";
import type { Calibration } from "../checkpoint/calibration.ts";
import type { EpochRecord } from "../report/epoch_record.ts";
import { buildClassifier, buildNets, disposeNets, type Nets, runStep, segmentationLoss } from "./step.ts";
import { createMaskHead, EmaTeacher, type SslBatch, sslBatches, sslStep } from "./ssl.ts";
import { type ShaderWarmup, type ShaderWarmupReport, startShaderWarmup } from "./shader_warmup.ts";
import { NON_FINITE_CAUSES, NonFiniteError } from "../checkpoint/numerics.ts";
import { withSeededRandom } from "./seeded_random.ts";
import { clearRun, type RunFolderLock } from "./run_folder.ts";
import { describeOsError, writeFileAtomically } from "../io/fs.ts";
import { writeReport } from "../report/report.ts";
import { createProgress, type Progress, type ProgressMode } from "../report/progress.ts";
import { FiniteLossCheck, LossMeter } from "./loss_meter.ts";
import { type BestSoFar, checkpointsAfterEpoch, type RunStart } from "./run_start.ts";

/** Runtime options of `train()` (not part of the run's identity). */
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
}

/**
 * Test hooks, off the public module (tests import them from this file): set `crashCheckpointAfterEpoch` to make the
 * checkpoint written after that epoch fail while writing or while swapping folders, as a crash would.
 */
export const trainingTestHooks: { crashCheckpointAfterEpoch?: { epoch: number; at: "writing" | "swapping" } } = {};

/** What one epoch's steps did, for its close. */
interface EpochSteps {
  t0: number;
  lr: number;
  images: number;
  trainMs: number;
}

/** A training run in progress. */
export class TrainingRun {
  /** Whether the run folder has been written to (a failure before leaves nothing behind). */
  wrote = false;
  /** Why the run stopped. */
  stopped: "completed" | "early-stopping" | "aborted" = "completed";
  /** The epochs run in this call. */
  readonly history: EpochRecord[] = [];
  best: BestSoFar;
  private step: number;
  private lastEpoch: number;
  private calibration?: Calibration;
  private warmup?: ShaderWarmup;
  private warmupReport?: ShaderWarmupReport;
  private ds!: Dataset;
  private trainSplit!: DatasetSplit;
  private valSplit!: DatasetSplit;
  private part!: Partition;
  private runConfig!: Record<string, unknown>;
  private nets?: Nets;
  private teacher?: EmaTeacher;
  private joint?: tf.LayersModel;
  private segLoss!: PerImageLossFn;
  private stepsPerEpoch = 0;
  private progress!: Progress;
  private readonly meter = new LossMeter();
  private readonly lossCheck = new FiniteLossCheck();
  private checkedRanges = false;

  /**
   * @param c the resolved options
   * @param opts the runtime options
   * @param rs where the run starts
   */
  constructor(readonly c: ResolvedTrainOptions, private readonly opts: TrainRuntime, private readonly rs: RunStart) {
    this.best = rs.best;
    this.step = rs.start.step;
    this.lastEpoch = rs.start.epoch;
  }

  /** The classifier that is evaluated and saved: the EMA teacher with `ssl`, else the discriminator. */
  private get evalD(): tf.LayersModel | undefined {
    return this.teacher ? this.teacher.model : this.nets?.discriminator;
  }

  /** The classifier that is trained: with `maskaux` the classifier with its mask head. */
  private get student(): tf.LayersModel | undefined {
    return this.joint ?? this.nets?.discriminator;
  }

  /** What a failure's message says survives. */
  private kept(): string {
    return this.lastEpoch > 0 ? `checkpoints/last holds epoch ${this.lastEpoch}` : "no checkpoint had been written yet";
  }

  /**
   * Starts compiling the first step's shaders on a second thread (before the images load).
   *
   * @param numClasses the manifest's classes
   */
  startShaderWarmup(numClasses: number): void {
    this.warmup = this.opts.shaderWarmup === false ? undefined : startShaderWarmup(this.c, numClasses);
    void this.warmup?.done.then((r) => (this.warmupReport = r));
  }

  /**
   * Loads the splits and checks that the options can train on them (labels, classes, masks); nothing is written.
   *
   * @param manifest the run's manifest
   */
  async loadData(manifest: Manifest): Promise<void> {
    const c = this.c;
    this.ds = await createDataset(manifest, {
      size: c.size,
      seed: c.seed,
      classLabelFraction: c.mode === "seg" ? 1 : c.classLabelFraction,
      maskFraction: c.mode === "cls" ? 1 : c.maskFraction,
      normalize: c.normalize,
      clahe: c.clahe,
      skipBad: c.skipBad,
      maxPerSplit: c.maxPerSplit,
    });
    this.trainSplit = this.ds.split("train");
    this.valSplit = this.ds.split("val");
    this.part = this.ds.partition();
    if (c.mode !== "seg" && this.part.labeled.length === 0) {
      throw new Error(
        `classLabelFraction (--label-fraction ${c.classLabelFraction}): no train image keeps a class label; raise it`,
      );
    }
    const seen = new Set(this.part.labeled.map((s) => s.label));
    if (c.mode !== "seg" && seen.size < 2) {
      const only = this.ds.classNames[[...seen][0] ?? 0];
      throw new Error(
        `${c.data}: every labeled train image is class "${only}"; a classifier needs at least two classes among ` +
          "them (check the label column; with --label-fraction, raise it)",
      );
    }
    if (c.mode !== "cls" && this.trainSplit.samples.every((s) => !s.mask)) {
      throw new Error(
        `maskFraction (--mask-fraction ${c.maskFraction}): no train image keeps a mask; raise it or use --mode cls`,
      );
    }
  }

  /**
   * Writes the run folder's start: clears a replaced run, `config.json` (new runs), and `metrics.jsonl` rewritten from
   * the checkpoint's history (resumed runs: after a crash it may hold more lines than the checkpoint knows of).
   *
   * @param lock the claimed run folder
   */
  async writeRunFolder(lock: RunFolderLock): Promise<void> {
    const c = this.c, resuming = Boolean(this.rs.resumeDir);
    if (!resuming && (this.opts.overwrite || lock.unsaved)) await clearRun(c.out);
    this.wrote = true;
    await Deno.mkdir(path.join(c.out, "checkpoints"), { recursive: true });
    const info = backendInfo();
    this.runConfig = {
      ...c,
      variant: c.mode === "cls" ? "classifier" : segmentorVariantName(c.segmentor),
      classNames: this.ds.classNames,
      counts: {
        train: this.trainSplit.size,
        val: this.valSplit.size,
        labeled: this.part.labeled.length,
        maskOnly: this.part.maskOnly.length,
        unlabeled: this.part.unlabeled.length,
      },
      versions: { appaunet: APPAUNET_VERSION, ...info.versions },
      backend: info.backend,
      adapter: info.adapter ?? null,
      fastKernels: fastKernelsEnabled(),
    };
    if (!resuming) await Deno.writeTextFile(path.join(c.out, "config.json"), JSON.stringify(this.runConfig, null, 2));
    if (resuming) {
      const lines = this.rs.history0.map((h) => JSON.stringify(h) + "\n").join("");
      await writeFileAtomically(path.join(c.out, "metrics.jsonl"), lines, `--out ${c.out}`);
    }
  }

  /** Builds the nets (and the EMA teacher, the mask head) and restores them from the last checkpoint on resume. */
  async buildModels(): Promise<void> {
    const c = this.c, numClasses = this.ds.classNames.length;
    const net = this.nets = buildNets(c, numClasses);
    // ssl: the EMA teacher is the model that is evaluated and saved as "discriminator"; the student is kept too.
    if (c.ssl !== "none") this.teacher = new EmaTeacher(net.discriminator!, buildClassifier(c, numClasses));
    // maskaux: the classifier with a mask head, trained (and saved as the student) in place of the classifier.
    if (c.ssl === "maskaux") {
      this.joint = createMaskHead(net.discriminator!, { depth: c.discriminator.depth ?? 4, seed: c.seed });
    }
    const ck = this.rs.resumeDir ? this.rs.lastCkpt : undefined;
    if (ck) {
      if (net.segmentor) await restoreModelWeights(ck, "segmentor", net.segmentor);
      if (this.teacher) {
        await restoreModelWeights(ck, "student", this.student!);
        await restoreModelWeights(ck, "discriminator", this.teacher.model);
      } else if (net.discriminator) await restoreModelWeights(ck, "discriminator", net.discriminator);
      if (net.optS) await restoreOptimizer(ck, "s", net.optS);
      if (net.optD) await restoreOptimizer(ck, "d", net.optD);
    }
    this.segLoss = segmentationLoss(c);
    this.stepsPerEpoch = this.trainSplit.numBatches(c.batchSize, "wrap");
    this.progress = createProgress(this.opts.progress ?? "auto", c.epochs, this.stepsPerEpoch);
  }

  /**
   * Writes a checkpoint of the nets, optimizers and state.
   *
   * @param name `last`, `best` or `best-cls`
   * @param epochDone epochs completed
   * @param batch batches done in the next epoch (a mid-epoch stop)
   * @param crashAt test hook: fail while writing or swapping
   */
  private async saveState(name: string, epochDone: number, batch: number, crashAt?: "writing" | "swapping") {
    const net = this.nets!, models: Record<string, tf.LayersModel> = {};
    if (net.segmentor) models.segmentor = net.segmentor;
    if (this.evalD) models.discriminator = this.evalD;
    if (this.teacher) models.student = this.student!;
    const optimizers: Record<string, tf.Optimizer> = {};
    if (net.optS) optimizers.s = net.optS;
    if (net.optD) optimizers.d = net.optD;
    const state = {
      epoch: epochDone,
      batch,
      step: this.step,
      best: this.best,
      history: [...this.rs.history0, ...this.history],
      ...(this.calibration ? { calibration: this.calibration } : {}),
    };
    await saveCheckpoint(path.join(this.c.out, "checkpoints", name), {
      models,
      optimizers,
      state,
      config: this.runConfig,
    }, crashAt).catch((e) => {
      // A full disk, a read-only or vanished folder: say where, why and what to do (the earlier checkpoint stays).
      throw describeOsError(e, `--out ${this.c.out}`, `write checkpoints/${name}`);
    });
  }

  /** The learning rate of an epoch (constant, or cosine-annealed). */
  private lrAt(epoch: number): number {
    const c = this.c;
    return c.lrSchedule === "cosine" ? c.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / c.epochs)) : c.lr;
  }

  /** The epoch's batches: labeled + unlabeled ones with `ssl`, else the train split's. */
  private batches(epoch: number, skip: number): Generator<Batch | SslBatch> {
    const c = this.c;
    return c.ssl !== "none"
      ? sslBatches(this.part.labeled, this.trainSplit.samples, c.size, {
        method: c.ssl,
        batchSize: c.batchSize,
        ratio: c.sslRatio,
        steps: this.stepsPerEpoch,
        seed: c.seed,
        epoch,
        skip,
        augment: c.augment,
        clamp: c.normalize !== "zscore",
      })
      : this.trainSplit.batches({
        batchSize: c.batchSize,
        shuffle: true,
        seed: c.seed,
        epoch,
        augment: c.augment,
        skip,
      });
  }

  /** One training step on a batch (seeded dropout), its losses added to the epoch's meter and checked. */
  private async trainStep(batch: Batch | SslBatch, epoch: number, b: number): Promise<void> {
    const c = this.c, net = this.nets!;
    if (!this.checkedRanges && c.mode !== "cls" && "hasLabel" in batch) {
      await checkLossRanges(c.loss, batch.masks, batch.masks); // masks must be binary
      this.checkedRanges = true;
    }
    const values = withSeededRandom(
      [c.seed, epoch, b, 0xd1],
      () =>
        this.teacher
          ? sslStep(
            net.discriminator!,
            this.teacher,
            net.optD!,
            batch as SslBatch,
            {
              method: c.ssl as Exclude<typeof c.ssl, "none">,
              threshold: c.sslThreshold,
              weight: c.sslWeight,
              step: this.step,
              rampSteps: 5 * this.stepsPerEpoch,
            },
            c.emaDecay,
            this.joint,
          )
          : runStep(c, net, this.segLoss, batch as Batch, epoch, b),
    );
    this.meter.add(values);
    await this.lossCheck.settle(this.kept()).catch((e) => {
      tf.dispose(Object.values(values));
      batch.dispose();
      throw e;
    });
    const where = `epoch ${epoch + 1}, step ${b + 1}/${this.stepsPerEpoch} (global step ${this.step + 1})`;
    this.lossCheck.start(values, where);
    tf.dispose(Object.values(values));
    batch.dispose();
  }

  /**
   * Runs an epoch's steps (from the resumed batch in the first one). A stop requested mid-epoch writes `last` at that
   * batch and returns `undefined`.
   *
   * @param epoch the 0-based epoch
   * @returns what the epoch's steps did, for {@linkcode TrainingRun.closeEpoch}
   */
  async trainEpoch(epoch: number): Promise<EpochSteps | undefined> {
    const c = this.c, t0 = performance.now(), lr = this.lrAt(epoch);
    for (const o of [this.nets!.optS, this.nets!.optD]) {
      if (o) setLearningRate(o, lr);
    }
    let images = 0, trainMs = 0;
    const skip = epoch === this.rs.start.epoch ? this.rs.start.batch : 0;
    let b = skip;
    for (const batch of this.batches(epoch, skip)) {
      const ts = performance.now();
      await this.trainStep(batch, epoch, b);
      images += c.batchSize;
      b++;
      this.step++;
      trainMs += performance.now() - ts;
      this.progress.step(epoch, b, (images * 1000) / Math.max(trainMs, 1));
      await this.opts.onStep?.(this.step, { segmentor: this.nets!.segmentor, discriminator: this.evalD });
      if (this.opts.signal?.aborted) break;
    }
    await this.lossCheck.settle(this.kept());
    if (this.opts.signal?.aborted && b < this.stepsPerEpoch) {
      // Mid-epoch stop: save where we are so --resume continues with the next batch.
      await this.saveState("last", epoch, b);
      this.meter.dispose();
      this.stopped = "aborted";
      this.progress.done(`stopped at epoch ${epoch + 1}, step ${b}/${this.stepsPerEpoch}; checkpoint written`);
      return undefined;
    }
    return { t0, lr, images, trainMs };
  }

  /**
   * Closes an epoch: validation, the val-fitted calibration, its record, the checkpoints its metrics earn and `last`,
   * then a requested stop or early stopping.
   *
   * @param epoch the 0-based epoch
   * @param s what its steps did
   */
  async closeEpoch(epoch: number, s: EpochSteps): Promise<void> {
    const c = this.c;
    const losses = await this.meter.read();
    this.meter.dispose();
    const { metrics: val, predictions } = await evaluateSplit(
      { segmentor: this.nets!.segmentor, discriminator: this.evalD, mode: c.mode },
      this.valSplit,
      c.batchSize,
    ).catch((e) => {
      if (!(e instanceof RangeError)) throw e;
      throw new NonFiniteError(
        `epoch ${epoch + 1}, validation: ${e.message}; training stopped before this epoch's checkpoints ` +
          `(${this.kept()}); ${NON_FINITE_CAUSES}`,
      );
    });
    this.calibration = calibrationFromPredictions(predictions);
    const rec: EpochRecord = {
      epoch: epoch + 1,
      losses,
      val,
      imagesPerSecond: (s.images * 1000) / Math.max(s.trainMs, 1),
      seconds: (performance.now() - s.t0) / 1000,
      lr: s.lr,
    };
    this.history.push(rec);
    await Deno.writeTextFile(path.join(c.out, "metrics.jsonl"), JSON.stringify(rec) + "\n", { append: true });
    const dice = val.segmentation?.dice.mean ?? NaN, auc = val.classification?.auc ?? NaN;
    const hook = trainingTestHooks.crashCheckpointAfterEpoch;
    const crash = hook?.epoch === epoch + 1 ? hook.at : undefined;
    const policy = checkpointsAfterEpoch(c.mode, this.best, epoch + 1, dice, auc);
    this.best = policy.best;
    for (const name of policy.save) await this.saveState(name, epoch + 1, 0);
    await this.saveState("last", epoch + 1, 0, crash);
    this.lastEpoch = epoch + 1;
    this.progress.epoch(rec);
    this.opts.onEpoch?.(rec);
    if (this.opts.signal?.aborted) {
      this.stopped = "aborted";
      return;
    }
    const bestEpoch = c.mode === "cls" ? this.best.aucEpoch : this.best.diceEpoch;
    if (c.earlyStopping > 0 && !policy.improved && epoch + 1 - bestEpoch >= c.earlyStopping) {
      this.stopped = "early-stopping";
      this.progress.done(`early stopping: no val improvement for ${c.earlyStopping} epoch(s)`);
    }
  }

  /** Writes `report.html`: every epoch's metrics (resumed runs included) and overlays drawn with the last nets. */
  async writeReport(): Promise<void> {
    const c = this.c, net = this.nets!;
    const all = [...this.rs.history0, ...this.history];
    if (!all.length) return;
    const predictions = net.segmentor && c.overlays > 0
      ? (await evaluateSplit(
        { segmentor: net.segmentor, discriminator: net.discriminator, mode: c.mode },
        this.valSplit,
        c.batchSize,
        c.overlays,
      )).predictions.slice(0, c.overlays)
      : [];
    await writeReport({
      out: c.out,
      config: this.runConfig,
      history: all,
      dataset: this.ds,
      predictions,
      note: `after epoch ${this.lastEpoch}`,
    });
  }

  /** What the shader warm-up did, when it finished. */
  get shaderWarmup(): ShaderWarmupReport | undefined {
    return this.warmupReport;
  }

  /** Frees the nets, optimizers, teacher, mask head, meters and the warm-up worker. */
  dispose(): void {
    this.meter.dispose();
    this.lossCheck.dispose();
    this.warmup?.stop();
    this.teacher?.dispose();
    // The joint model shares the classifier's layers (disposed with the nets): free the mask head's own layers only.
    if (this.joint) { for (const l of this.joint.layers) if (l.name.startsWith("maskhead_")) l.dispose(); }
    if (this.nets) disposeNets(this.nets);
  }
}
