/**
 * The browser-safe part of appaunet: models, losses, metrics, image decoding and preprocessing, and inference, with
 * no `Deno` and no `node:` import (a test bundles it for the browser). Load a model with tfjs
 * (`tf.loadLayersModel(".../segmentor/model.json")`), read its `metadata.json`, then call `predictImage`.
 *
 * @example
 * ```ts
 * import { dicePerImage } from "@appaunet/appaunet/web";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * const y = tf.ones([1, 4, 4, 1]);
 * assert.ok(Math.abs((await dicePerImage(y, y).data())[0] - 1) < 1e-6);
 * ```
 * @module
 */
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
export * from "./lib/losses/gan.ts";
export * from "./lib/losses/metrics.ts";
export * from "./lib/train/metrics.ts";
export * from "./lib/data/errors.ts";
export * from "./lib/data/decode.ts";
export * from "./lib/data/resize.ts";
export * from "./lib/data/normalize.ts";
export * from "./lib/data/prepare_image.ts";
export * from "./lib/io/png.ts";
export { inferenceOutputs } from "./lib/train/evaluation.ts";
export type { EvalModels } from "./lib/train/evaluation.ts";
export * from "./lib/train/model_metadata.ts";
export * from "./lib/train/predict_image.ts";
