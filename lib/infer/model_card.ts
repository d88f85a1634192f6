/**
 * The model card (`README.md` of an exported model): intended use, what the model does, its data and training, its
 * test figures (and an independent scorer's with the goals they are held to), the data's terms. Written by `export`
 * from the metadata only.
 *
 * @module
 */
import * as path from "node:path";
import type { IndependentTest, ModelMetadata } from "../checkpoint/model_metadata.ts";

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
