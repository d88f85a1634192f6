/**
 * Inference: evaluation of a model on a split (`evaluate`), prediction over files (`predict`, sharded, resumable) and
 * for one decoded image (`predictImage`, browser-safe), and model export (`exportModel`). Nothing here imports
 * training code.
 *
 * @module
 */
export { inferenceOutputs } from "./evaluation.ts";
export type { EvalModels, FieldSummary, ImagePrediction, SplitMetrics } from "./evaluation.ts";
export { evaluate } from "./evaluate.ts";
export type { EvaluateOptions } from "./evaluate.ts";
export { mergePredictions, predict, shardFromSpec } from "./predict.ts";
export type { PredictionRecord, PredictOptions } from "./predict.ts";
export { exportModel } from "./export.ts";
export type { ExportOptions } from "./export.ts";
export { exportOnnx } from "./onnx_export.ts";
export type { OnnxExportOptions, OnnxExportResult } from "./onnx_export.ts";
export { predictImage, REDUCED_DECODE } from "./predict_image.ts";
export type { LoadedModel, SingleImagePrediction } from "./predict_image.ts";
