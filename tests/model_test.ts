import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { gatedTest, WEBGPU } from "./webgpu_helper.ts";
import {
  createAppauNet,
  createDiscriminator,
  createSegmentor,
  fileHandler,
  initBackend,
  kltvLoss,
  segmentorVariantName,
} from "../mod.ts";

await initBackend({ backend: "cpu" });
const SIZE = 32, small = { size: SIZE, depth: 2, baseFilters: 4, seed: 1 };
const VARIANTS = [false, true].flatMap((pyramid) =>
  [false, true].flatMap((attention) => [false, true].map((progressive) => ({ pyramid, attention, progressive })))
);

function phantomBatch(n: number) {
  // Two bright ellipses on a dark background; the mask is the ellipses.
  const img = new Float32Array(n * SIZE * SIZE), msk = new Float32Array(n * SIZE * SIZE);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const i = b * SIZE * SIZE + y * SIZE + x;
        const inside = ((x - 10 - b) / 5) ** 2 + ((y - 16) / 10) ** 2 < 1 ||
          ((x - 22 + b) / 5) ** 2 + ((y - 16) / 10) ** 2 < 1;
        msk[i] = inside ? 1 : 0;
        img[i] = (inside ? 0.2 : 0.7) + 0.05 * Math.sin(x * 1.3 + y * 0.7);
      }
    }
  }
  return { x: tf.tensor4d(img, [n, SIZE, SIZE, 1]), y: tf.tensor4d(msk, [n, SIZE, SIZE, 1]) };
}

Deno.test("all 8 segmentor variants: shape, range, parameter counts, gradients reach the first conv", async () => {
  const counts = new Map<string, number>();
  const { x, y } = phantomBatch(2);
  for (const v of VARIANTS) {
    const s = createSegmentor({ ...small, ...v });
    const out = s.predict(x) as tf.Tensor;
    assert.deepEqual(out.shape, [2, SIZE, SIZE, 1]);
    const d = await out.data();
    assert.ok(d.every((p) => p >= 0 && p <= 1), "sigmoid output in [0, 1]");
    out.dispose();
    counts.set(segmentorVariantName(v), s.countParams());
    const first = s.trainableWeights[0];
    assert.match(first.name, /seg_conv_0/);
    const { grads } = tf.variableGrads(() => kltvLoss(y, s.apply(x, { training: true }) as tf.Tensor), [
      first.read() as tf.Variable,
    ]);
    const g = Object.values(grads)[0];
    const norm = (await tf.norm(g).data())[0];
    assert.ok(norm > 0 && Number.isFinite(norm), `gradient reaches the first conv (${segmentorVariantName(v)})`);
    tf.dispose(Object.values(grads));
    s.dispose();
  }
  assert.equal(counts.size, 8, "8 distinct variant names");
  const full = counts.get("Pyramid Progressive Attention U-Net")!;
  assert.ok(counts.get("Progressive Attention U-Net")! < full, "pyramid adds parameters");
  assert.ok(counts.get("Pyramid Progressive U-Net")! < full, "attention adds parameters");
  assert.ok(counts.get("Pyramid Attention U-Net")! < full, "progressive adds parameters");
  // Exact count of what the attention gates add: per level l (filters f = 4·2^l, gating g channels = 2f, Fint = f/2):
  // W_x: f·Fint (no bias), W_g: 2f·Fint + Fint, ψ: Fint + 1.
  const gate = (f: number) => f * (f / 2) + 2 * f * (f / 2) + f / 2 + f / 2 + 1;
  assert.equal(full - counts.get("Pyramid Progressive U-Net")!, gate(4) + gate(8));
  // Progressive adds one 1×1 side conv (f + 1 params) per coarser level.
  assert.equal(full - counts.get("Pyramid Attention U-Net")!, 8 + 1);
  tf.dispose([x, y]);
});

Deno.test("a few optimisation steps reduce the KLTV loss for every variant", async () => {
  const { x, y } = phantomBatch(2);
  for (const v of VARIANTS) {
    const s = createSegmentor({ ...small, ...v });
    const opt = tf.train.adam(0.01);
    const vars = s.trainableWeights.map((w) => w.read() as tf.Variable);
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const l = opt.minimize(() => kltvLoss(y, s.apply(x, { training: true }) as tf.Tensor), true, vars)!;
      losses.push((await l.data())[0]);
      l.dispose();
    }
    assert.ok(losses[7] < losses[0] * 0.9, `${segmentorVariantName(v)}: ${losses[0]} → ${losses[7]}`);
    opt.dispose();
    s.dispose();
  }
  tf.dispose([x, y]);
});

Deno.test("deep supervision outputs the side maps at full size", () => {
  const s = createSegmentor({ ...small, deepSupervision: true });
  assert.equal(s.outputs.length, 2);
  for (const o of s.outputs) assert.deepEqual(o.shape, [null, SIZE, SIZE, 1]);
  s.dispose();
  assert.throws(() => createSegmentor({ ...small, deepSupervision: true, progressive: false }), /needs progressive/);
  assert.throws(() => createSegmentor({ size: 30, depth: 2 }), /divisible by 2\^depth = 4/);
});

Deno.test("segmentor BatchNorm momentum: default 0.9, settable, validated", () => {
  const momenta = (
    m: tf.LayersModel,
  ) => [
    ...new Set(m.layers.filter((l) => l.getClassName() === "BatchNormalization").map((l) => l.getConfig().momentum)),
  ];
  const d = createSegmentor(small), k = createSegmentor({ ...small, batchNormMomentum: 0.99 });
  assert.deepEqual(momenta(d), [0.9]);
  assert.deepEqual(momenta(k), [0.99]);
  d.dispose();
  k.dispose();
  assert.throws(
    () => createSegmentor({ ...small, batchNormMomentum: 1 }),
    /batchNormMomentum must be in \[0, 1\), got 1/,
  );
});

Deno.test("discriminator: [B, K+1] logits, gradients flow to both input channels", async () => {
  const d = createDiscriminator({ size: SIZE, depth: 2, baseFilters: 4, numClasses: 3, seed: 2 });
  const inp = tf.randomUniform([2, SIZE, SIZE, 2], 0, 1, "float32", 3);
  const out = d.predict(inp) as tf.Tensor;
  assert.deepEqual(out.shape, [2, 4]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(d.apply(t, { training: false }) as tf.Tensor))(inp);
  const [img, msk] = tf.split(g, 2, 3);
  assert.ok((await tf.norm(img).data())[0] > 0, "gradient to the image channel");
  assert.ok((await tf.norm(msk).data())[0] > 0, "gradient to the mask channel");
  tf.dispose([inp, out, g, img, msk]);
  d.dispose();
});

Deno.test("save → load round trip through the file IOHandler gives the same outputs", async () => {
  const net = createAppauNet({
    size: SIZE,
    seed: 4,
    segmentor: { depth: 2, baseFilters: 4 },
    discriminator: { depth: 2, baseFilters: 4 },
  });
  const dir = await Deno.makeTempDir();
  await net.segmentor.save(fileHandler(`${dir}/s`));
  await net.discriminator.save(fileHandler(`${dir}/d`));
  const json = JSON.parse(await Deno.readTextFile(`${dir}/s/model.json`));
  assert.equal(json.format, "layers-model");
  assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
  assert.ok(!JSON.stringify(json.modelTopology).includes("Lambda"), "built-in layers only");
  const s2 = await tf.loadLayersModel(fileHandler(`${dir}/s`));
  const d2 = await tf.loadLayersModel(fileHandler(`${dir}/d`));
  const { x } = phantomBatch(1);
  const a = net.segmentor.predict(x) as tf.Tensor, b = s2.predict(x) as tf.Tensor;
  assert.ok((await tf.max(tf.abs(tf.sub(a, b))).data())[0] < 1e-6);
  const xm = tf.concat([x, a], 3);
  const c = net.discriminator.predict(xm) as tf.Tensor, e = d2.predict(xm) as tf.Tensor;
  assert.ok((await tf.max(tf.abs(tf.sub(c, e))).data())[0] < 1e-6);
  // A truncated weights file is refused with a clear message.
  const w = await Deno.readFile(`${dir}/s/weights.bin`);
  await Deno.writeFile(`${dir}/s/weights.bin`, w.slice(0, 100));
  await assert.rejects(() => tf.loadLayersModel(fileHandler(`${dir}/s`)), /truncated or mismatched/);
  tf.dispose([x, a, b, xm, c, e]);
  for (const m of [net.segmentor, net.discriminator, s2, d2]) m.dispose();
});

gatedTest(
  "webgpu and cpu give the same forward output (1e-4)",
  [WEBGPU],
  async () => {
    await initBackend({ backend: "cpu" });
    const s = createSegmentor({ ...small });
    const d = createDiscriminator({ size: SIZE, depth: 2, baseFilters: 4, seed: 5 });
    const { x } = phantomBatch(2);
    const xv = await x.data();
    const pc = s.predict(x) as tf.Tensor;
    const pcv = await pc.data();
    const dc = await (d.predict(tf.concat([x, pc], 3)) as tf.Tensor).data();
    const sw = s.getWeights().map((t) => ({ shape: t.shape, v: t.dataSync() }));
    const dw = d.getWeights().map((t) => ({ shape: t.shape, v: t.dataSync() }));
    await initBackend({ backend: "webgpu" });
    const s2 = createSegmentor({ ...small });
    const d2 = createDiscriminator({ size: SIZE, depth: 2, baseFilters: 4, seed: 5 });
    s2.setWeights(sw.map((w) => tf.tensor(w.v, w.shape)));
    d2.setWeights(dw.map((w) => tf.tensor(w.v, w.shape)));
    const xg = tf.tensor4d(xv, [2, SIZE, SIZE, 1]);
    const pg = s2.predict(xg) as tf.Tensor;
    const pgv = await pg.data();
    const dg = await (d2.predict(tf.concat([xg, pg], 3)) as tf.Tensor).data();
    let maxS = 0, maxD = 0;
    for (let i = 0; i < pcv.length; i++) maxS = Math.max(maxS, Math.abs(pcv[i] - pgv[i]));
    for (let i = 0; i < dc.length; i++) maxD = Math.max(maxD, Math.abs(dc[i] - dg[i]));
    assert.ok(maxS < 1e-4, `segmentor max |cpu − webgpu| = ${maxS}`);
    assert.ok(maxD < 1e-4 * 10, `discriminator max |cpu − webgpu| = ${maxD}`);
    await initBackend({ backend: "cpu" });
  },
);
