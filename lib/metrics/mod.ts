/**
 * Metrics, in one place: overlap (Dice, Jaccard, pixel accuracy) on tensors, surface distance (HD95), classification
 * (AUC, confusion, sensitivity/specificity), calibration fitting and its error (ECE, reliability), and bootstrap
 * intervals. Browser-safe.
 *
 * @module
 */
export { diceCoefficient, dicePerImage, jaccardIndex, jaccardPerImage, pixelAccuracyPerImage } from "./overlap.ts";
export type { OverlapOptions } from "./overlap.ts";
export { hausdorffDistance } from "./hausdorff.ts";
export type { HausdorffOptions } from "./hausdorff.ts";
export { classificationMetrics, meanStd, median, rocAuc } from "./classification.ts";
export type { ClassificationMetrics, MeanStd } from "./classification.ts";
export { expectedCalibrationError, fitCalibration, reliabilityBins, youdenThreshold } from "./calibration.ts";
export type { ReliabilityBin } from "./calibration.ts";
export { bootstrapInterval, pairedDifferenceInterval } from "./bootstrap.ts";
export type { BootstrapOptions } from "./bootstrap.ts";
