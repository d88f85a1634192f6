import assert from "node:assert/strict";
import { trainingTestHooks } from "../lib/train/training_run.ts";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { decode } from "fast-png";
import {
  APPAUNET_VERSION,
  classificationMetrics,
  createAdam,
  createDiscriminator,
  createRng,
  createSegmentor,
  discriminatorLoss,
  evaluate,
  type GanBatch,
  type GanNets,
  ganTrainStep,
  initBackend,
  kltvLossPerImage,
  loadCheckpoint,
  loadCheckpointModel,
  predict,
  resolveCheckpoint,
  rocAuc,
  segmentorAdversarialLoss,
  train,
  type TrainOptions,
  writePhantomDataset,
} from "../mod.ts";
import { weightedMean } from "../lib/losses/gan.ts";
import { webgpuTest } from "./webgpu_helper.ts";
import { tinyRunOptions } from "./run_options.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-train-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 9 });
const base = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions =>
  tinyRunOptions(data, path.join(root, out), extra);
const weightsOf = async (dir: string, name = "segmentor") => {
  const m = await loadCheckpointModel(dir, name);
  const w = await Promise.all(m.getWeights().map((t) => t.data()));
  m.dispose();
  return w.map((a) => Array.from(a));
};
const maxDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.map((w, i) => Math.max(...w.map((v, j) => Math.abs(v - b[i][j])))));

Deno.test("APPAUNET_VERSION (written into config.json) equals deno.json's version", () => {
  const denoJson = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  assert.equal(APPAUNET_VERSION, denoJson.version);
});

Deno.test("AUC against hand-computed cases, ties included", () => {
  assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  // positives {0.6, 0.5}, negatives {0.5, 0.2}: pairs (0.6>0.5)=1, (0.6>0.2)=1, (0.5=0.5)=½, (0.5>0.2)=1 → 3.5/4
  assert.equal(rocAuc([0.6, 0.5, 0.5, 0.2], [1, 1, 0, 0]), 0.875);
  assert.equal(rocAuc([0.9, 0.1], [0, 1]), 0);
  assert.ok(Number.isNaN(rocAuc([0.2, 0.3], [1, 1])));
  const m = classificationMetrics([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], [0, 1, 1, 0]);
  assert.deepEqual(m.confusion, [[1, 1], [1, 1]]);
  assert.equal(m.sensitivity, 0.5);
  assert.equal(m.specificity, 0.5);
  assert.equal(m.auc, 0.75); // positives {0.8, 0.4} vs negatives {0.1, 0.7}: 3 of 4 pairs ordered
});

Deno.test("GAN loss terms on hand-made logits", async () => {
  // K = 2; logits rows: [a, b, f]
  const logits = tf.tensor2d([[1, 0, 0], [0, 2, -1]]);
  const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
  const rows = [[1, 0, 0], [0, 2, -1]];
  const one = tf.ones([2]) as tf.Tensor1D;
  const labels = tf.tensor1d([0, 1], "int32");
  const hasLabel = tf.tensor1d([1, 0]), hasMask = tf.tensor1d([1, 1]);
  const inputs = {
    logitsLabeledPairs: logits,
    logitsReal: logits,
    logitsFake: logits,
    labels,
    hasLabel,
    hasMask,
    valid: one,
  };
  const l = discriminatorLoss(inputs);
  const sup = -(1 - lse([1, 0])); // only row 0 labeled, class 0
  const real = rows.map((r) => -(lse(r.slice(0, 2)) - lse(r))).reduce((a, b) => a + b) / 2;
  const fake = rows.map((r) => -(r[2] - lse(r))).reduce((a, b) => a + b) / 2;
  const v = async (t: tf.Scalar) => (await t.data())[0];
  assert.ok(Math.abs(await v(l.supervised) - sup) < 1e-5);
  assert.ok(Math.abs(await v(l.real) - real) < 1e-5);
  assert.ok(Math.abs(await v(l.fake) - fake) < 1e-5);
  assert.ok(Math.abs(await v(l.total) - (sup + real + fake)) < 1e-5);
  const adv = segmentorAdversarialLoss(logits, one);
  assert.ok(Math.abs(await v(adv) - real) < 1e-5, "S's adversarial term = −log(1 − p_K) on its own pairs");
  // Label smoothing 0.1 on real pairs: −[0.9 log(1−p_K) + 0.1 log p_K]
  const ls = discriminatorLoss({ ...inputs, realTarget: 0.9 });
  const realLs =
    rows.map((r) => -(0.9 * (lse(r.slice(0, 2)) - lse(r)) + 0.1 * (r[2] - lse(r)))).reduce((a, b) => a + b) / 2;
  assert.ok(Math.abs(await v(ls.real) - realLs) < 1e-5);
  // λ_unsup scales the real and fake terms only.
  for (const w of [0, 0.25]) {
    const lw = discriminatorLoss({ ...inputs, unsupervisedWeight: w });
    assert.ok(Math.abs(await v(lw.total) - (sup + w * (real + fake))) < 1e-5, `unsupervisedWeight ${w}`);
    assert.ok(Math.abs(await v(lw.real) - real) < 1e-5, "the reported real term is unweighted");
  }
  assert.throws(() => discriminatorLoss({ ...inputs, unsupervisedWeight: -1 }), /unsupervisedWeight must be ≥ 0/);
  // Zero weights → 0 (no NaN).
  const z = discriminatorLoss({
    logitsLabeledPairs: logits,
    logitsReal: logits,
    logitsFake: logits,
    labels,
    hasLabel: tf.zeros([2]) as tf.Tensor1D,
    hasMask: tf.zeros([2]) as tf.Tensor1D,
    valid: one,
  });
  assert.equal(await v(z.supervised), 0);
  assert.equal(await v(z.real), 0);
});

Deno.test("ganTrainStep runs S once per step and equals the two-pass step (D steps on a detached S(x), then S)", async () => {
  // The reference: what ganTrainStep did before S's forward pass was shared (an S forward for each D step, then
  // the S step's own forward). S's weights do not change in between, so losses and weights must agree; only S's
  // BatchNorm moving statistics differ (updated once per step instead of dSteps + 1 times).
  const reference = (nets: GanNets, b: GanBatch, dSteps: number) => {
    const { segmentor: S, discriminator: D } = nets;
    const out: number[] = [];
    for (let k = 0; k < dSteps; k++) {
      const sx = tf.tidy(() => S.apply(b.images, { training: true }) as tf.Tensor);
      const dl = nets.optD.minimize(
        () => {
          const logitsReal = D.apply(tf.concat([b.images, b.masks], 3), { training: true }) as tf.Tensor2D;
          const logitsFake = D.apply(tf.concat([b.images, sx], 3), { training: true }) as tf.Tensor2D;
          const logitsLabeledPairs = tf.where(
            tf.cast(tf.reshape(b.hasMask, [-1, 1]), "bool"),
            logitsReal,
            logitsFake,
          ) as tf.Tensor2D;
          return discriminatorLoss({ ...b, logitsLabeledPairs, logitsReal, logitsFake }).total;
        },
        true,
        D.trainableWeights.map((w) => w.read() as tf.Variable),
      )!;
      sx.dispose();
      if (k === dSteps - 1) out.push(dl.dataSync()[0]);
      dl.dispose();
    }
    const sl = nets.optS.minimize(
      () => {
        const p = S.apply(b.images, { training: true }) as tf.Tensor;
        const seg = weightedMean(kltvLossPerImage(b.masks, p), tf.mul(b.hasMask, b.valid) as tf.Tensor1D);
        const adv = segmentorAdversarialLoss(
          D.apply(tf.concat([b.images, p], 3), { training: true }) as tf.Tensor2D,
          b.valid,
        );
        return tf.add(seg, tf.mul(adv, 0.1)) as tf.Scalar;
      },
      true,
      S.trainableWeights.map((w) => w.read() as tf.Variable),
    )!;
    out.push(sl.dataSync()[0]);
    sl.dispose();
    return out;
  };
  for (const dSteps of [1, 2]) {
    const make = () => ({
      segmentor: createSegmentor({ size: 16, depth: 2, baseFilters: 4, seed: 5 }),
      discriminator: createDiscriminator({ size: 16, depth: 2, baseFilters: 4, seed: 6, dropout: 0 }),
      optS: createAdam(1e-3, 0.5),
      optD: createAdam(1e-3, 0.5),
    });
    const a = make(), r = make();
    const r01 = createRng(31);
    const images = tf.tensor4d(Float32Array.from({ length: 4 * 256 }, () => r01.uniform(0, 1)), [4, 16, 16, 1]);
    const masks = tf.tidy(() => tf.cast(tf.greater(images, 0.5), "float32")) as tf.Tensor4D;
    const batch: GanBatch = {
      images,
      masks,
      hasMask: tf.tensor1d([1, 1, 0, 1]),
      labels: tf.tensor1d([0, 1, 0, 1], "int32"),
      hasLabel: tf.tensor1d([1, 0, 1, 1]),
      valid: tf.ones([4]) as tf.Tensor1D,
    };
    // S's first BatchNorm moving mean starts at 0: after n updates with the same batch statistics μ it is
    // (1 − mⁿ)·μ; in the first step the reference makes dSteps + 1 updates, ganTrainStep one.
    const bn = a.segmentor.layers.find((l) => l.getClassName() === "BatchNormalization")!;
    const rbn = r.segmentor.layers.find((l) => l.name === bn.name)!;
    const movingMean = (l: tf.layers.Layer) => l.weights.find((w) => w.name.includes("moving_mean"))!.read().dataSync();
    const got: number[] = [], want: number[] = [];
    let counts: number[] = [];
    for (let step = 0; step < 3; step++) {
      const l = ganTrainStep(a, batch, { segLoss: kltvLossPerImage, dSteps });
      got.push((await l.d.data())[0], (await l.s.data())[0]);
      tf.dispose(Object.values(l));
      counts = [...counts, tf.memory().numTensors];
      want.push(...reference(r, batch, dSteps));
      if (step > 0) continue;
      const m = bn.getConfig().momentum as number, ratio = (1 - m ** (dSteps + 1)) / (1 - m);
      const [ma, mr] = [movingMean(bn), movingMean(rbn)];
      const i = ma.findIndex((v) => Math.abs(v) > 1e-4);
      assert.ok(i >= 0, "a non-zero moving mean");
      assert.ok(Math.abs(mr[i] / ma[i] - ratio) < 1e-3 * ratio, `moving-mean ratio ${mr[i] / ma[i]} vs ${ratio}`);
    }
    assert.equal(counts[2], counts[1], `no tensor leaks (${counts})`);
    got.forEach((g, i) =>
      assert.ok(
        Math.abs(g - want[i]) < 1e-5 * Math.max(1, Math.abs(want[i])),
        `dSteps ${dSteps}, loss ${i}: ${g} vs ${want[i]}`,
      )
    );
    for (const which of ["segmentor", "discriminator"] as const) {
      const wa = a[which].trainableWeights.map((w) => w.read().dataSync());
      const wr = r[which].trainableWeights.map((w) => w.read().dataSync());
      const d = Math.max(...wa.map((w, i) => Math.max(...w.map((v, j) => Math.abs(v - wr[i][j])))));
      assert.ok(d < 1e-5, `dSteps ${dSteps}: ${which} weights differ by ${d}`);
    }
    tf.dispose([images, masks, ...Object.values(batch).filter((t) => t !== images && t !== masks)]);
    for (const n of [a, r]) {
      n.segmentor.dispose();
      n.discriminator.dispose();
    }
  }
});

Deno.test("tiny mtl run end to end writes a readable run folder; eval and predict work", async () => {
  const r = await train({ ...base("e2e"), progress: "none" });
  assert.equal(r.stopped, "completed");
  assert.equal(r.history.length, 2);
  const out = r.out;
  const cfg = JSON.parse(await Deno.readTextFile(path.join(out, "config.json")));
  assert.equal(cfg.mode, "mtl");
  assert.equal(cfg.variant, "Pyramid Progressive Attention U-Net");
  assert.equal(cfg.versions.tfjs, "4.22.0");
  const lines = (await Deno.readTextFile(path.join(out, "metrics.jsonl"))).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const l of lines) {
    for (const k of ["d", "s", "seg", "adv", "dSup", "dReal", "dFake"]) {
      assert.ok(Number.isFinite(l.losses[k]), `loss ${k}`);
    }
    const dice = l.val.segmentation.dice.mean, auc = l.val.classification.auc;
    assert.ok(dice > 0 && dice <= 1 && auc >= 0 && auc <= 1, `val Dice ${dice}, AUC ${auc}`);
    // The file holds what train() returned.
    assert.equal(dice, r.history[l.epoch - 1].val.segmentation!.dice.mean);
    assert.ok(l.imagesPerSecond > 0 && l.seconds > 0);
  }
  for (const c of ["last", "best", "best-cls"]) {
    assert.equal(resolveCheckpoint(path.join(out, "checkpoints", c)), path.join(out, "checkpoints", c));
  }
  const html = await Deno.readTextFile(path.join(out, "report.html"));
  assert.ok(
    html.includes("<svg") && html.includes("data:image/png;base64,") &&
      !/https?:\/\//.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, "")),
  );
  const overlays = [...Deno.readDirSync(path.join(out, "overlays"))];
  assert.equal(overlays.length, 3);
  const png = decode(await Deno.readFile(path.join(out, "overlays", overlays[0].name)));
  assert.equal(png.width, 32);
  const e = await evaluate({ model: path.join(out, "checkpoints", "best"), data, split: "test" });
  assert.ok(e.metrics.segmentation!.n > 0 && Number.isFinite(e.metrics.segmentation!.dice.mean));
  assert.ok(e.metrics.classification!.n > 0);
  // predict on a manifest, in 2 shards
  const predDir = path.join(root, "pred");
  const a = await predict({
    model: path.join(out, "checkpoints", "best"),
    inputs: [data],
    out: predDir,
    shard: { k: 1, n: 2 },
  });
  const b = await predict({
    model: path.join(out, "checkpoints", "best"),
    inputs: [data],
    out: predDir,
    shard: { k: 2, n: 2 },
  });
  assert.equal(a.length + b.length, 28);
  const recs = (await Deno.readTextFile(path.join(predDir, "predictions.1-of-2.jsonl"))).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.equal(recs.length, a.length);
  for (const rec of recs) {
    const m = decode(await Deno.readFile(rec.mask));
    assert.equal(m.width, 32);
    assert.ok((m.data as Uint8Array).every((v: number) => v === 0 || v === 255));
    decode(await Deno.readFile(rec.overlay));
    const ps = Object.values(rec.probabilities) as number[];
    assert.ok(Math.abs(ps.reduce((s, v) => s + v, 0) - 1) < 1e-4);
    assert.ok(["normal", "opacity"].includes(rec.predictedClass));
  }
  await assert.rejects(
    () =>
      predict({ model: path.join(out, "checkpoints", "best"), inputs: [data], out: predDir, shard: { k: 3, n: 2 } }),
    /--shard/,
  );
});

Deno.test("no tensor leaks: numTensors identical after step 2 and step 20", async () => {
  const counts = new Map<number, number>();
  await train({
    ...base("leak", { epochs: 4, batchSize: 2, overlays: 0 }),
    progress: "none",
    onStep: (s) => void counts.set(s, tf.memory().numTensors),
  });
  assert.ok(counts.has(20), `ran ${counts.size} steps`);
  assert.equal(counts.get(20), counts.get(2));
});

Deno.test("resume equivalence: 4 epochs == 2 + resume 2 (cpu, same seed), and the same seed gives the same weights", async () => {
  const full = await train({ ...base("full", { epochs: 4, overlays: 0 }), progress: "none" });
  await train({ ...base("half", { epochs: 2, overlays: 0 }), progress: "none" });
  const resumed = await train({ resume: path.join(root, "half"), epochs: 4, progress: "none" });
  assert.equal(resumed.history.length, 2);
  assert.equal(resumed.history[0].epoch, 3);
  const a = await weightsOf(path.join(full.out, "checkpoints", "last"));
  const b = await weightsOf(path.join(root, "half", "checkpoints", "last"));
  assert.ok(maxDiff(a, b) < 1e-5, `segmentor weights differ by ${maxDiff(a, b)}`);
  const da = await weightsOf(path.join(full.out, "checkpoints", "last"), "discriminator");
  const db = await weightsOf(path.join(root, "half", "checkpoints", "last"), "discriminator");
  assert.ok(maxDiff(da, db) < 1e-5, `discriminator weights differ by ${maxDiff(da, db)}`);
  const metrics = (await Deno.readTextFile(path.join(root, "half", "metrics.jsonl"))).trim().split("\n");
  assert.equal(metrics.length, 4);
  // Different options on resume are refused.
  await assert.rejects(
    () => train({ resume: path.join(root, "half"), epochs: 5, lr: 0.01, progress: "none" }),
    /options differ from the run's config\.json \(lr: 0\.001 → 0\.01\)/,
  );
});

webgpuTest(
  "resume equivalence on webgpu (fused Adam updating in place): 4 epochs == 2 + resume 2",
  async () => {
    await initBackend({ backend: "webgpu" });
    try {
      const opts = { overlays: 0, progress: "none" as const };
      const full = await train({ ...base("gpu-full", { epochs: 4 }), ...opts });
      await train({ ...base("gpu-half", { epochs: 2 }), ...opts });
      await train({ resume: path.join(root, "gpu-half"), epochs: 4, progress: "none" });
      for (const net of ["segmentor", "discriminator"]) {
        const a = await weightsOf(path.join(full.out, "checkpoints", "last"), net);
        const b = await weightsOf(path.join(root, "gpu-half", "checkpoints", "last"), net);
        assert.ok(maxDiff(a, b) < 1e-5, `${net} weights differ by ${maxDiff(a, b)}`);
      }
    } finally {
      await initBackend({ backend: "cpu" });
    }
  },
);

Deno.test("an interrupt mid-epoch writes a checkpoint and resume continues from that batch", async () => {
  const ac = new AbortController();
  const r = await train({
    ...base("sigint", { epochs: 2, overlays: 0 }),
    progress: "none",
    signal: ac.signal,
    onStep: (s) => {
      if (s === 3) ac.abort();
    },
  });
  assert.equal(r.stopped, "aborted");
  const st = (await loadCheckpoint(path.join(root, "sigint", "checkpoints", "last"))).state;
  assert.equal(st.epoch, 0);
  assert.equal(st.batch, 3);
  const r2 = await train({ resume: path.join(root, "sigint"), progress: "none" });
  assert.equal(r2.stopped, "completed");
  // The same options, uninterrupted (its own folder, so the test also passes when run alone).
  await train({ ...base("sigint-full", { epochs: 2, overlays: 0 }), progress: "none" });
  const full = await weightsOf(path.join(root, "sigint-full", "checkpoints", "last"));
  const resumed = await weightsOf(path.join(root, "sigint", "checkpoints", "last"));
  assert.ok(maxDiff(full, resumed) < 1e-5, "interrupted + resumed == uninterrupted run");
});

Deno.test("a crash while writing or swapping a checkpoint leaves the previous one loadable", async () => {
  for (const at of ["writing", "swapping"] as const) {
    trainingTestHooks.crashCheckpointAfterEpoch = { epoch: 2, at };
    try {
      await assert.rejects(
        () => train({ ...base(`crash-${at}`, { epochs: 2, overlays: 0 }), progress: "none" }),
        /simulated crash/,
      );
    } finally {
      trainingTestHooks.crashCheckpointAfterEpoch = undefined;
    }
    const last = path.join(root, `crash-${at}`, "checkpoints", "last");
    const ck = await loadCheckpoint(last);
    assert.equal(ck.state.epoch, 1, `${at}: epoch-1 checkpoint survives`);
    const m = await loadCheckpointModel(last, "segmentor");
    m.dispose();
    const r = await train({ resume: path.join(root, `crash-${at}`), progress: "none" });
    assert.equal(r.history[0].epoch, 2);
  }
});

Deno.test("bad config values and unreadable checkpoints give clear errors", async () => {
  await assert.rejects(
    () => train({ ...base("bad"), batchSize: 0 }),
    /batchSize \(--batch-size\): must be an integer ≥ 1, got 0/,
  );
  await assert.rejects(() => train({ ...base("bad"), loss: "bce" }), /loss \(--loss\): "bce" is not one of xe, dice/);
  await assert.rejects(
    () => train({ ...base("bad"), mode: "gan" as "mtl" }),
    /mode \(--mode\): "gan" is not one of mtl, seg, cls/,
  );
  await assert.rejects(
    () => train({ ...base("bad"), classLabelFraction: 1.5 }),
    /classLabelFraction \(--label-fraction\): must be in \[0, 1\]/,
  );
  await assert.rejects(() => train({ ...base("bad"), lr: -1 }), /lr \(--lr\): must be in \(0, 1\)/);
  await assert.rejects(
    () => train({ resume: path.join(root, "nothing-here"), progress: "none" }),
    /--resume .*no complete checkpoint/,
  );
  const broken = path.join(root, "broken");
  await Deno.mkdir(broken, { recursive: true });
  await Deno.writeTextFile(path.join(broken, "COMPLETE"), "{}");
  await Deno.writeTextFile(path.join(broken, "state.json"), "{not json");
  await assert.rejects(() => evaluate({ model: broken, data }), /state\.json: unreadable .*damaged/);
});

Deno.test("seg and cls modes train and report their own metrics", async () => {
  const s = await train({ ...base("seg", { mode: "seg", epochs: 1, overlays: 1, loss: "dice" }), progress: "none" });
  assert.ok(s.history[0].val.segmentation && !s.history[0].val.classification);
  const c = await train({ ...base("cls", { mode: "cls", epochs: 1, overlays: 0 }), progress: "none" });
  assert.ok(c.history[0].val.classification && !c.history[0].val.segmentation);
  const e = await evaluate({ model: path.join(c.out, "checkpoints", "best"), data, split: "val" });
  assert.ok(e.metrics.classification);
});
