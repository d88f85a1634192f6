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
export { createSegmentor, segmentorVariantName } from "./lib/model/segmentor.ts";
export type { ResolvedSegmentorOptions, SegmentorOptions } from "./lib/model/segmentor.ts";
export { createDiscriminator } from "./lib/model/discriminator.ts";
export type { DiscriminatorOptions, ResolvedDiscriminatorOptions } from "./lib/model/discriminator.ts";
export { createAppauNet } from "./lib/model/appaunet.ts";
export type { AppauNet, AppauNetOptions } from "./lib/model/appaunet.ts";
export { checkLossRanges, checkLossShapes } from "./lib/losses/common.ts";
export type { LossFn } from "./lib/losses/common.ts";
export { bceLoss, bceLossPerImage } from "./lib/losses/bce.ts";
export { diceLoss, diceLossPerImage } from "./lib/losses/dice.ts";
export type { DiceOptions } from "./lib/losses/dice.ts";
export { tverskyIndex, tverskyLoss, tverskyLossPerImage } from "./lib/losses/tversky.ts";
export type { TverskyOptions } from "./lib/losses/tversky.ts";
export { focalTverskyLoss, focalTverskyLossPerImage } from "./lib/losses/focal_tversky.ts";
export type { FocalTverskyOptions } from "./lib/losses/focal_tversky.ts";
export { klLoss, klLossPerImage } from "./lib/losses/kl.ts";
export type { KlOptions } from "./lib/losses/kl.ts";
export { kltvLoss, kltvLossPerImage } from "./lib/losses/kltv.ts";
export type { KltvOptions } from "./lib/losses/kltv.ts";
export { xeTverskyLoss, xeTverskyLossPerImage } from "./lib/losses/xe_tversky.ts";
export { LOSS_NAMES, lossByName, perImageLossByName } from "./lib/losses/by_name.ts";
export type { LossName, PerImageLossFn } from "./lib/losses/by_name.ts";
export { discriminatorLoss, realClassProbabilities, segmentorAdversarialLoss } from "./lib/losses/gan.ts";
export type { DiscriminatorLossInputs } from "./lib/losses/gan.ts";
export {
  diceCoefficient,
  dicePerImage,
  jaccardIndex,
  jaccardPerImage,
  pixelAccuracyPerImage,
} from "./lib/losses/metrics.ts";
export type { OverlapOptions } from "./lib/losses/metrics.ts";
export { classificationMetrics, meanStd, rocAuc } from "./lib/train/metrics.ts";
export type { ClassificationMetrics, MeanStd } from "./lib/train/metrics.ts";
export { DataError } from "./lib/data/errors.ts";
export { decodeImageBytes } from "./lib/data/decode.ts";
export type { DecodedImage } from "./lib/data/decode.ts";
export { resizeArea, resizeBilinear, resizeMaskNearest } from "./lib/data/resize.ts";
export { clahe, zScore } from "./lib/data/normalize.ts";
export type { ClaheOptions } from "./lib/data/normalize.ts";
export { prepareImage } from "./lib/data/prepare_image.ts";
export type { LoadImageOptions } from "./lib/data/prepare_image.ts";
export { encodeGrayPng, encodeRgbPng } from "./lib/io/png.ts";
export { inferenceOutputs } from "./lib/train/evaluation.ts";
export type { EvalModels } from "./lib/train/evaluation.ts";
export type { ModelMetadata } from "./lib/train/model_metadata.ts";
export { predictImage } from "./lib/train/predict_image.ts";
export type { LoadedModel, SingleImagePrediction } from "./lib/train/predict_image.ts";
