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
import { PRETRAINED_URL } from "../lib/train/export.ts";
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
    }
    const card = await Deno.readTextFile(new URL("README.md", PRETRAINED_URL));
    if (seg) assert.ok(card.includes(`Lung Dice ${seg.dice.mean.toFixed(3)}`));
    if (cls) assert.ok(card.includes(`TB AUC ${cls.auc.toFixed(3)}`));
  }
}
