import assert from "node:assert/strict";
import * as path from "node:path";
import { evaluate, initBackend, predict, readManifest, train, writePhantomDataset } from "../mod.ts";
import { gatedTest, SCIPY } from "./webgpu_helper.ts";
import { tinyRunOptions } from "./run_options.ts";

await initBackend({ backend: "cpu" });

gatedTest(
  "the independent scorer (numpy/scipy) reads predict's files and agrees with evaluate's Dice, HD95 and AUC",
  [SCIPY],
  async () => {
    const root = await Deno.makeTempDir({ prefix: "appaunet-scorer-" });
    try {
      // Images at the model's size, so that predict's masks and evaluate's share one grid.
      const data = await writePhantomDataset(path.join(root, "data"), { count: 40, size: 32, seed: 6 });
      const run = path.join(root, "run");
      await train({ ...tinyRunOptions(data, run, { epochs: 2 }), progress: "none" });
      const model = path.join(run, "checkpoints", "best");
      const ours = await evaluate({ model, data, split: "test", fieldMetrics: true });
      const test = readManifest(data).rows.filter((r) => r.split === "test").map((r) => r.image);
      assert.ok(test.length > 3);
      const out = path.join(root, "pred");
      await predict({ model, inputs: test, out, postprocess: false });
      const cmd = new Deno.Command("/usr/bin/python3", {
        args: [
          path.join(import.meta.dirname!, "..", "experiments", "score_predictions.py"),
          "--predictions",
          out,
          "--manifest",
          data,
          "--positive",
          ours.classNames[1],
        ],
      });
      const r = await cmd.output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      const s = JSON.parse(new TextDecoder().decode(r.stdout));
      const seg = ours.predictions.filter((p) => p.dice !== undefined);
      assert.equal(s.segmentation.n, seg.length);
      const meanDice = seg.reduce((a, p) => a + p.dice!, 0) / seg.length;
      assert.ok(Math.abs(s.segmentation.dice.mean - meanDice) < 1e-6, `${s.segmentation.dice.mean} vs ${meanDice}`);
      const hd = seg.map((p) => p.field!.hd95).sort((a, b) => a - b);
      const median = hd.length % 2 ? hd[(hd.length - 1) / 2] : (hd[hd.length / 2 - 1] + hd[hd.length / 2]) / 2;
      assert.ok(
        Math.abs(s.segmentation.hd95Pixels.median - median) < 1e-6,
        `${s.segmentation.hd95Pixels.median} vs ${median}`,
      );
      // eval's own summary of the same figures.
      const field = ours.metrics.segmentation!.field!;
      assert.equal(field.hd95Median, median);
      assert.equal(field.over2Pieces, s.segmentation.over2Pieces);
      assert.ok(Math.abs(s.classification.auc - ours.metrics.classification!.auc) < 1e-6);
      assert.ok(Math.abs(s.classification.sensitivity - ours.metrics.classification!.sensitivity) < 1e-9);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);
