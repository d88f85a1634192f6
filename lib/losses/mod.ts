/**
 * Segmentation losses (XE, Dice, Tversky, focal Tversky, |KL|, KLTV, XE-Tversky) and the semi-supervised GAN
 * objectives (the overlap metrics live in `lib/metrics/`).
 *
 * @module
 */
export { checkLossRanges, checkLossShapes } from "./common.ts";
export type { LossFn } from "./common.ts";
export { bceLoss, bceLossPerImage } from "./bce.ts";
export { diceLoss, diceLossPerImage } from "./dice.ts";
export type { DiceOptions } from "./dice.ts";
export { tverskyIndex, tverskyLoss, tverskyLossPerImage } from "./tversky.ts";
export type { TverskyOptions } from "./tversky.ts";
export { focalTverskyLoss, focalTverskyLossPerImage } from "./focal_tversky.ts";
export type { FocalTverskyOptions } from "./focal_tversky.ts";
export { klLoss, klLossPerImage } from "./kl.ts";
export type { KlOptions } from "./kl.ts";
export { kltvLoss, kltvLossPerImage } from "./kltv.ts";
export type { KltvOptions } from "./kltv.ts";
export { xeTverskyLoss, xeTverskyLossPerImage } from "./xe_tversky.ts";
export { LOSS_NAMES, lossByName, perImageLossByName } from "./by_name.ts";
export type { LossName, PerImageLossFn } from "./by_name.ts";
export { discriminatorLoss, realClassProbabilities, segmentorAdversarialLoss } from "./gan.ts";
export type { DiscriminatorLossInputs } from "./gan.ts";
