import assert from "node:assert/strict";
import * as path from "node:path";
import {
  applyTemperature,
  classificationMetrics,
  createRng,
  decideClass,
  expectedCalibrationError,
  exportModel,
  fitCalibration,
  initBackend,
  predict,
  predictImage,
  reliabilityBins,
  train,
  writePhantomDataset,
  youdenThreshold,
} from "../mod.ts";
import { createAppauNet } from "../mod.ts";
import { tinyRunOptions } from "./run_options.ts";
import { resultFile } from "./result_files.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-calibration-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

Deno.test("temperature scaling: T > 1 for an over-confident model, ≈ 1 for a calibrated one; probabilities keep their order", () => {
  const rng = createRng(2);
  // Calibrated scores: y ~ Bernoulli(p).
  const ps = Array.from({ length: 4000 }, () => rng.next());
  const ys = ps.map((p) => (rng.next() < p ? 1 : 0));
  const calibrated = fitCalibration(ps.map((p) => [1 - p, p]), ys);
  assert.ok(Math.abs(calibrated.temperature - 1) < 0.1, `T = ${calibrated.temperature}`);
  // The same labels with over-confident scores (logits × 3): the fit undoes it (T ≈ 3).
  const sharp = ps.map((p) => applyTemperature([1 - p, p], 1 / 3));
  const c = fitCalibration(sharp, ys);
  assert.ok(c.temperature > 2.5 && c.temperature < 3.5, `T = ${c.temperature}`);
  assert.ok(c.ece.after < c.ece.before / 2);
  const a = applyTemperature([0.3, 0.7], 2), b = applyTemperature([0.2, 0.8], 2);
  assert.ok(a[1] < b[1] && a[1] > 0.5);
  assert.throws(() => applyTemperature([0.5, 0.5], 0), /temperature must be > 0/);
});

Deno.test("Platt scaling removes a shift that temperature scaling cannot (a classifier that underrates class 1)", () => {
  const rng = createRng(6);
  const n = 3000;
  const y = Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
  // True logit 2·(y − ½) + noise, reported 1.5 lower for every image: p₁ is too small everywhere.
  const probs = y.map((v) => {
    const z = 2 * (v - 0.5) + rng.normal() - 1.5;
    const p = 1 / (1 + Math.exp(-z));
    return [1 - p, p];
  });
  const c = fitCalibration(probs, y);
  assert.ok(c.bias !== undefined && c.bias > 1, `bias ${c.bias}`);
  assert.ok(c.ece.after < 0.03 && c.ece.before > 0.1, JSON.stringify(c.ece));
  const onlyT = expectedCalibrationError(probs.map((p) => applyTemperature(p, c.temperature)), y);
  assert.ok(c.ece.after < onlyT, `Platt ${c.ece.after} vs temperature alone ${onlyT}`);
});

Deno.test("Youden threshold: maximises sensitivity + specificity on val; the decision and the metrics use it", () => {
  // Positives score 0.3–0.45, negatives 0.05–0.25: argmax (0.5) calls every positive negative.
  const scores = [0.05, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45];
  const labels = [0, 0, 0, 0, 1, 1, 1, 1];
  const t = youdenThreshold(scores, labels);
  assert.ok(t > 0.25 && t < 0.3, `threshold ${t}`);
  const probs = scores.map((s) => [1 - s, s]);
  assert.equal(classificationMetrics(probs, labels).sensitivity, 0);
  const m = classificationMetrics(probs, labels, t);
  assert.equal(m.sensitivity, 1);
  assert.equal(m.specificity, 1);
  assert.equal(m.threshold, t);
  assert.equal(decideClass([0.72, 0.28], t), 1);
  assert.equal(decideClass([0.1, 0.3, 0.6]), 2);
  assert.equal(youdenThreshold([0.2, 0.4], [1, 1]), 0.5); // one class: no information
});

Deno.test("ECE and the reliability diagram against hand-computed cases", () => {
  const probs = [[0.95, 0.05], [0.15, 0.85], [0.6, 0.4], [0.45, 0.55]];
  const labels = [0, 0, 0, 1];
  // Bins: 0.95 → bin 9 (right), 0.85 → bin 8 (wrong), 0.6 → bin 5 (right), 0.55 → bin 5 (right).
  const bins = reliabilityBins(probs, labels);
  assert.equal(bins[9].n, 1);
  assert.equal(bins[8].accuracy, 0);
  assert.equal(bins[5].n, 2);
  const expected = (Math.abs(1 - 0.95) + Math.abs(0 - 0.85) + 2 * Math.abs(1 - 0.575)) / 4;
  assert.ok(Math.abs(expectedCalibrationError(probs, labels) - expected) < 1e-12);
  assert.ok(Number.isNaN(expectedCalibrationError([], [])));
});

Deno.test("a trained model stores its val calibration; export, predictImage and predict decide with its threshold", async () => {
  const data = await writePhantomDataset(path.join(root, "data"), { count: 24, size: 32, seed: 3 });
  const run = path.join(root, "run");
  await train({ ...tinyRunOptions(data, run, { epochs: 1 }), progress: "none" });
  const model = path.join(root, "model");
  const meta = await exportModel({ model: path.join(run, "checkpoints", "best"), out: model });
  assert.ok(meta.calibration && meta.calibration.threshold !== undefined, "no calibration in metadata.json");
  assert.equal(meta.calibration.rule, "youden-val");
  // A threshold of 0 (every image is class 1) shows that the decision follows the stored threshold, not the argmax.
  const forced = { ...meta, calibration: { ...meta.calibration, threshold: 0, temperature: 1 } };
  const nets = createAppauNet({
    size: 32,
    segmentor: { depth: 2, baseFilters: 4 },
    discriminator: { depth: 2, baseFilters: 4 },
  });
  const image = { width: 32, height: 32, data: new Float32Array(1024).fill(0.4), format: "png" as const, bitDepth: 8 };
  const p = await predictImage({ ...nets, metadata: forced }, image);
  assert.equal(p.predictedClass, meta.classNames[1]);
  const q = await predictImage({
    ...nets,
    metadata: { ...forced, calibration: { ...forced.calibration, threshold: 1.01 } },
  }, image);
  assert.equal(q.predictedClass, meta.classNames[0]);
  nets.segmentor.dispose();
  nets.discriminator.dispose();
  // predict reads the exported state.json's calibration.
  const state = JSON.parse(await Deno.readTextFile(path.join(model, "state.json")));
  state.calibration.threshold = 0;
  await Deno.writeTextFile(path.join(model, "state.json"), JSON.stringify(state));
  const recs = await predict({ model, inputs: [data], out: path.join(root, "pred") });
  assert.ok(recs.length > 0 && recs.every((r) => r.predictedClass === meta.classNames[1]));
});

Deno.test("RESULTS.md reports the field's mask metrics, the val-chosen threshold, ECE and a reliability diagram", async () => {
  const { renderResults } = await import("../mod.ts");
  const stat = (mean: number) => ({ mean, std: 0.01, ci95: [mean - 0.01, mean + 0.01] as [number, number] });
  const r = resultFile({
    id: "mtl-x",
    tables: ["headline"],
    config: { mode: "mtl", size: 128, seed: 0, epochs: 1, batchSize: 8, classLabelFraction: 1, loss: "kltv" },
    epochs: [{ epoch: 1, seconds: 1, lr: 1, losses: {}, valDice: 0.9, valAuc: 0.8 }],
    test: {
      seg: {
        checkpoint: "best",
        epoch: 1,
        n: 120,
        segmentation: {
          n: 105,
          dice: stat(0.95),
          jaccard: stat(0.9),
          pixelAccuracy: { mean: 0.97, std: 0.01 },
          hd95: { median: 5.1, ci95: [4.8, 5.5] as [number, number], mean: 6 },
          over2Pieces: 26,
          postprocessed: {
            dice: stat(0.951),
            hd95: { median: 4.9, ci95: [4.6, 5.2] as [number, number], mean: 5 },
            over2Pieces: 0,
            bySource: { montgomery: { n: 20, dice: stat(0.96) }, shenzhen: { n: 85, dice: stat(0.948) } },
          },
        },
      },
      cls: {
        checkpoint: "best-cls",
        epoch: 1,
        n: 120,
        classification: {
          n: 120,
          auc: 0.9,
          aucCi95: [0.85, 0.95] as [number, number],
          accuracy: 0.85,
          sensitivity: 0.86,
          specificity: 0.84,
          confusion: [[51, 10], [8, 51]],
          calibration: {
            temperature: 1.4,
            threshold: 0.42,
            rule: "youden-val" as const,
            n: 120,
            ece: { before: 0.1, after: 0.05 },
          },
          ece: { calibrated: 0.04, raw: 0.09 },
          reliability: Array.from(
            { length: 10 },
            (_, i) => ({ lo: i / 10, hi: (i + 1) / 10, n: 12, confidence: i / 10 + 0.05, accuracy: i / 10 }),
          ),
        },
      },
    },
  });
  const doc = renderResults([r], "test");
  assert.match(
    doc.markdown,
    /\| mtl-x \| 0\.950 .*\| 0\.951 .*\| montgomery 0\.960 .*shenzhen 0\.948 .*\| 5\.10 .*\| 4\.90 .*\| 26 → 0 of 105 \|/,
  );
  assert.match(
    doc.markdown,
    /\| mtl-x \| 0\.900 .*\| 1\.40, 0\.00 \| 0\.420 \| 0\.850 \| 0\.860 \| 0\.840 \| 0\.090 → 0\.040 \|/,
  );
  assert.ok(doc.charts["results-reliability-mtl-x.svg"]?.startsWith("<svg"));
});
