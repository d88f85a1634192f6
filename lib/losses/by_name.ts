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
import { tverskyLossPerImage, type TverskyOptions } from "./tversky.ts";
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

const PER_IMAGE: Record<LossName, (o: TverskyOptions) => PerImageLossFn> = {
  "xe": () => (t, p) => bceLossPerImage(t, p),
  "dice": () => (t, p) => diceLossPerImage(t, p),
  "tversky": (o) => (t, p) => tverskyLossPerImage(t, p, o),
  "focal-tversky": (o) => (t, p) => focalTverskyLossPerImage(t, p, o),
  "kl": () => (t, p) => klLossPerImage(t, p),
  "kltv": (o) => (t, p) => kltvLossPerImage(t, p, o),
  // The second reading of |KL|: y and ŷ as spatial distributions (each normalized to sum 1 over the pixels).
  "kltv-normalized": (o) => (t, p) => kltvLossPerImage(t, p, { ...o, normalized: true }),
  "xe-tversky": (o) => (t, p) => xeTverskyLossPerImage(t, p, o),
};

/** The losses with a Tversky term: the ones whose Tversky weights `perImageLossByName`'s `opts` set. */
export const TVERSKY_LOSS_NAMES: readonly LossName[] = [
  "tversky",
  "focal-tversky",
  "kltv",
  "kltv-normalized",
  "xe-tversky",
];

/**
 * The per-image loss for a CLI name (the trainer weights it by "has a mask"). `opts` sets the Tversky term's
 * weights of the losses that have one (`tversky`, `focal-tversky`, `kltv`, `kltv-normalized`, `xe-tversky`); the
 * others ignore it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { perImageLossByName } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * // An over-segmentation (false positives only) costs less when false negatives weigh more (the default β 0.7).
 * const y = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]), overSegmented = tf.tensor4d([1, 1, 1, 0], [1, 2, 2, 1]);
 * const byDefault = (await perImageLossByName("tversky")(y, overSegmented).data())[0];
 * const balanced = (await perImageLossByName("tversky", { alpha: 0.5, beta: 0.5 })(y, overSegmented).data())[0];
 * assert.ok(byDefault < balanced);
 * ```
 * @param name CLI name
 * @param opts Tversky weights (default α 0.3 on false positives, β 0.7 on false negatives) and smoothing
 * @returns `(yTrue, yPred) => [B]`
 * @throws {Error} for an unknown name, listing the valid ones
 */
export function perImageLossByName(name: string, opts: TverskyOptions = {}): PerImageLossFn {
  if (!(LOSS_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown loss "${name}": use one of ${LOSS_NAMES.join(", ")}`);
  }
  return PER_IMAGE[name as LossName](opts);
}

/**
 * Returns the loss function for a CLI name (`xe`, `dice`, `tversky`, `focal-tversky`, `kl`, `kltv`,
 * `kltv-normalized`, `xe-tversky`): the batch mean of the per-image loss ({@linkcode perImageLossByName}).
 *
 * @example
 * ```ts
 * import { lossByName } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const loss = lossByName("kltv");
 * assert.equal(typeof loss, "function");
 * ```
 * @param name CLI name
 * @param opts Tversky weights and smoothing, for the losses with a Tversky term
 * @returns `(yTrue, yPred) => scalar`
 * @throws {Error} for an unknown name, listing the valid ones
 */
export function lossByName(name: string, opts: TverskyOptions = {}): LossFn {
  const f = perImageLossByName(name, opts);
  return (t, p) => tf.tidy(() => tf.mean(f(t, p)) as tf.Scalar);
}
