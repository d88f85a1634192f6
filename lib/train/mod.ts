/**
 * Training (`train`), checkpoints, evaluation, prediction, export and the numerics guards.
 *
 * @module
 */
export { APPAUNET_VERSION, resolveTrainOptions } from "./config.ts";
export type { ResolvedTrainOptions, TrainMode, TrainOptions } from "./config.ts";
export { train } from "./trainer.ts";
export {
  applyTemperature,
  calibrate,
  decideClass,
  expectedCalibrationError,
  fitCalibration,
  reliabilityBins,
  youdenThreshold,
} from "./calibration.ts";
export type { Calibration, ReliabilityBin } from "./calibration.ts";
export { createMaskHead, EmaTeacher, SSL_METHODS, sslBatches, sslStep, unsupervisedWeight } from "./ssl.ts";
export type { SslBatch, SslBatchOptions, SslMethod, SslStepOptions } from "./ssl.ts";
export type { ResumeOptions, TrainResult, TrainRuntime } from "./trainer.ts";
export type { EpochRecord } from "./records.ts";
export { createAdam, FusedAdamOptimizer } from "./adam.ts";
export type { AdamGradients } from "./adam.ts";
export { ganTrainStep } from "./gan_step.ts";
export type { GanBatch, GanNets, GanStepOptions } from "./gan_step.ts";
export { classificationMetrics, meanStd, median, rocAuc } from "./metrics.ts";
export type { ClassificationMetrics, MeanStd } from "./metrics.ts";
export { loadCheckpoint, loadCheckpointModel, resolveCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { CheckpointContent, LoadedCheckpoint } from "./checkpoint.ts";
export { findNonFiniteWeight, NonFiniteError } from "./numerics.ts";
export { inferenceOutputs } from "./evaluation.ts";
export type { EvalModels, FieldSummary, ImagePrediction, SplitMetrics } from "./evaluation.ts";
export { evaluate } from "./inference.ts";
export type { EvaluateOptions } from "./inference.ts";
export { mergePredictions, predict, shardFromSpec } from "./predict.ts";
export type { PredictionRecord, PredictOptions } from "./predict.ts";
export { exportModel, loadPretrained } from "./export.ts";
export type { IndependentTest } from "./export.ts";
export type { ExportOptions } from "./export.ts";
export type { ModelMetadata } from "./model_metadata.ts";
export { predictImage } from "./predict_image.ts";
export type { LoadedModel, SingleImagePrediction } from "./predict_image.ts";
