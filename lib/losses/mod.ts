/**
 * Segmentation losses (XE, Dice, Tversky, focal Tversky, |KL|, KLTV, XE-Tversky), segmentation metrics, and the semi-
 * supervised GAN objectives.
 *
 * @module
 */
export * from "./common.ts";
export * from "./bce.ts";
export * from "./dice.ts";
export * from "./tversky.ts";
export * from "./focal_tversky.ts";
export * from "./kl.ts";
export * from "./kltv.ts";
export * from "./xe_tversky.ts";
export * from "./by_name.ts";
export * from "./metrics.ts";
export * from "./gan.ts";
