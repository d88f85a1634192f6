/**
 * Model folders for inference: `exportModel` turns a checkpoint into a folder without optimizer state, with the
 * metadata inference needs (size, normalization, class names, threshold, versions, test metrics) in
 * `metadata.json` and in each `model.json`'s `userDefinedMetadata`; `loadPretrained` opens the shipped model
 * (`models/appaunet-cxr/`).
 *
 * @module
 */
import { modelCard } from "./model_card.ts";
import type * as tf from "@tensorflow/tfjs";
import * as path from "node:path";
import { fileHandler } from "../io/file_handler.ts";
import { describeOsError, replaceFolderAtomically, writeFileSynced } from "../io/fs.ts";
import { loadCheckpoint, loadCheckpointModel, type LoadedCheckpoint } from "../checkpoint/checkpoint.ts";
import type { Calibration } from "../checkpoint/calibration.ts";
import type { IndependentTest, ModelMetadata } from "../checkpoint/model_metadata.ts";

export type { IndependentTest };

export type { ModelMetadata };

/** Options of {@linkcode exportModel}. */
export interface ExportOptions {
  /** Checkpoint folder, e.g. `runs/x/checkpoints/best`. */
  model: string;
  /** Output folder (must be missing or empty unless `overwrite`). */
  out: string;
  /** Test metrics to record (e.g. a result file's `test.cls`). */
  testMetrics?: unknown;
  /** How the checkpoint was chosen (recorded). Default: from the folder name (`best`: val Dice, `best-cls`: val AUC). */
  selectedBy?: string;
  /** Replace the files of an earlier export in `out`. Default `false`. */
  overwrite?: boolean;
  /** The calibration to store. Default: the checkpoint's own (fitted on val when it was saved), if any. */
  calibration?: Calibration;
  /**
   * Test figures from an independent scorer of `predict`'s output (`experiments/score_predictions.py --json`), recorded
   * and shown in the model card with the goals they are held to.
   */
  independentTest?: IndependentTest;
  /**
   * A `cls` checkpoint whose image classifier replaces the model's classifier (the model then has a segmentor from
   * `model` and classes from this classifier; `classifierInput: "image"`). Its calibration is used unless
   * `calibration` is given. Default: none.
   */
  classifier?: string;
}

/** A run's options without local paths: the manifest by its last two path parts (folder and name), no run folder. */
function publicTraining(c: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(c).filter(([k]) => !["out", "adapter", "backend"].includes(k)).map((
      [k, v],
    ) => [k, k === "data" && typeof v === "string" ? v.split(/[\\/]/).slice(-2).join("/") : v]),
  );
}

/**
 * Refuses an export whose output folder is the checkpoint it reads, or holds it, or lies inside it.
 *
 * @param out the output folder
 * @param source the folder read
 */
export async function refuseOwnSource(out: string, source: string): Promise<void> {
  const real = async (p: string) => await Deno.realPath(p).catch(() => path.resolve(p));
  const o = await real(out), s = await real(source);
  const inside = (a: string, b: string) => a === b || a.startsWith(b + path.sep);
  if (inside(o, s) || inside(s, o) || inside(s, `${o}.old`)) {
    throw new Error(
      `--out ${out}: this is (or holds) the checkpoint being exported (${source}); export to another folder`,
    );
  }
}

/**
 * The topology with the input layer's height and width left free (`null`): S and D are fully convolutional (D ends in
 * global average pooling), so the exported nets take any size divisible by 2^depth.
 */
function freeSpatialInput(topology: tf.io.ModelArtifacts["modelTopology"]): tf.io.ModelArtifacts["modelTopology"] {
  const t = JSON.parse(JSON.stringify(topology)) as {
    config: { layers: { class_name: string; config: { batch_input_shape?: (number | null)[] } }[] };
  };
  for (const l of t.config.layers) {
    const shape = l.config.batch_input_shape;
    if (l.class_name === "InputLayer" && shape?.length === 4) l.config.batch_input_shape = [null, null, null, shape[3]];
  }
  return t as unknown as tf.io.ModelArtifacts["modelTopology"];
}

const SELECTED_BY: Record<string, string> = {
  "best": "best val Dice",
  "best-cls": "best val AUC",
  "last": "last epoch",
};

/**
 * Writes a model folder from a checkpoint: `segmentor/` and `discriminator/` (tfjs layers format, with the metadata in
 * `userDefinedMetadata`), `metadata.json`, and `config.json` / `state.json` / `COMPLETE` so that `evaluate` and
 * `predict` take the folder like a checkpoint. Optimizer state is left out.
 *
 * @example
 * ```ts
 * import { exportModel, initBackend, train, writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * await writePhantomDataset(`${dir}/data`, { count: 12, size: 32 });
 * const data = `${dir}/data/manifest.csv`;
 * const small = { baseFilters: 4 }; // a tiny model, so that the example runs in seconds
 * await train({ data, out: `${dir}/run`, size: 32, epochs: 1, batchSize: 4, segmentor: small, discriminator: small, progress: "none" });
 * const meta = await exportModel({ model: `${dir}/run/checkpoints/best`, out: `${dir}/model` });
 * assert.equal(meta.size, 32);
 * assert.ok((await Deno.stat(`${dir}/model/segmentor/model.json`)).isFile);
 * ```
 * @param opts checkpoint, output folder, metrics to record
 * @returns the metadata written
 * @throws {Error} when `out` is not empty (without `overwrite`) or the checkpoint cannot be read
 */
export async function exportModel(opts: ExportOptions): Promise<ModelMetadata> {
  const ck = await loadCheckpoint(opts.model);
  const c = ck.config as Record<string, unknown>;
  await refuseOwnSource(opts.out, ck.dir);
  checkExportTarget(opts);
  // A segmentor paired with an image classifier from another run (`--classifier`).
  const ckC = opts.classifier ? await loadCheckpoint(opts.classifier) : undefined;
  if (ckC) await checkClassifierPair(opts, c, ckC);
  const meta = exportMetadata(opts, ck, ckC);
  // A model evaluates on whole manifests: the training run's subset option does not travel with it.
  const config = { ...ck.config, maxPerSplit: 0, ...(ckC ? { mode: "mtl", classifierInput: "image" } : {}) };
  // Built beside the target and swapped in whole: a kill leaves the earlier model or the new one, never a mix.
  await replaceFolderAtomically(opts.out, async (tmp) => {
    await writeModelFolder(tmp, meta, config, ck, ckC).catch((e) => {
      throw describeOsError(e, `--out ${opts.out}`, "write the model");
    });
  });
  return meta;
}

/** Refuses an `out` that is a file, or a non-empty folder without `overwrite`. */
function checkExportTarget(opts: ExportOptions): void {
  let st: Deno.FileInfo | undefined;
  try {
    st = Deno.statSync(opts.out);
  } catch { /* missing: created */ }
  if (st && !st.isDirectory) throw new Error(`out (--out ${opts.out}): is a file, not a folder; choose a folder`);
  try {
    const names = [...Deno.readDirSync(opts.out)].map((e) => e.name);
    if (names.length && !opts.overwrite) {
      throw new Error(`out (--out ${opts.out}): the folder is not empty; choose a new folder or pass --overwrite`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** A segmentor and an image classifier pair only when they read the same input and name the same classes. */
async function checkClassifierPair(opts: ExportOptions, c: Record<string, unknown>, ckC: LoadedCheckpoint) {
  await refuseOwnSource(opts.out, ckC.dir);
  const cc = ckC.config as Record<string, unknown>;
  if (cc.mode !== "cls") {
    throw new Error(`classifier (--classifier ${opts.classifier}): is a ${cc.mode} checkpoint; pass a cls one`);
  }
  if (c.mode === "cls") throw new Error(`model (--model ${opts.model}): has no segmentor to pair with --classifier`);
  if (
    cc.size !== c.size || (cc.normalize ?? "unit") !== (c.normalize ?? "unit") ||
    Boolean(cc.clahe) !== Boolean(c.clahe)
  ) {
    throw new Error(
      `--classifier ${opts.classifier}: trained at ${cc.size}² (${
        cc.normalize ?? "unit"
      }), the segmentor at ${c.size}² ` +
        `(${c.normalize ?? "unit"}); pair nets trained on the same input`,
    );
  }
  if (JSON.stringify(cc.classNames) !== JSON.stringify(c.classNames)) {
    throw new Error(
      `--classifier ${opts.classifier}: classes ${JSON.stringify(cc.classNames)}, the model's ${
        JSON.stringify(c.classNames)
      }; pair nets of the same classes`,
    );
  }
}

/** The exported model's metadata (no local paths). */
function exportMetadata(opts: ExportOptions, ck: LoadedCheckpoint, ckC?: LoadedCheckpoint): ModelMetadata {
  const c = ck.config as Record<string, unknown>;
  const mode = ckC ? "mtl" : c.mode as ModelMetadata["mode"];
  const calibration = opts.calibration ??
    ((ckC ?? ck).state.calibration as Calibration | undefined);
  return {
    format: "appaunet-model",
    formatVersion: 1,
    mode,
    size: c.size as number,
    normalize: (c.normalize as ModelMetadata["normalize"]) ?? "unit",
    clahe: Boolean(c.clahe),
    classNames: c.classNames as string[],
    threshold: 0.5,
    ...(ckC ? { classifierInput: "image" as const } : {}),
    sizeMultiple: 2 ** Math.max(
      Number((c.segmentor as { depth?: number } | undefined)?.depth ?? 4),
      Number(((ckC?.config ?? c).discriminator as { depth?: number } | undefined)?.depth ?? 4),
    ),
    variant: String(c.variant ?? ""),
    checkpoint: {
      epoch: Number(ck.state.epoch),
      selectedBy: opts.selectedBy ??
        (c.mode === "cls" && path.basename(ck.dir) === "best" ? "best val AUC" : undefined) ??
        SELECTED_BY[path.basename(ck.dir)] ?? path.basename(ck.dir),
    },
    versions: (c.versions ?? {}) as Record<string, unknown>,
    ...(calibration ? { calibration } : {}),
    ...(opts.independentTest ? { independentTest: opts.independentTest } : {}),
    ...(opts.testMetrics !== undefined ? { testMetrics: opts.testMetrics } : {}),
    // No local paths: the manifest by its last two path parts (its folder and name), no run folder.
    training: publicTraining(c),
    ...(ckC
      ? {
        classifier: {
          checkpoint: {
            epoch: Number(ckC.state.epoch),
            // In a cls run `best` follows val AUC.
            selectedBy: path.basename(ckC.dir) === "best" ? "best val AUC" : SELECTED_BY[path.basename(ckC.dir)] ??
              path.basename(ckC.dir),
          },
          training: publicTraining(ckC.config as Record<string, unknown>),
        },
      }
      : {}),
  };
}

/** Writes the nets (tfjs layers format, metadata inside), metadata.json, config, state, the card and COMPLETE. */
async function writeModelFolder(
  tmp: string,
  meta: ModelMetadata,
  config: Record<string, unknown>,
  ck: LoadedCheckpoint,
  ckC?: LoadedCheckpoint,
): Promise<void> {
  const mode = meta.mode, calibration = meta.calibration;
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o, null, 2) + "\n");
  for (const name of ["segmentor", "discriminator"]) {
    if ((name === "segmentor" && mode === "cls") || (name === "discriminator" && mode === "seg")) continue;
    const m = await loadCheckpointModel(name === "discriminator" && ckC ? ckC.dir : ck.dir, name);
    try {
      await m.save({
        save: (a: tf.io.ModelArtifacts) =>
          fileHandler(path.join(tmp, name)).save!({
            ...a,
            modelTopology: freeSpatialInput(a.modelTopology),
            userDefinedMetadata: { appaunet: meta as unknown as object },
          }),
      });
    } finally {
      m.dispose();
    }
  }
  await writeFileSynced(path.join(tmp, "metadata.json"), enc(meta));
  await writeFileSynced(path.join(tmp, "config.json"), enc(config));
  await writeFileSynced(path.join(tmp, "README.md"), new TextEncoder().encode(modelCard(meta)));
  await writeFileSynced(
    path.join(tmp, "state.json"),
    enc({ epoch: ck.state.epoch, ...(calibration ? { calibration } : {}) }),
  );
  await writeFileSynced(path.join(tmp, "COMPLETE"), enc({ exportedAt: new Date().toISOString() }));
}
