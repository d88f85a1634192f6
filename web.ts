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
export * from "./lib/model/mod.ts";
export * from "./lib/losses/mod.ts";
export * from "./lib/metrics/mod.ts";
export { DataError } from "./lib/data/errors.ts";
export { decodeImageBytes } from "./lib/data/decode.ts";
export { loadDicomCodecs, withDicomCodecs } from "./lib/data/dicom_codecs.ts";
export type { LoadDicomCodecsOptions } from "./lib/data/dicom_codecs.ts";
export { TRANSFER_SYNTAXES } from "./lib/data/dicom_pixels.ts";
export type { CodecName, PixelEncoding, TransferSyntax } from "./lib/data/dicom_pixels.ts";
export type { DecodedImage, DecodeOptions } from "./lib/data/decode.ts";
export { resizeArea, resizeBilinear, resizeMaskNearest } from "./lib/data/resize.ts";
export { clahe, zScore } from "./lib/data/normalize.ts";
export type { ClaheOptions } from "./lib/data/normalize.ts";
export { checkImageGeometry, prepareImage } from "./lib/data/prepare_image.ts";
export type { LoadImageOptions } from "./lib/data/prepare_image.ts";
export { cleanMask, countPieces, lungMaskAt } from "./lib/data/postprocess.ts";
export type { CleanMaskOptions, LungMaskOptions } from "./lib/data/postprocess.ts";
export { encodeGrayPng, encodeRgbPng } from "./lib/io/png.ts";
export { applyTemperature, calibrate, decideClass } from "./lib/checkpoint/calibration.ts";
export type { Calibration } from "./lib/checkpoint/calibration.ts";
export type { IndependentTest, ModelMetadata } from "./lib/checkpoint/model_metadata.ts";
export { inferenceOutputs } from "./lib/infer/evaluation.ts";
export type { EvalModels } from "./lib/infer/evaluation.ts";
export { predictImage, REDUCED_DECODE } from "./lib/infer/predict_image.ts";
export type { LoadedModel, SingleImagePrediction } from "./lib/infer/predict_image.ts";
