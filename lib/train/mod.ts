/**
 * Training (`train`), checkpoints, evaluation, prediction, export and the numerics guards.
 *
 * @module
 */
export * from "./adam.ts";
export * from "./gan_step.ts";
export * from "./metrics.ts";
export * from "./config.ts";
export * from "./checkpoint.ts";
export * from "./numerics.ts";
export * from "./run_folder.ts";
export * from "./evaluation.ts";
export * from "./trainer.ts";
export * from "./inference.ts";
export * from "./predict.ts";
export * from "./export.ts";
export * from "./predict_image.ts";
