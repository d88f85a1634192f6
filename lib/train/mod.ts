/**
 * Training (`train`): options, the trainer, the GAN and semi-supervised steps, the fused Adam optimizer.
 *
 * @module
 */
export { resolveTrainOptions } from "./config.ts";
export type { ResolvedTrainOptions, TrainMode, TrainOptions } from "./config.ts";
export { train } from "./trainer.ts";
export { createMaskHead, EmaTeacher, SSL_METHODS, sslBatches, sslStep, unsupervisedWeight } from "./ssl.ts";
export type { SslBatch, SslBatchOptions, SslMethod, SslStepOptions } from "./ssl.ts";
export type { ResumeOptions, TrainResult, TrainRuntime } from "./trainer.ts";
export { createAdam, FusedAdamOptimizer } from "./adam.ts";
export type { AdamGradients } from "./adam.ts";
export { ganTrainStep } from "./gan_step.ts";
export type { GanBatch, GanNets, GanStepOptions } from "./gan_step.ts";
export type { ShaderWarmupReport } from "./shader_warmup.ts";
