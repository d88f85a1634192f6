/**
 * Checkpoints and model folders: saving and loading them (with finiteness checks), the metadata an exported model
 * carries, the stored calibration and how it is applied, and `openModel`, the one way inference opens a model.
 *
 * @module
 */
export { loadCheckpoint, loadCheckpointModel, resolveCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { CheckpointContent, LoadedCheckpoint } from "./checkpoint.ts";
export { findNonFiniteWeight, NonFiniteError } from "./numerics.ts";
export type { IndependentTest, ModelMetadata } from "./model_metadata.ts";
export { applyTemperature, calibrate, decideClass } from "./calibration.ts";
export type { Calibration } from "./calibration.ts";
export { APPAUNET_VERSION } from "./version.ts";
export { loadPretrained, openModel } from "./open_model.ts";
export type { InferenceMetadata, OpenedModel, RunConfig } from "./open_model.ts";
