/**
 * appaunet: APPAU-Net (Adversarial Pyramid Progressive Attention U-Net) with the KLTV loss on TensorFlow.js
 * and WebGPU, for semi-supervised lung segmentation and disease classification on chest X-rays
 * (Imran & Terzopoulos, MLMI 2019, arXiv:1908.03693).
 *
 * @example
 * ```ts
 * import { createAppauNet, initBackend, kltvLoss } from "@appaunet/appaunet";
 * import * as tf from "@appaunet/appaunet/tf";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" }); // "webgpu" (the default) for real work; nothing happens on import
 * const { segmentor, discriminator } = createAppauNet({ size: 32, segmentor: { baseFilters: 4 } });
 * const x = tf.zeros([1, 32, 32, 1]);
 * const mask = segmentor.predict(x) as tf.Tensor;
 * assert.deepEqual(mask.shape, [1, 32, 32, 1]);
 * const loss = kltvLoss(tf.zerosLike(mask), mask);
 * assert.ok(Number.isFinite((await loss.data())[0]));
 * tf.dispose([x, mask, loss]);
 * segmentor.dispose();
 * discriminator.dispose();
 * ```
 * @module
 */
export * from "./lib/runtime/mod.ts";
export * from "./lib/data/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/model/mod.ts";
export * from "./lib/losses/mod.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/kernels/mod.ts";
export * from "./lib/checkpoint/mod.ts";
export * from "./lib/infer/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/report/mod.ts";
export * from "./lib/experiments/mod.ts";
export * from "./lib/serve/mod.ts";
