import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  bceLoss,
  checkLossRanges,
  diceCoefficient,
  diceLoss,
  focalTverskyLoss,
  initBackend,
  jaccardIndex,
  klLoss,
  kltvLoss,
  LOSS_NAMES,
  lossByName,
  tverskyLoss,
  xeTverskyLoss,
} from "../mod.ts";

await initBackend({ backend: "cpu" });
const EPS = 1e-7;
const t4 = (v: number[], n = 1) => tf.tensor4d(v, [n, v.length / n / 2, 2, 1]);
const val = async (s: tf.Scalar) => {
  const v = (await s.data())[0];
  s.dispose();
  return v;
};
const close = (a: number, b: number, tol = 1e-5, msg = "") =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${msg} ${a} vs ${b}`);

// Hand values on y = [1, 1, 0, 0], p = [0.9, 0.6, 0.2, 0.0].
const Y = [1, 1, 0, 0], P = [0.9, 0.6, 0.2, 0.0];
const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const tp = 0.9 + 0.6, fp = 0.2, fn = 0.1 + 0.4, sumY = 2, sumP = 1.7;

Deno.test("bce against hand values", async () => {
  const hand = -(Math.log(0.9) + Math.log(0.6) + Math.log(0.8) + Math.log(1 - EPS)) / 4;
  close(await val(bceLoss(t4(Y), t4(P))), hand, 1e-5, "bce");
  // all wrong: y = 1, p = 0 → −log ε
  close(await val(bceLoss(t4([1, 1]), t4([0, 0]))), -Math.log(EPS), 1e-3, "bce all wrong");
});

Deno.test("dice, tversky, focal tversky against hand values", async () => {
  close(await val(diceLoss(t4(Y), t4(P))), 1 - (2 * tp + 1) / (sumY + sumP + 1), 1e-6, "dice");
  const ti = (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1);
  close(await val(tverskyLoss(t4(Y), t4(P))), 1 - ti, 1e-6, "tversky");
  close(await val(focalTverskyLoss(t4(Y), t4(P))), (1 - ti) ** 0.75, 1e-6, "focal tversky");
  const ti2 = (tp + 1) / (tp + 0.8 * fp + 0.2 * fn + 1);
  close(await val(tverskyLoss(t4(Y), t4(P), { alpha: 0.8, beta: 0.2 })), 1 - ti2, 1e-6, "tversky alpha weights FP");
  // Perfect prediction → 0; empty mask and empty prediction → 0 thanks to s = 1.
  close(await val(diceLoss(t4(Y), t4(Y))), 0, 1e-7, "dice perfect");
  close(await val(tverskyLoss(t4([0, 0, 0, 0]), t4([0, 0, 0, 0]))), 0, 1e-7, "tversky empty");
  // All wrong: y = 1, p = 0: 1 − 1/(0.7·2 + 1)
  close(await val(tverskyLoss(t4([1, 1]), t4([0, 0]))), 1 - 1 / 2.4, 1e-6, "tversky all wrong");
});

Deno.test("tversky with alpha = beta = 0.5 equals dice on 256² masks", async () => {
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 256, 256, 1], 0, 1, "float32", 1), 0.6), "float32"));
  const p = tf.randomUniform([2, 256, 256, 1], 0, 1, "float32", 2);
  const a = await val(tverskyLoss(y, p, { alpha: 0.5, beta: 0.5 })), b = await val(diceLoss(y, p));
  close(a, b, 1e-4, "TI(0.5, 0.5) vs dice");
  tf.dispose([y, p]);
});

Deno.test("|KL| normalized = log(predicted area / true area) − mean log ŷ on the lung: it penalizes false positives, the default does not", async () => {
  const y = [1, 1, 0, 0], tight = [0.9, 0.9, 0, 0], spilled = [0.9, 0.9, 0.9, 0.9];
  const norm = async (p: number[]) => await val(klLoss(t4(y), t4(p), { normalized: true }));
  const plain = async (p: number[]) => await val(klLoss(t4(y), t4(p)));
  // The default reading sees only the lung pixels: background called lung costs nothing.
  close(await plain(spilled), await plain(tight), 1e-6, "default ignores false positives");
  // Normalized: log(Σŷ / |Y|) − mean_lung log ŷ.
  close(await norm(tight), Math.log(1.8 / 2) - Math.log(0.9), 1e-5, "normalized, tight");
  close(await norm(spilled), Math.log(3.6 / 2) - Math.log(0.9), 1e-5, "normalized, spilled");
  close((await norm(spilled)) - (await norm(tight)), Math.log(2), 1e-5, "twice the area costs log 2");
});

Deno.test("|KL| (default and normalized) and KLTV against hand values", async () => {
  // default: |mean_i y log(clip(y)/clip(p))| = |(log(1/0.9) + log(1/0.6)) / 4|
  const kl = (Math.log(1 / 0.9) + Math.log(1 / 0.6)) / 4;
  close(await val(klLoss(t4(Y), t4(P))), kl, 1e-6, "kl");
  // normalized: p_y = [.5,.5,0,0], q = P/1.7
  const q = P.map((v) => v / (1.7 + EPS)), py = [0.5, 0.5, 0, 0];
  const kln = py.reduce((a, v, i) => a + (v ? v * (Math.log(clip(v, EPS, 1)) - Math.log(clip(q[i], EPS, 1))) : 0), 0);
  close(await val(klLoss(t4(Y), t4(P), { normalized: true })), Math.abs(kln), 1e-5, "kl normalized");
  const ti = (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1);
  close(await val(kltvLoss(t4(Y), t4(P))), kl + (1 - ti), 1e-6, "kltv");
  close(
    await val(kltvLoss(t4(Y), t4(P), { klWeight: 2, tverskyWeight: 0.5 })),
    2 * kl + 0.5 * (1 - ti),
    1e-6,
    "kltv weights",
  );
  close(await val(kltvLoss(t4(Y), t4(Y))), 0, 1e-6, "kltv perfect");
  close(
    await val(xeTverskyLoss(t4(Y), t4(P))),
    -(Math.log(0.9) + Math.log(0.6) + Math.log(0.8) + Math.log(1 - EPS)) / 4 + 1 - ti,
    1e-5,
    "xe+tversky",
  );
  // Empty mask: KL = 0 whatever the prediction.
  close(await val(klLoss(t4([0, 0]), t4([0.7, 0.1]))), 0, 1e-9, "kl empty");
});

Deno.test("per image then batch mean", async () => {
  const y = t4([1, 1, 0, 0, 1, 1], 3), p = t4([1, 1, 0, 0, 0, 0], 3);
  // image 0 perfect, image 1 empty/empty, image 2 all wrong
  const d = await val(diceLoss(y, p));
  close(d, (0 + 0 + (1 - 1 / 3)) / 3, 1e-6, "dice batch mean");
});

Deno.test("gradients are finite everywhere, including p = 0 and p = 1", () => {
  const y = t4([1, 0, 1, 0, 1, 0, 0, 1], 2);
  for (const p of [t4([0, 0, 0, 0, 0, 0, 0, 0], 2), t4([1, 1, 1, 1, 1, 1, 1, 1], 2), t4([1, 0, 1, 0, 1, 0, 0, 1], 2)]) {
    for (const name of LOSS_NAMES) {
      const g = tf.grad((x: tf.Tensor) => lossByName(name)(y, x))(p);
      const v = g.dataSync();
      assert.ok(v.every(Number.isFinite), `${name} gradient not finite: ${Array.from(v)}`);
      g.dispose();
    }
  }
});

Deno.test("KLTV gradient matches finite differences", () => {
  const y = t4([1, 0, 1, 1, 0, 0, 1, 0], 2);
  const base = [0.3, 0.2, 0.7, 0.55, 0.4, 0.1, 0.8, 0.35];
  const f = (x: tf.Tensor) => kltvLoss(y, x);
  const g = tf.grad(f)(t4(base, 2)).dataSync();
  const h = 1e-3;
  for (let i = 0; i < base.length; i++) {
    const up = base.slice(), dn = base.slice();
    up[i] += h;
    dn[i] -= h;
    const fd = (f(t4(up, 2)).dataSync()[0] - f(t4(dn, 2)).dataSync()[0]) / (2 * h);
    assert.ok(Math.abs(fd - g[i]) < 2e-3 + 1e-2 * Math.abs(fd), `d/dp[${i}]: analytic ${g[i]} vs fd ${fd}`);
  }
});

Deno.test("shape and range validation give clear errors", async () => {
  assert.throws(
    () => diceLoss(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 8, 8, 1])),
    /diceLoss: yTrue shape \[1,4,4,1\] differs from yPred shape \[1,8,8,1\]/,
  );
  assert.throws(() => kltvLoss(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 4, 4, 1], "int32")), /float32/);
  await assert.rejects(
    () => checkLossRanges("kltv", tf.zeros([1, 2, 2, 1]), tf.fill([1, 2, 2, 1], 1.5)),
    /outside \[0, 1\]; apply a sigmoid/,
  );
  await assert.rejects(
    () => checkLossRanges("kltv", tf.fill([1, 2, 2, 1], 0.5), tf.zeros([1, 2, 2, 1])),
    /masks must be binary/,
  );
  assert.throws(() => lossByName("bce"), /unknown loss "bce": use one of xe, dice/);
});

Deno.test("dice coefficient and jaccard index per image then mean", async () => {
  const y = t4([1, 1, 0, 0, 0, 0, 0, 0], 2), p = t4([0.9, 0.2, 0.7, 0, 0, 0, 0, 0], 2);
  // image 0: A = {0,1}, B = {0,2} → dice 0.5, jaccard 1/3; image 1 empty/empty → 1
  close(await val(diceCoefficient(y, p)), (0.5 + 1) / 2, 1e-6, "dice coef");
  close(await val(jaccardIndex(y, p)), (1 / 3 + 1) / 2, 1e-6, "jaccard");
});
