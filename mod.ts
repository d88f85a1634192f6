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
export * from "./lib/runtime/backend.ts";
export * from "./lib/data/errors.ts";
export * from "./lib/data/rng.ts";
export * from "./lib/data/decode.ts";
export * from "./lib/data/resize.ts";
export * from "./lib/data/normalize.ts";
export * from "./lib/data/load.ts";
export * from "./lib/data/manifest.ts";
export * from "./lib/data/augment.ts";
export * from "./lib/data/dataset.ts";
export * from "./lib/data/phantoms.ts";
export * from "./lib/io/png.ts";
export * from "./lib/io/file_handler.ts";
export * from "./lib/model/segmentor.ts";
export * from "./lib/model/discriminator.ts";
export * from "./lib/model/appaunet.ts";
export * from "./lib/losses/common.ts";
export * from "./lib/losses/bce.ts";
export * from "./lib/losses/dice.ts";
export * from "./lib/losses/tversky.ts";
export * from "./lib/losses/focal_tversky.ts";
export * from "./lib/losses/kl.ts";
export * from "./lib/losses/kltv.ts";
export * from "./lib/losses/xe_tversky.ts";
export * from "./lib/losses/by_name.ts";
export * from "./lib/losses/metrics.ts";
export * from "./lib/losses/gan.ts";
export * from "./lib/kernels/registry.ts";
export * from "./lib/train/adam.ts";
export * from "./lib/train/gan_step.ts";
export * from "./lib/train/metrics.ts";
export * from "./lib/train/config.ts";
export * from "./lib/train/checkpoint.ts";
export * from "./lib/train/numerics.ts";
export * from "./lib/train/run_folder.ts";
export * from "./lib/train/evaluation.ts";
export * from "./lib/train/trainer.ts";
export * from "./lib/train/inference.ts";
export * from "./lib/train/predict.ts";
export * from "./lib/train/export.ts";
export * from "./lib/train/predict_image.ts";
export * from "./lib/data/prepare_image.ts";
export * from "./lib/report/progress.ts";
export * from "./lib/report/overlay.ts";
export * from "./lib/report/base64.ts";
export * from "./lib/report/report.ts";
export * from "./lib/data/prepare.ts";
export * from "./lib/experiments/mod.ts";
export * from "./lib/serve/server.ts";
