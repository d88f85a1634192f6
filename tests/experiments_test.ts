import assert from "node:assert/strict";
import * as path from "node:path";
import { main } from "../cli.ts";
import { capture } from "./capture.ts";
import {
  bootstrapInterval,
  type ExperimentResult,
  initBackend,
  parsePlan,
  readPlan,
  renderResults,
  resolveTrainOptions,
} from "../mod.ts";
import { epochsToLevel } from "../lib/experiments/results_doc.ts";
import { runCommandLine } from "../lib/experiments/plan.ts";
import { gatedTest, REAL_DATA, WEBGPU } from "./webgpu_helper.ts";
import { resultFile } from "./result_files.ts";

Deno.test("parsePlan: defaults merge into each run; bad ids, duplicates, tables and option names name the run", () => {
  const base = {
    description: "t",
    data: "m.csv",
    defaults: { size: 32, segmentor: { depth: 2 } },
    runs: [{ id: "a-1", tables: ["ablation"], options: { size: 64, segmentor: { attention: false } } }],
  };
  const [r] = parsePlan(base, "p.json");
  assert.equal(r.options.size, 64);
  assert.equal(r.options.data, "m.csv");
  assert.deepEqual(r.options.segmentor, { depth: 2, attention: false });
  const bad = (runs: unknown[], re: RegExp) =>
    assert.throws(() => parsePlan({ ...base, runs }, "p.json"), (e: Error) => re.test(e.message));
  bad([{ id: "../x", tables: ["ablation"], options: {} }], /p\.json: runs\[0\]: id "\.\.\/x" must be lower-case/);
  bad([{ id: "Up", tables: ["ablation"], options: {} }], /must be lower-case/);
  bad([base.runs[0], base.runs[0]], /runs\[1\]: id "a-1" is used twice/);
  bad([{ id: "b", tables: ["nope"], options: {} }], /runs\[0\] \(b\): "tables" must list some of headline/);
  bad([{ id: "b", tables: [], options: { sise: 3 } }], /runs\[0\] \(b\): unknown option "sise"/);
  assert.throws(() => parsePlan({ ...base, data: "" }, "p.json"), /"data" must be the manifest CSV path/);
});

Deno.test("the committed plans parse, and every run's options pass train's validation", async () => {
  for (const file of ["experiments/plan.json", "experiments/quick.json"]) {
    const runs = await readPlan(file);
    assert.ok(runs.length >= 3, file);
    for (const r of runs) resolveTrainOptions({ ...r.options, out: path.join("runs", r.id) });
  }
  const ids = (await readPlan("experiments/plan.json")).map((r) => r.id);
  // The grid: 8 segmentor variants, 3 seeds of kltv/xe/tversky, cls and mtl at 10 % with 3 seeds each.
  assert.equal(ids.filter((i) => /^seg-kltv-((p?a?g?|plain)-)?e0$/.test(i)).length, 8);
  for (const l of ["kltv", "xe", "tversky"]) for (const s of [0, 1, 2]) assert.ok(ids.includes(`seg-${l}-e${s}`));
  for (const s of [0, 1, 2]) assert.ok(ids.includes(`cls-l10-e${s}`) && ids.includes(`mtl-kltv-l10-e${s}`));
  assert.equal(runCommandLine("a b.json", "x"), "deno run -A cli.ts experiments --plan 'a b.json' --run x");
  assert.equal(
    runCommandLine("p.json", "x", ["--results", "r"]),
    "deno run -A cli.ts experiments --plan p.json --run x --results r",
  );
});

Deno.test("bootstrapInterval: brackets the statistic, repeats with a seed, leaves out non-finite resamples", () => {
  const x = Array.from({ length: 50 }, (_, i) => i / 49);
  const m = (idx: number[]) => idx.reduce((s, i) => s + x[i], 0) / idx.length;
  const [lo, hi] = bootstrapInterval(x.length, m, { seed: 1 });
  assert.ok(lo < 0.5 && 0.5 < hi, `${lo} ${hi}`);
  // Standard error of the mean of U(0,1)-like values, n = 50: ≈ 0.041; the 95 % interval is ≈ ±0.08.
  assert.ok(hi - lo > 0.1 && hi - lo < 0.22, `${hi - lo}`);
  assert.deepEqual(bootstrapInterval(x.length, m, { seed: 1 }), [lo, hi]);
  assert.notDeepEqual(bootstrapInterval(x.length, m, { seed: 2 }), [lo, hi]);
  assert.deepEqual(bootstrapInterval(0, m), [NaN, NaN]);
  assert.deepEqual(bootstrapInterval(3, () => NaN), [NaN, NaN]);
  assert.throws(() => bootstrapInterval(3, m, { level: 1 }), /level must be in \(0, 1\)/);
});

function fakeResult(id: string, config: Record<string, unknown>, valDice: number[], auc = NaN): ExperimentResult {
  return resultFile({
    id,
    tables: ["convergence", "labels"],
    config: { size: 64, epochs: valDice.length, seed: 0, batchSize: 8, maskFraction: 1, ...config },
    params: { segmentor: 1000 },
    finishedAt: "2026-12-04T00:00:00.000Z",
    trainSeconds: 10 * valDice.length,
    epochs: valDice.map((d, i) => ({ epoch: i + 1, seconds: 10, lr: 1e-3, losses: {}, valDice: d })),
    test: {
      seg: {
        checkpoint: "best",
        epoch: 1,
        n: 10,
        segmentation: {
          n: 10,
          dice: { mean: 0.9, std: 0.01, ci95: [0.89, 0.91] },
          jaccard: { mean: 0.8, std: 0.01, ci95: [0.79, 0.81] },
          pixelAccuracy: { mean: 0.95, std: 0.01 },
        },
      },
      cls: {
        checkpoint: "best-cls",
        epoch: 1,
        n: 10,
        classification: {
          n: 10,
          auc,
          aucCi95: [auc - 0.1, auc + 0.05],
          accuracy: 0.7,
          sensitivity: 0.6,
          specificity: 0.8,
          confusion: [[4, 1], [2, 3]],
        },
      },
    },
  });
}

Deno.test("renderResults: epochs to a val Dice level, the KLTV convergence verdict and the semi-supervision verdict", () => {
  const kltv = [0.5, 0.91, 0.96], slow = [0.5, 0.8, 0.92, 0.93];
  const a = fakeResult("a", { mode: "seg", loss: "kltv", classLabelFraction: 1 }, kltv);
  const b = fakeResult("b", { mode: "seg", loss: "xe", classLabelFraction: 1 }, slow);
  assert.deepEqual(epochsToLevel(a, 0.9), { epoch: 2, seconds: 20 });
  assert.equal(epochsToLevel(b, 0.95), undefined);
  const doc = renderResults([a, b], "test");
  assert.match(
    doc.markdown,
    /\*\*Does KLTV converge faster\?\*\* Mean epochs to val Dice 0\.95: xe not every seed \(1 seed\)\. kltv: yes, 3\.0 \(1 seed\)\./,
  );
  assert.match(doc.markdown, /\| xe \| 1 \| 3\.0 \| 30 \| – \(1 of 1 never\) \|/);
  assert.ok(doc.charts["results-convergence.svg"].startsWith("<svg"));
  const swapped = renderResults([{ ...a, epochs: b.epochs }, { ...b, epochs: a.epochs }], "test");
  assert.match(swapped.markdown, /\*\*Does KLTV converge faster\?\*\* .* kltv: no, not every seed \(1 seed\)\./);
  // Each reading of |KL| gets its own verdict: the normalized one (3 epochs) beats xe (5), the default (never) does not.
  const c = fakeResult("c", { mode: "seg", loss: "kltv-normalized", classLabelFraction: 1 }, kltv);
  const x4 = fakeResult("x4", { mode: "seg", loss: "xe", classLabelFraction: 1 }, [...slow, 0.95]);
  const both = renderResults([{ ...a, epochs: b.epochs }, c, x4], "test").markdown;
  assert.match(
    both,
    /xe 5\.0 \(1 seed\)\. kltv: no, not every seed \(1 seed\); kltv-normalized: yes, 3\.0 \(1 seed\)\./,
  );
  // Label efficiency: mtl 0.80 vs cls 0.70 at 10 % → pays (+0.100); 0.72 vs 0.70 → does not.
  const lab = (mode: string, auc: number, seed = 0) =>
    fakeResult(`${mode}${seed}`, { mode, loss: "kltv", classLabelFraction: 0.1, seed }, [0.9], auc);
  const pays = renderResults([lab("mtl", 0.8), lab("mtl", 0.8, 1), lab("cls", 0.7)], "test").markdown;
  assert.match(pays, /at 10 % labels\?\*\* Yes: mtl 0\.800 against cls 0\.700 .*\(\+0\.100/);
  assert.match(pays, /\| mtl \| 10 % \| 100 % \| 2 \| 0\.800 ± 0\.000 \|/);
  const not = renderResults([lab("mtl", 0.72), lab("cls", 0.7)], "test").markdown;
  assert.match(not, /at 10 % labels\?\*\* No/);
  assert.match(renderResults([], "deno task results").markdown, /No results yet/);
  // Headline targets: Dice ≥ 0.96 at 128², AUC ≥ 0.90 with 25 % labels (fakeResult: Dice 0.9, AUC as given).
  const head = (auc: number) => ({
    ...fakeResult("h", { mode: "mtl", loss: "kltv", classLabelFraction: 0.25, size: 128 }, [0.9], auc),
    tables: ["headline" as const],
  });
  assert.match(
    renderResults([head(0.95)], "t").markdown,
    /Dice 0\.900 vs ≥ 0\.96 at 128²: not met; AUC 0\.950 vs ≥ 0\.9 with 25 % labels: met/,
  );
  assert.match(renderResults([head(0.8)], "t").markdown, /AUC 0\.800 vs ≥ 0\.9 with 25 % labels: not met/);
  // A segmentor-only headline run: no class labels, no AUC, the Dice target only.
  const segHead = {
    ...fakeResult("s", { mode: "seg", loss: "xe", classLabelFraction: 1, size: 128 }, [0.9]),
    tables: ["headline" as const],
    test: { seg: fakeResult("x", {}, [0.9]).test.seg },
  };
  const segMd = renderResults([segHead], "t").markdown;
  assert.match(segMd, /\| s \| seg \| xe \| – \| 0\.900 ± 0\.010 \[0\.890, 0\.910\] \| .* \| – \| – \| – \| – \|/);
  assert.match(segMd, /- s: Dice 0\.900 vs ≥ 0\.96 at 128²: not met\./);
});

Deno.test("renderResults: a result written before an option existed groups with newer runs at that option's default", () => {
  const seg = { mode: "seg", loss: "kltv", classLabelFraction: 1 };
  const old = fakeResult("old", seg, [0.5, 0.91]);
  const now = fakeResult("now", { ...seg, seed: 1, tverskyAlpha: 0.3, tverskyBeta: 0.7, lambdaUnsup: 1 }, [0.5, 0.93]);
  const balanced = fakeResult("bal", { ...seg, tverskyAlpha: 0.5, tverskyBeta: 0.5, lambdaUnsup: 1 }, [0.92, 0.95]);
  const md = renderResults([old, now, balanced], "t").markdown;
  assert.match(md, /\| kltv \| 2 \| 2\.0 ± 0\.0 \|/, "old and new default runs are one group of 2 seeds");
  assert.match(md, /\| kltv \(α 0\.5, β 0\.5\) \| 1 \| 1\.0 \|/, "non-default weights are named");
  // Losses without a Tversky term do not show the weights.
  const xe = fakeResult("xe", { ...seg, loss: "xe", tverskyAlpha: 0.5, tverskyBeta: 0.5 }, [0.9]);
  assert.match(renderResults([xe], "t").markdown, /\| xe \| 1 \|/);
});

gatedTest(
  "experiments --quick: runs the plan on the real data, writes results/<id>.json, skips done runs, and results writes the document",
  [REAL_DATA, WEBGPU],
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "appaunet-exp-" });
    const results = path.join(dir, "results"), runs = path.join(dir, "runs");
    try {
      const flags = ["--quick", "--results", results, "--runs-dir", runs, "--no-shader-warmup", "--progress", "none"];
      const listed = await capture(() => main(["experiments", "--quick", "--list", "--results", results]));
      assert.equal(listed.code, 0);
      assert.equal(listed.text.split("\n").length, 3, listed.text);
      assert.ok(listed.text.split("\n").every((l) => l.includes(`--results ${results}`)), listed.text);
      const r = await capture(() => main(["experiments", ...flags]));
      assert.equal(r.code, 0, r.text);
      for (const id of ["quick-mtl", "quick-seg", "quick-cls"]) {
        const res = JSON.parse(await Deno.readTextFile(path.join(results, `${id}.json`))) as ExperimentResult;
        assert.equal(res.id, id);
        assert.equal(res.epochs.length, 1);
        assert.ok(res.trainSeconds > 0);
        if (id !== "quick-cls") {
          const s = res.test.seg!.segmentation!;
          assert.ok(s.n > 0 && s.n <= 24, `${s.n}`);
          assert.ok(Number.isFinite(s.dice.mean) && s.dice.ci95[0] <= s.dice.mean && s.dice.mean <= s.dice.ci95[1]);
          assert.ok(res.params.segmentor > 0);
        }
        if (id !== "quick-seg") {
          const c = res.test.cls!.classification!;
          assert.ok(c.n > 0 && c.n <= 24 && Number.isFinite(c.auc), JSON.stringify(c));
          assert.equal(c.confusion.flat().reduce((a, b) => a + b, 0), c.n);
        }
      }
      // Again: every run is done, nothing trains.
      const again = await capture(() => main(["experiments", ...flags]));
      assert.equal(again.code, 0);
      assert.match(again.text, /all 3 run\(s\) have results/);
      assert.doesNotMatch(again.text, /training in/);
      const one = await capture(() => main(["experiments", ...flags, "--run", "quick-mtl"]));
      assert.match(one.text, /quick-mtl: done/);
      assert.doesNotMatch(one.text, /training in/);
      const listedAfter = await capture(() => main(["experiments", "--quick", "--list", "--results", results]));
      assert.equal(listedAfter.text, "");
      const doc = path.join(dir, "docs", "RESULTS.md");
      const readmeBefore = await Deno.readTextFile(new URL("../README.md", import.meta.url));
      const w = await capture(() => main(["results", "--results", results, "--out", doc]));
      assert.equal(w.code, 0, w.text);
      // Another results folder leaves the checkout's README alone.
      assert.equal(await Deno.readTextFile(new URL("../README.md", import.meta.url)), readmeBefore);
      const md = await Deno.readTextFile(doc);
      for (const id of ["quick-mtl", "quick-seg"]) assert.match(md, new RegExp(`\\| ${id} \\|`));
      assert.match(md, /\| cls \| 50 % \| – \| 1 \|/);
      assert.ok((await Deno.readTextFile(path.join(dir, "docs", "results-labels.svg"))).startsWith("<svg"));
    } finally {
      await initBackend({ backend: "cpu" });
      await Deno.remove(dir, { recursive: true });
    }
  },
);
