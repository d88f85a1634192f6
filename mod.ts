/**
 * appaunet: APPAU-Net (Adversarial Pyramid Progressive Attention U-Net) with the KLTV loss on TensorFlow.js
 * and WebGPU, for semi-supervised lung segmentation and disease classification on chest X-rays
 * (Imran & Terzopoulos, MLMI 2019, arXiv:1908.03693).
 *
 * @example
 * ```ts
 * import { generatePhantoms, initBackend } from "@appaunet/appaunet";
 * await initBackend({ backend: "cpu" });
 * console.log(generatePhantoms({ count: 2, size: 32 }).length); // 2
 * ```
 * @module
 */
export * from "./lib/runtime/mod.ts";
export * from "./lib/data/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/model/mod.ts";
export * from "./lib/losses/mod.ts";
export * from "./lib/kernels/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/report/mod.ts";
export * from "./lib/experiments/mod.ts";
export * from "./lib/serve/mod.ts";
