/**
 * Loss lookup by CLI name.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { bceLossPerImage } from "./bce.ts";
import type { LossFn } from "./common.ts";
import { diceLossPerImage } from "./dice.ts";
import { focalTverskyLossPerImage } from "./focal_tversky.ts";
import { klLossPerImage } from "./kl.ts";
import { kltvLossPerImage } from "./kltv.ts";
import { tverskyLossPerImage } from "./tversky.ts";
import { xeTverskyLossPerImage } from "./xe_tversky.ts";

/**
 * The CLI names of the segmentation losses (for `--loss` and {@linkcode lossByName}).
 *
 * @example
 * ```ts
 * import { LOSS_NAMES } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.ok(LOSS_NAMES.includes("kltv"));
 * ```
 */
export const LOSS_NAMES = [
  "xe",
  "dice",
  "tversky",
  "focal-tversky",
  "kl",
  "kltv",
  "kltv-normalized",
  "xe-tversky",
] as const;

/** One of {@linkcode LOSS_NAMES}. */
export type LossName = typeof LOSS_NAMES[number];

/** A per-image loss: `(yTrue, yPred) => [B]`. */
export type PerImageLossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;

const PER_IMAGE: Record<LossName, PerImageLossFn> = {
  "xe": (t, p) => bceLossPerImage(t, p),
  "dice": (t, p) => diceLossPerImage(t, p),
  "tversky": (t, p) => tverskyLossPerImage(t, p),
  "focal-tversky": (t, p) => focalTverskyLossPerImage(t, p),
  "kl": (t, p) => klLossPerImage(t, p),
  "kltv": (t, p) => kltvLossPerImage(t, p),
  // The second reading of |KL|: y and ŷ as spatial distributions (each normalized to sum 1 over the pixels).
  "kltv-normalized": (t, p) => kltvLossPerImage(t, p, { normalized: true }),
  "xe-tversky": (t, p) => xeTverskyLossPerImage(t, p),
};

/**
 * The per-image loss for a CLI name (the trainer weights it by "has a mask").
 *
 * @example
 * ```ts
 * import { perImageLossByName } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * assert.equal(typeof perImageLossByName("dice"), "function");
 * ```
 * @param name CLI name
 * @returns `(yTrue, yPred) => [B]`
 * @throws {Error} for an unknown name, listing the valid ones
 */
export function perImageLossByName(name: string): PerImageLossFn {
  if (!(LOSS_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown loss "${name}": use one of ${LOSS_NAMES.join(", ")}`);
  }
  return PER_IMAGE[name as LossName];
}

/**
 * Returns the loss function for a CLI name (`xe`, `dice`, `tversky`, `focal-tversky`, `kl`, `kltv`,
 * `xe-tversky`) with default options: the batch mean of the per-image loss.
 *
 * @example
 * ```ts
 * import { lossByName } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const loss = lossByName("kltv");
 * assert.equal(typeof loss, "function");
 * ```
 * @param name CLI name
 * @returns `(yTrue, yPred) => scalar`
 * @throws {Error} for an unknown name, listing the valid ones
 */
export function lossByName(name: string): LossFn {
  const f = perImageLossByName(name);
  return (t, p) => tf.tidy(() => tf.mean(f(t, p)) as tf.Scalar);
}
