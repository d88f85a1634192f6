/**
 * Where a run starts (from scratch, or from its last checkpoint with `--resume`, refusing changed options and edited
 * config files) and the checkpoint policy after each epoch.
 *
 * @module
 */
import * as path from "node:path";
import { configDifferences, type ResolvedTrainOptions, type TrainOptions } from "./config.ts";
import { loadCheckpoint } from "../checkpoint/checkpoint.ts";
import type { EpochRecord } from "../report/epoch_record.ts";

/** Options to continue a run: its folder, optionally a higher `epochs` (other options must match the run's). */
export type ResumeOptions = Partial<TrainOptions> & { resume: string };

/** Where a run starts: from scratch, or from its last checkpoint (`--resume`). */
export interface RunStart {
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
export type BestSoFar = { dice: number; auc: number; diceEpoch: number; aucEpoch: number };

/** Reads where a run starts, checking that a resume keeps the run's options (only `epochs` may rise). */
export async function runStart(
  opts: (TrainOptions | ResumeOptions) & { resume?: boolean | string },
): Promise<RunStart> {
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
      `resume (--resume ${resumeDir}) with out (--out ${opts.out}): a resumed run stays in its folder; drop --out ` +
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
        `resume (--resume ${resumeDir}): the run stopped before its first checkpoint, so there is nothing to resume; start it ` +
          `again with --out ${resumeDir} (the folder is reused)`,
      );
    }
    throw new Error(`resume (--resume ${resumeDir}): ${(e as Error).message}`);
  });
  const saved = ck.config as unknown as ResolvedTrainOptions;
  // The run folder's config.json is a copy for people; an edit to it would be silently ignored, so it is refused.
  try {
    const shown = JSON.parse(await Deno.readTextFile(path.join(resumeDir, "config.json")));
    const edited = configDifferences(saved as unknown as Record<string, unknown>, shown);
    if (edited.length) {
      throw new Error(
        `resume (--resume ${resumeDir}): config.json was edited (${
          edited.join("; ")
        }); a resumed run keeps the options it ` +
          "started with (only --epochs may change): undo the edit, or start a new run with the new options and another --out",
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof SyntaxError)) throw e;
    if (e instanceof SyntaxError) {
      throw new Error(`resume (--resume ${resumeDir}): config.json is not valid JSON (${e.message}); undo the edit`);
    }
  }
  const explicit = Object.fromEntries(
    Object.entries(opts).filter(([k, v]) => v !== undefined && k !== "resume" && k !== "out"),
  );
  const diffs = configDifferences(saved as unknown as Record<string, unknown>, explicit);
  if (diffs.length) {
    throw new Error(
      `resume (--resume ${resumeDir}): the options differ from the run's config.json (${diffs.join("; ")}); ` +
        "resume with the same options (only --epochs may change), or start a new run with another --out",
    );
  }
  const st = ck.state as { epoch: number; batch: number; step: number; best: BestSoFar; history?: EpochRecord[] };
  if (explicit.epochs !== undefined && Number(explicit.epochs) < st.epoch) {
    throw new Error(
      `resume (--resume ${resumeDir}), epochs (--epochs ${explicit.epochs}): the run has done ${st.epoch} epoch(s) already; ` +
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
 * import { checkpointsAfterEpoch } from "./run_start.ts";
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
