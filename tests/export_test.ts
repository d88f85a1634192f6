import assert from "node:assert/strict";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  evaluate,
  exportModel,
  fileHandler,
  initBackend,
  loadPretrained,
  type ModelMetadata,
  train,
  writePhantomDataset,
} from "../mod.ts";
import { PRETRAINED_URL } from "../lib/checkpoint/open_model.ts";
import { tinyRunOptions } from "./run_options.ts";
import { gatedTest, REAL_DATA, REAL_DATA_CSV } from "./webgpu_helper.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-export-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

Deno.test("export: a model folder without optimizer state evaluates like its checkpoint and carries its metadata", async () => {
  const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 9 });
  await train({ ...tinyRunOptions(data, path.join(root, "run"), { epochs: 1, overlays: 0 }), progress: "none" });
  const ckpt = path.join(root, "run", "checkpoints", "best");
  const out = path.join(root, "model");
  const testMetrics = [{
    checkpoint: "best",
    n: 3,
    segmentation: { n: 3, dice: { mean: 0.5, std: 0.1, ci95: [0.4, 0.6] }, jaccard: { mean: 0.3 } },
  }];
  const meta = await exportModel({ model: ckpt, out, testMetrics });
  assert.equal(meta.size, 32);
  assert.deepEqual(meta.classNames, ["normal", "opacity"]);
  assert.equal(meta.checkpoint.selectedBy, "best val Dice");
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  assert.deepEqual(names, [
    "COMPLETE",
    "README.md",
    "config.json",
    "discriminator",
    "metadata.json",
    "segmentor",
    "state.json",
  ]);
  const mj = JSON.parse(await Deno.readTextFile(path.join(out, "segmentor", "model.json")));
  assert.equal((mj.userDefinedMetadata.appaunet as ModelMetadata).size, 32);
  assert.match(
    await Deno.readTextFile(path.join(out, "README.md")),
    /Lung Dice 0\.500 ± 0\.100 \(95 % bootstrap interval of the mean \[0\.400, 0\.600\]\)/,
  );
  // Spatial input left free: the exported segmentor runs at another size divisible by 2^depth.
  assert.deepEqual(mj.modelTopology.config.layers[0].config.batch_input_shape, [null, null, null, 1]);
  assert.equal(meta.sizeMultiple, 4);
  const seg = await tf.loadLayersModel(fileHandler(path.join(out, "segmentor")));
  const y = seg.predict(tf.zeros([1, 64, 64, 1])) as tf.Tensor;
  assert.deepEqual(y.shape, [1, 64, 64, 1]);
  tf.dispose([y]);
  seg.dispose();
  const a = await evaluate({ model: ckpt, data, split: "test" });
  const b = await evaluate({ model: out, data, split: "test" });
  assert.deepEqual(b.metrics, a.metrics);
  await assert.rejects(
    exportModel({ model: ckpt, out }),
    /the folder is not empty; choose a new folder or pass --overwrite/,
  );
});

const REAL = REAL_DATA_CSV;
const hasModel = await Deno.stat(new URL("metadata.json", PRETRAINED_URL)).then(() => true, () => false);

gatedTest(
  "pretrained: --model pretrained reproduces the model card's test metrics on the real test split",
  [REAL_DATA, { name: "pretrained", ok: hasModel, fix: "models/appaunet-cxr/ is not in this checkout" }],
  async () => {
    // 120 images at 128²: on webgpu where there is an adapter (the cpu backend takes minutes).
    await initBackend({ backend: "webgpu", allowFallback: true, warn: false });
    try {
      await checkPretrained();
    } finally {
      await initBackend({ backend: "cpu" });
    }
  },
);

async function checkPretrained() {
  {
    const { segmentor, discriminator, metadata } = await loadPretrained();
    assert.deepEqual(segmentor.inputs[0].shape, [null, null, null, 1]); // free spatial input
    assert.equal(metadata.size, 128);
    segmentor.dispose();
    discriminator.dispose();
    const recorded = metadata.testMetrics as {
      segmentation?: { n: number; dice: { mean: number } };
      classification?: { n: number; auc: number; accuracy: number };
    }[];
    const e = await evaluate({ model: "pretrained", data: REAL, split: "test" });
    const seg = recorded.find((r) => r.segmentation)?.segmentation;
    const cls = recorded.find((r) => r.classification)?.classification;
    assert.ok(seg || cls, "the model card records test metrics");
    if (seg) {
      assert.equal(e.metrics.segmentation!.n, seg.n);
      // Recorded on webgpu; the cpu backend's float sums differ in the last bits.
      assert.ok(
        Math.abs(e.metrics.segmentation!.dice.mean - seg.dice.mean) < 2e-3,
        `${e.metrics.segmentation!.dice.mean} vs ${seg.dice.mean}`,
      );
    }
    if (cls) {
      assert.equal(e.metrics.classification!.n, cls.n);
      assert.ok(
        Math.abs(e.metrics.classification!.auc - cls.auc) < 0.01,
        `${e.metrics.classification!.auc} vs ${cls.auc}`,
      );
      // Decisions at the stored (val-chosen) threshold, as the card reports them.
      const recordedCls = cls as typeof cls & { sensitivity?: number; specificity?: number };
      if (recordedCls.sensitivity !== undefined) {
        assert.ok(Math.abs(e.metrics.classification!.sensitivity - recordedCls.sensitivity) < 0.02);
        assert.ok(Math.abs(e.metrics.classification!.specificity - recordedCls.specificity!) < 0.02);
      }
    }
    const card = await Deno.readTextFile(new URL("README.md", PRETRAINED_URL));
    if (seg) assert.ok(card.includes(`Lung Dice ${seg.dice.mean.toFixed(3)}`));
    if (cls) assert.ok(card.includes(`TB AUC ${cls.auc.toFixed(3)}`));
  }
}

Deno.test("export --classifier pairs a segmentor with a cls run's image classifier: eval, predict and predictImage use both", async () => {
  const { predict, predictImage, train: trainRun, writePhantomDataset: phantoms } = await import("../mod.ts");
  const { openModel } = await import("../lib/checkpoint/open_model.ts");
  const data = await phantoms(path.join(root, "pair-data"), { count: 28, size: 32, seed: 4 });
  const seg = path.join(root, "pair-seg"), cls = path.join(root, "pair-cls");
  await trainRun({ ...tinyRunOptions(data, seg, { mode: "seg", epochs: 1 }), progress: "none" });
  await trainRun({ ...tinyRunOptions(data, cls, { mode: "cls", ssl: "supervised", epochs: 1 }), progress: "none" });
  const out = path.join(root, "pair-model");
  const meta = await exportModel({
    model: path.join(seg, "checkpoints", "best"),
    classifier: path.join(cls, "checkpoints", "best"),
    out,
  });
  assert.equal(meta.mode, "mtl");
  assert.equal(meta.classifierInput, "image");
  assert.ok(meta.calibration, "the classifier's calibration is not in the metadata");
  const pair = await evaluate({ model: out, data, split: "test" });
  const s = await evaluate({ model: path.join(seg, "checkpoints", "best"), data, split: "test" });
  const c = await evaluate({ model: path.join(cls, "checkpoints", "best"), data, split: "test" });
  assert.equal(pair.metrics.segmentation!.dice.mean, s.metrics.segmentation!.dice.mean);
  assert.equal(pair.metrics.classification!.auc, c.metrics.classification!.auc);
  assert.deepEqual(pair.metrics.classification!.confusion, c.metrics.classification!.confusion);
  const recs = await predict({
    model: out,
    inputs: [path.join(root, "pair-data", "images")],
    out: path.join(root, "pair-pred"),
  });
  assert.ok(recs.every((r) => r.mask && r.predictedClass));
  const m = await openModel(out);
  const image = { width: 32, height: 32, data: new Float32Array(1024).fill(0.4), format: "png" as const, bitDepth: 8 };
  const p = await predictImage({ segmentor: m.segmentor, discriminator: m.discriminator, metadata: meta }, image);
  assert.ok(p.mask && p.probabilities);
  m.dispose();
  await assert.rejects(
    exportModel({
      model: path.join(cls, "checkpoints", "best"),
      classifier: path.join(cls, "checkpoints", "best"),
      out: path.join(root, "x"),
    }),
    /has no segmentor to pair/,
  );
  await assert.rejects(
    exportModel({
      model: path.join(seg, "checkpoints", "best"),
      classifier: path.join(seg, "checkpoints", "best"),
      out: path.join(root, "y"),
    }),
    /is a seg checkpoint; pass a cls one/,
  );
});
