/**
 * Model folders for inference: `exportModel` turns a checkpoint into a folder without optimizer state, with the
 * metadata inference needs (size, normalization, class names, threshold, versions, test metrics) in
 * `metadata.json` and in each `model.json`'s `userDefinedMetadata`; `loadPretrained` opens the shipped model
 * (`models/appaunet-cxr/`).
 *
 * @module
 */
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

const f3 = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(3) : "–");
const f1 = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(1) : "–");
const ci = (c: unknown) => (Array.isArray(c) ? `[${f3(c[0])}, ${f3(c[1])}]` : "");
const ci1 = (c: unknown) => (Array.isArray(c) ? `[${f1(c[0])}, ${f1(c[1])}]` : "");

/**
 * The shipped model's goals (issue 25: the field's level for lung segmentation and TB screening on Montgomery +
 * Shenzhen, read from `predict`'s own files by an independent scorer), each as [label, value, goal, met].
 */
function goalRows(s: IndependentTest): string[] {
  const seg = s.segmentation, cls = s.classification;
  const rows: [string, number | undefined, string, boolean][] = [
    ["lung Dice, all", seg?.dice.mean, "≥ 0.965", (seg?.dice.mean ?? 0) >= 0.965],
    [
      "lung Dice, Montgomery",
      seg?.bySource?.montgomery?.dice.mean,
      "≥ 0.975",
      (seg?.bySource?.montgomery?.dice.mean ?? 0) >= 0.975,
    ],
    [
      "lung Dice, Shenzhen",
      seg?.bySource?.shenzhen?.dice.mean,
      "≥ 0.955",
      (seg?.bySource?.shenzhen?.dice.mean ?? 0) >= 0.955,
    ],
    ["HD95 median (px at 256²)", seg?.hd95Pixels.median, "≤ 4", (seg?.hd95Pixels.median ?? Infinity) <= 4],
    ["masks in > 2 pieces", seg?.over2Pieces, "0", seg?.over2Pieces === 0],
    ["TB AUC", cls?.auc, "≥ 0.93", (cls?.auc ?? 0) >= 0.93],
    ["sensitivity at the stored threshold", cls?.sensitivity, "≥ 0.85", (cls?.sensitivity ?? 0) >= 0.85],
    ["specificity at the stored threshold", cls?.specificity, "≥ 0.85", (cls?.specificity ?? 0) >= 0.85],
    ["ECE (10 bins)", cls?.ece, "≤ 0.05", (cls?.ece ?? Infinity) <= 0.05],
  ];
  return [
    "| figure | value | goal | met |",
    "| --- | --- | --- | --- |",
    ...rows.map(([label, v, goal, met]) =>
      `| ${label} | ${Number.isInteger(v) ? v : f3(v)} | ${goal} | ${met ? "yes" : "**no**"} |`
    ),
  ];
}

/**
 * The model card (`README.md` of an exported model), written from the metadata only, so its numbers are the
 * recorded ones.
 *
 * @param meta the model's metadata
 * @returns Markdown
 */
export function modelCard(meta: ModelMetadata): string {
  const t = meta.training;
  const tests =
    (Array.isArray(meta.testMetrics) ? meta.testMetrics : meta.testMetrics ? [meta.testMetrics] : []) as CardTest[];
  const segField = tests.find((x) => x.segmentation)?.segmentation as CardSegField | undefined;
  const cal = meta.calibration;
  const ind = meta.independentTest;
  const seg = tests.find((x) => x.segmentation)?.segmentation;
  const cls = tests.find((x) => x.classification)?.classification;
  const counts = (t.counts ?? {}) as Record<string, number>;
  const c: CardContext = { meta, t, cal, ind, seg, cls, segField, counts };
  return [
    ...cardHead(c),
    ...cardWhat(c),
    ...cardData(c),
    ...cardTest(c),
    ...cardIndependent(c),
    ...cardNone(c),
    ...cardTerms(c),
  ].join("\n");
}

/** A recorded test of the checkpoint (the parts the card shows). */
interface CardTest {
  n?: number;
  segmentation?: { n: number; dice: { mean: number; std: number; ci95: number[] }; jaccard: { mean: number } };
  classification?: {
    n: number;
    auc: number;
    aucCi95: number[];
    accuracy: number;
    sensitivity: number;
    specificity: number;
    ece?: { calibrated: number; raw: number };
  };
}

/** The field metrics of a recorded segmentation test. */
interface CardSegField {
  hd95?: { median: number; ci95: number[] };
  over2Pieces?: number;
  postprocessed?: {
    dice: { mean: number; ci95: number[] };
    hd95: { median: number; ci95: number[] };
    over2Pieces: number;
    bySource?: Record<string, { n: number; dice: { mean: number; ci95: number[] } }>;
  };
}

/** What the model card's sections read. */
interface CardContext {
  meta: ModelMetadata;
  t: ModelMetadata["training"];
  cal: ModelMetadata["calibration"];
  ind: ModelMetadata["independentTest"];
  seg: CardTest["segmentation"];
  cls: CardTest["classification"];
  segField: CardSegField | undefined;
  counts: Record<string, number>;
}

/** The title, the note on how it was written, and the intended use. */
function cardHead(c: CardContext): string[] {
  const { meta } = c;
  return [
    `# appaunet model: ${meta.variant || meta.mode} (${meta.size}²)`,
    "",
    "<!-- Written by `appaunet export` from metadata.json; edit the export, not this file. -->",
    "",
    "**Intended use: research on chest X-ray lung segmentation and tuberculosis screening methods. Not for diagnosis " +
    "or any clinical decision.**",
    "",
  ];
}

/** What the model takes and gives, its decision rule and where it comes from. */
function cardWhat(c: CardContext): string[] {
  const { meta, t, cal } = c;
  return [
    "## What it does",
    "",
    `- Input: one grayscale chest X-ray, resized (squashed) to ${meta.size} × ${meta.size}, intensities ${
      meta.normalize === "unit" ? "scaled to [0, 1]" : "z-scored per image"
    }${meta.clahe ? " after CLAHE" : ""}.`,
    `- Output: a lung probability map (lung where ≥ ${meta.threshold}) and the probabilities of the classes ${
      meta.classNames.join(", ")
    } from ${meta.mode === "cls" || meta.classifierInput === "image" ? "an image classifier" : "D(x ⊕ S(x))"}.`,
    ...(cal
      ? [
        `- Decision: ${
          cal.threshold !== undefined
            ? `\`${meta.classNames[1]}\` where its calibrated probability is ≥ ${
              f3(cal.threshold)
            } (threshold chosen on val by Youden's J)`
            : "the most probable class"
        }; probabilities calibrated on val (${
          cal.bias
            ? `Platt scaling σ(z / T + b), T = ${f3(cal.temperature)}, b = ${f3(cal.bias)}`
            : `temperature ${f3(cal.temperature)}`
        }).`,
      ]
      : []),
    "- Masks are post-processed by `predict`, `serve` and the page (two largest components kept, holes filled) unless " +
    "turned off.",
    meta.classifier
      ? `- Segmentor: from APPAU-Net trained as a multi-task GAN (mode \`${t.mode}\`) with the \`${t.loss}\` loss ` +
        "(Imran & Terzopoulos, MLMI 2019, arXiv:1908.03693). Classes: from a supervised image classifier (D's trunk on " +
        `the image; \`--mode cls --ssl ${meta.classifier.training.ssl}\`: labeled batches, EMA weights), which the ` +
        "results show classifies better than D(x ⊕ S(x)); paired by `export --classifier`."
      : `- Mode \`${meta.mode}\`: APPAU-Net trained as a semi-supervised multi-task GAN with the \`${t.loss}\` loss ` +
        "(Imran & Terzopoulos, MLMI 2019, arXiv:1908.03693).",
    "",
  ];
}

/** The data, the training options, the chosen checkpoint and the versions. */
function cardData(c: CardContext): string[] {
  const { meta, t, counts } = c;
  return [
    "## Data and training",
    "",
    String(t.data).includes("montgomery-shenzhen")
      ? "- Montgomery County + Shenzhen chest X-rays (U.S. National Library of Medicine; Shenzhen lung masks by " +
        "Stirenko et al. 2018), 256² copies, fixed stratified split (560 train, 120 val, 120 test)."
      : `- Data: \`${path.basename(String(t.data))}\` (${counts.train ?? "?"} train, ${counts.val ?? "?"} val images).`,
    `- Trained on ${counts.train ?? "?"} train images: ${
      counts.labeled ?? "?"
    } with a class label (share ${t.classLabelFraction}), ${counts.maskOnly ?? "?"} with a mask only, ${
      counts.unlabeled ?? "?"
    } with neither; ${t.epochs} epochs, ` +
    `batch ${t.batchSize}, lr ${t.lr}, λ_adv ${t.lambdaAdv}, seed ${t.seed}, augmentation ${t.augment ? "on" : "off"}.`,
    `- Checkpoint: epoch ${meta.checkpoint.epoch}, chosen by ${meta.checkpoint.selectedBy} (val split only).`,
    ...(meta.classifier
      ? [
        `- Classifier: ${meta.classifier.training.classLabelFraction === 1 ? "every" : "a share of the"} train ` +
        `class label(s) (share ${meta.classifier.training.classLabelFraction}), ${meta.classifier.training.epochs} epochs, ` +
        `batch ${meta.classifier.training.batchSize}, lr ${meta.classifier.training.lr}, EMA decay ${meta.classifier.training.emaDecay}; checkpoint epoch ${meta.classifier.checkpoint.epoch}, chosen by ${meta.classifier.checkpoint.selectedBy}.`,
      ]
      : []),
    ...(meta.sizeMultiple
      ? [
        `- The exported nets take any input side divisible by ${meta.sizeMultiple}; \`predict\`, \`serve\` and the ` +
        `page use ${meta.size}, the size it was trained at.`,
      ]
      : []),
    `- Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    "",
  ];
}

/** The test split's figures as recorded by the experiment. */
function cardTest(c: CardContext): string[] {
  const { meta, cal, seg, cls, segField } = c;
  return [
    "## Test split (read only for these numbers)",
    "",
    ...(seg
      ? [
        `- Lung Dice ${f3(seg.dice.mean)} ± ${f3(seg.dice.std)} (95 % bootstrap interval of the mean ${
          ci(seg.dice.ci95)
        }), Jaccard ${f3(seg.jaccard.mean)}, on ${seg.n} test images with a mask (at ${meta.size}², as thresholded).`,
      ]
      : []),
    ...(segField?.postprocessed
      ? [
        `- Post-processed as \`predict\` draws masks: Dice ${f3(segField.postprocessed.dice.mean)} ${
          ci(segField.postprocessed.dice.ci95)
        }${
          segField.postprocessed.bySource
            ? ` (${
              Object.entries(segField.postprocessed.bySource).map(([k, v]) => `${k} ${f3(v.dice.mean)}`).join(", ")
            })`
            : ""
        }; HD95 median ${f1(segField.postprocessed.hd95.median)} px at ${meta.size}² ${
          ci1(segField.postprocessed.hd95.ci95)
        } (as thresholded: ${f1(segField.hd95?.median)}); masks in more than two pieces: ${
          segField.over2Pieces ?? "–"
        } as thresholded, ${segField.postprocessed.over2Pieces} post-processed.`,
      ]
      : []),
    ...(cls
      ? [
        `- TB AUC ${f3(cls.auc)} ${ci(cls.aucCi95)}, accuracy ${f3(cls.accuracy)}, sensitivity ${
          f3(cls.sensitivity)
        }, specificity ${f3(cls.specificity)}, on ${cls.n} labeled test images${
          cal ? " (decisions at the stored threshold)" : ""
        }${cls.ece ? `; ECE ${f3(cls.ece.raw)} raw, ${f3(cls.ece.calibrated)} calibrated` : ""}.`,
      ]
      : []),
  ];
}

/** The independent scorer's figures and the goals they are held to. */
function cardIndependent(c: CardContext): string[] {
  const { ind } = c;
  return [
    ...(ind
      ? [
        "",
        "### As an independent scorer reads `predict`'s own files",
        "",
        "`experiments/score_predictions.py` (numpy/scipy; no appaunet code) on `predict --model pretrained` over the " +
        `${ind.segmentation?.n ?? "?"} test images with a mask and ${
          ind.classification?.n ?? "?"
        } labeled test images, each mask in its image's own 256² grid; intervals are percentile bootstrap 95 %.`,
        "",
        ...(ind.segmentation
          ? [
            `- Lung Dice ${f3(ind.segmentation.dice.mean)} ${ci(ind.segmentation.dice.ci95)}${
              ind.segmentation.bySource
                ? `; ${
                  Object.entries(ind.segmentation.bySource).map(([k, v]) =>
                    `${k} ${f3(v.dice.mean)} ${ci(v.dice.ci95)} (n ${v.n})`
                  ).join(", ")
                }`
                : ""
            }; HD95 median ${f1(ind.segmentation.hd95Pixels.median)} px ${
              ci1(ind.segmentation.hd95Pixels.ci95)
            }; masks in more than two pieces: ${ind.segmentation.over2Pieces}.`,
          ]
          : []),
        ...(ind.classification
          ? [
            `- TB AUC ${f3(ind.classification.auc)} ${ci(ind.classification.aucCi95)}; at the stored threshold ` +
            `sensitivity ${f3(ind.classification.sensitivity)}, specificity ${
              f3(ind.classification.specificity)
            }, accuracy ${f3(ind.classification.accuracy)}; ECE ${f3(ind.classification.ece)}.`,
          ]
          : []),
        "",
        "Goals (the field's level: U-Net lung segmentation on Montgomery / Shenzhen, TB screening with pretrained " +
        "CNNs):",
        "",
        ...goalRows(ind),
      ]
      : []),
  ];
}

/** A line for an export without test figures. */
function cardNone(c: CardContext): string[] {
  const { seg, cls } = c;
  return [
    ...(!seg && !cls ? ["- Not recorded for this export."] : []),
    "",
  ];
}

/** The training data's terms. */
function cardTerms(c: CardContext): string[] {
  const { t } = c;
  return [
    ...(String(t.data).includes("montgomery-shenzhen")
      ? [
        "## Terms of the data",
        "",
        "The training data's terms restrict use to non-commercial research: the NLM sets ask not to share the data " +
        "outside the research group; the Shenzhen masks are CC BY-NC-SA 4.0. Treat these weights as a derivative for " +
        "non-commercial research, and cite: Jaeger et al., Quant Imaging Med Surg 2014;4(6):475-477; Jaeger et al., " +
        "IEEE TMI 2014;33(2):233-245; Candemir et al., IEEE TMI 2014;33(2):577-590; Stirenko et al., IEEE ELNANO 2018 " +
        "(arXiv:1803.01199).",
        "",
      ]
      : []),
  ];
}
