/**
 * The trainer: `train(opts)` runs seg, cls or the APPAU-Net semi-supervised multi-task GAN (mtl) and leaves a
 * run folder (`config.json`, `metrics.jsonl`, `checkpoints/{last,best,best-cls}`, `report.html`, overlays). The
 * stages are `TrainingRun`'s (training_run.ts); where a run starts and the checkpoint policy are in run_start.ts.
 *
 * Reproducibility: on the cpu backend a seed gives identical weights (dropout draws from `Math.random`, which
 * the trainer reseeds from (seed, epoch, step) around every step; real-mask noise comes from a seeded
 * generator). On webgpu, reductions run in parallel and float sums may differ in the last bits between runs.
 *
 * @module
 */
import { readManifest } from "../data/manifest.ts";
import { type ResolvedTrainOptions, resolveTrainOptions, type TrainOptions } from "./config.ts";
import type { EpochRecord } from "../report/epoch_record.ts";
import type { ShaderWarmupReport } from "./shader_warmup.ts";
import { claimRunFolder, type RunFolderLock } from "./run_folder.ts";
import { type ResumeOptions, runStart } from "./run_start.ts";
import { TrainingRun, type TrainRuntime } from "./training_run.ts";

export type { EpochRecord };
export { checkpointsAfterEpoch } from "./run_start.ts";

export type { TrainRuntime } from "./training_run.ts";
export type { ResumeOptions };

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** Run folder. */
  out: string;
  /** Records of the epochs run in this call. */
  history: EpochRecord[];
  /** Best val Dice (seg/mtl) and best val AUC (mtl/cls) so far, and their epochs. */
  best: { dice: number; auc: number; diceEpoch: number; aucEpoch: number };
  /** Why it stopped. */
  stopped: "completed" | "early-stopping" | "aborted";
  /** The resolved options. */
  config: ResolvedTrainOptions;
  /** What the shader warm-up did, when one ran and finished before training ended. */
  shaderWarmup?: ShaderWarmupReport;
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
  const c = resolveTrainOptions(rs.given);
  const lock: RunFolderLock = await claimRunFolder(c.out, { resume: Boolean(rs.resumeDir), overwrite: opts.overwrite });
  const run = new TrainingRun(c, opts, rs);
  try {
    const manifest = readManifest(c.data);
    run.startShaderWarmup(manifest.classNames.length); // compiling by the time the first step runs
    await run.loadData(manifest); // options checked against the data: nothing written yet
    await run.writeRunFolder(lock);
    await run.buildModels();
    for (let epoch = rs.start.epoch; epoch < c.epochs && run.stopped === "completed"; epoch++) {
      const steps = await run.trainEpoch(epoch);
      if (steps) await run.closeEpoch(epoch, steps);
    }
    await run.writeReport();
    return {
      out: c.out,
      history: run.history,
      best: run.best,
      stopped: run.stopped,
      config: c,
      ...(run.shaderWarmup ? { shaderWarmup: run.shaderWarmup } : {}),
    };
  } catch (e) {
    // Nothing of a new run was written: leave no half-made folder behind.
    if (!run.wrote && lock.created) await Deno.remove(c.out, { recursive: true }).catch(() => {});
    throw e;
  } finally {
    run.dispose();
    await lock.release();
  }
}
