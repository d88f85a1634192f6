import assert from "node:assert/strict";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  augmentStrong,
  createRng,
  EmaTeacher,
  initBackend,
  loadCheckpoint,
  loadCheckpointModel,
  pairedDifferenceInterval,
  renderResults,
  resolveTrainOptions,
  rocAuc,
  sslBatches,
  sslStep,
  train,
  writePhantomDataset,
} from "../mod.ts";
import type { ExperimentResult } from "../mod.ts";
import { tinyRunOptions } from "./run_options.ts";
import { resultFile } from "./result_files.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-ssl-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 5 });

const sample = (i: number, label: number | null) => ({
  id: `s${i}`,
  path: `s${i}.png`,
  image: new Float32Array(16 * 16).map((_, k) => ((k + i) % 16) / 15),
  mask: null,
  label,
  split: "train" as const,
  hidden: { mask: false, label: false },
});

Deno.test("sslBatches: labeled batches hold only labeled images, each round covers them all, resume sees the same batches", async () => {
  const all = Array.from({ length: 12 }, (_, i) => sample(i, i < 5 ? i % 2 : null));
  const labeled = all.filter((s) => s.label !== null);
  const o = {
    method: "fixmatch" as const,
    batchSize: 5,
    ratio: 2,
    steps: 4,
    seed: 1,
    epoch: 2,
    augment: false,
    clamp: true,
  };
  const seen: number[][] = [];
  for (const b of sslBatches(labeled, all, 16, o)) {
    const imgs = await b.images.data();
    // Without augmentation each labeled image is one of the labeled samples' planes.
    const ids = [];
    for (let k = 0; k < 5; k++) {
      const first = imgs[k * 256 + 0];
      ids.push(labeled.findIndex((s) => s.image[0] === first));
    }
    assert.ok(ids.every((i) => i >= 0), "a labeled batch held an unlabeled image");
    seen.push(ids.sort());
    assert.deepEqual(b.student!.shape, [10, 16, 16, 1]);
    b.dispose();
  }
  // batch = 5 = |labeled|: every batch is one whole round.
  for (const ids of seen) assert.deepEqual(ids, [0, 1, 2, 3, 4]);
  const again = [...sslBatches(labeled, all, 16, { ...o, augment: true, skip: 2 })];
  const full = [...sslBatches(labeled, all, 16, { ...o, augment: true })];
  assert.deepEqual(await again[0].student!.data(), await full[2].student!.data());
  for (const b of [...again, ...full]) b.dispose();
  // supervised draws no unlabeled views.
  const [s] = [...sslBatches(labeled, all, 16, { ...o, method: "supervised", steps: 1 })];
  assert.equal(s.weak, undefined);
  s.dispose();
});

Deno.test("augmentStrong changes the image more than the weak augmentation and stays in [0, 1]", () => {
  const img = new Float32Array(32 * 32).map((_, i) => 0.2 + 0.6 * ((i % 32) / 31));
  let strong = 0;
  for (let s = 0; s < 5; s++) {
    const out = augmentStrong(img, 32, createRng(s));
    assert.ok(out.every((v) => v >= 0 && v <= 1));
    strong += out.reduce((a, v, i) => a + Math.abs(v - img[i]), 0);
  }
  assert.ok(strong / 5 / img.length > 0.03, `mean change ${strong / 5 / img.length}`);
});

Deno.test("sslStep: fixmatch learns pseudo-labels only above the threshold; EMA teacher moves toward the student; no leak", async () => {
  const make = () =>
    tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2, kernelInitializer: "zeros" })],
    });
  const student = make(), teacher = new EmaTeacher(student, make()), opt = tf.train.adam(0.05);
  const batch = {
    images: tf.randomUniform([2, 4, 4, 1], 0, 1, "float32", 1) as tf.Tensor4D,
    labels: tf.tensor1d([0, 1], "int32"),
    weak: tf.randomUniform([4, 4, 4, 1], 0, 1, "float32", 2) as tf.Tensor4D,
    student: tf.randomUniform([4, 4, 4, 1], 0, 1, "float32", 3) as tf.Tensor4D,
    dispose() {},
  };
  // Zero weights: the teacher says 0.5 / 0.5 for every image, below τ = 0.8: nothing passes.
  const o = { method: "fixmatch" as const, threshold: 0.8, weight: 1, step: 0, rampSteps: 0 };
  let out = sslStep(student, teacher, opt, batch, o, 0.5);
  assert.equal((await out.confident.data())[0], 0);
  assert.equal((await out.unsup.data())[0], 0);
  tf.dispose(Object.values(out));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.dispose(Object.values(sslStep(student, teacher, opt, batch, { ...o, threshold: 0.5 }, 0.5)));
  }
  assert.equal(tf.memory().numTensors, before, "sslStep leaks tensors");
  // The teacher is the EMA of the student: non-zero now, but not equal to the student.
  const t = await teacher.model.getWeights()[0].data(), s = await student.getWeights()[0].data();
  assert.ok(t.some((v) => v !== 0));
  assert.ok(t.some((v, i) => Math.abs(v - s[i]) > 1e-7));
  out = sslStep(student, teacher, opt, batch, { ...o, method: "meanteacher", rampSteps: 10 }, 0.5);
  assert.equal((await out.confident.data())[0], 1);
  tf.dispose(Object.values(out));
  for (const x of [batch.images, batch.labels, batch.weak, batch.student]) x.dispose();
  teacher.dispose();
  student.dispose();
});

Deno.test("ssl options: validated, named as the library and the CLI spell them", () => {
  const o = { data: "x.csv", out: "runs/x" };
  assert.throws(() => resolveTrainOptions({ ...o, ssl: "fixmatch" }), /ssl \(--ssl\).*mode "cls"/);
  assert.throws(
    () => resolveTrainOptions({ ...o, mode: "cls", ssl: "mixmatch" as never }),
    /not one of none, supervised/,
  );
  assert.throws(() => resolveTrainOptions({ ...o, mode: "cls", ssl: "fixmatch", sslThreshold: 0 }), /sslThreshold/);
  assert.throws(() => resolveTrainOptions({ ...o, mode: "cls", ssl: "fixmatch", sslRatio: 0.3 }), /sslRatio/);
  assert.throws(() => resolveTrainOptions({ ...o, mode: "cls", emaDecay: 1 }), /emaDecay/);
  assert.equal(resolveTrainOptions({ ...o, mode: "cls", ssl: "meanteacher" }).sslWeight, 10);
  assert.equal(resolveTrainOptions({ ...o, mode: "cls", ssl: "fixmatch" }).sslWeight, 1);
});

Deno.test("train --mode cls --ssl fixmatch: saves the EMA teacher as the model and the student for resume; resume continues", async () => {
  const out = path.join(root, "fixmatch");
  const opts = tinyRunOptions(data, out, { mode: "cls", ssl: "fixmatch", epochs: 1, sslThreshold: 0.5 });
  const r = await train({ ...opts, progress: "none" });
  assert.equal(r.history.length, 1);
  assert.ok("unsup" in r.history[0].losses && "confident" in r.history[0].losses);
  const ck = await loadCheckpoint(path.join(out, "checkpoints", "last"));
  assert.ok(ck.state.calibration, "no calibration saved with the checkpoint");
  const teacher = await loadCheckpointModel(path.join(out, "checkpoints", "last"), "discriminator");
  const student = await loadCheckpointModel(path.join(out, "checkpoints", "last"), "student");
  const [t, s] = [await teacher.getWeights()[0].data(), await student.getWeights()[0].data()];
  assert.ok(t.some((v, i) => v !== s[i]), "the saved model is the student, not the EMA teacher");
  teacher.dispose();
  student.dispose();
  const r2 = await train({ resume: out, epochs: 2, progress: "none" });
  assert.equal(r2.history.length, 1);
  assert.equal(r2.history[0].epoch, 2);
});

Deno.test("pairedDifferenceInterval: a method better on every seed gets a positive interval; identical methods get 0", () => {
  const rng = createRng(4);
  const labels = Array.from({ length: 60 }, (_, i) => i % 2);
  const noisy = (sep: number) => labels.map((y) => y * sep + rng.normal());
  const pairs = Array.from({ length: 5 }, () => ({ a: noisy(0.5), b: noisy(3) }));
  const d = pairedDifferenceInterval(pairs, labels, rocAuc);
  assert.ok(d.mean > 0.2 && d.ci95[0] > 0, JSON.stringify(d));
  const same = pairedDifferenceInterval(pairs.map((p) => ({ a: p.a, b: p.a })), labels, rocAuc);
  assert.deepEqual(same, { mean: 0, ci95: [0, 0] });
  assert.throws(() => pairedDifferenceInterval([{ a: [1], b: [1, 2] }], [0, 1], rocAuc), /2 scores/);
});

Deno.test("RESULTS.md's ssl table pairs each method with the supervised run of the same seed and gives the verdict", () => {
  const labels = Array.from({ length: 40 }, (_, i) => i % 2);
  const rng = createRng(7);
  const run = (id: string, ssl: string, seed: number, sep: number): ExperimentResult =>
    resultFile({
      id,
      tables: ["ssl"],
      config: { mode: "cls", ssl, seed, classLabelFraction: 0.1, epochs: 15, size: 64, batchSize: 8 },
      epochs: [{ epoch: 1, seconds: 1, lr: 1, losses: {}, valAuc: 0.8 }],
      test: {
        cls: {
          checkpoint: "best",
          epoch: 1,
          n: 40,
          predictions: labels.map((y, i) => {
            const p = 1 / (1 + Math.exp(-(y * sep + rng.normal())));
            return { id: `i${i}`, label: y, probs: [1 - p, p] };
          }),
        },
      },
    });
  const rs = [0, 1, 2].flatMap((s) => [run(`sup-${s}`, "supervised", s, 0.5), run(`fm-${s}`, "fixmatch", s, 4)]);
  const md = renderResults(rs, "test").markdown;
  assert.match(md, /\| fixmatch \| 10 % \| 3 \|.*\| \+0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \| 3 of 3 \|/);
  assert.match(md, /Does semi-supervision pay at 10 % labels.*fixmatch: yes/);
});

Deno.test("train --ssl maskaux: the mask head learns the masks, the saved model is the plain classifier, resume works", async () => {
  const out = path.join(root, "maskaux");
  const opts = tinyRunOptions(data, out, { mode: "cls", ssl: "maskaux", epochs: 2 });
  const r = await train({ ...opts, progress: "none" });
  const [e1, e2] = r.history.map((h) => h.losses);
  assert.ok(e2.unsup < e1.unsup, `mask loss did not fall: ${e1.unsup} → ${e2.unsup}`);
  assert.ok(e1.withMask > 0.5);
  const last = path.join(out, "checkpoints", "last");
  const model = await loadCheckpointModel(last, "discriminator");
  const student = await loadCheckpointModel(last, "student");
  assert.equal(model.outputs.length, 1);
  assert.ok(!model.layers.some((l) => l.name.startsWith("maskhead_")));
  assert.ok(student.layers.some((l) => l.name.startsWith("maskhead_")));
  model.dispose();
  student.dispose();
  const r2 = await train({ resume: out, epochs: 3, progress: "none" });
  assert.equal(r2.history[0].epoch, 3);
});
