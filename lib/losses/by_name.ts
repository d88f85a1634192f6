/**
 * Loss lookup by CLI name.
 *
 * @module
 */
import { bceLoss } from "./bce.ts";
import type { LossFn } from "./common.ts";
import { diceLoss } from "./dice.ts";
import { focalTverskyLoss } from "./focal_tversky.ts";
import { klLoss } from "./kl.ts";
import { kltvLoss } from "./kltv.ts";
import { tverskyLoss } from "./tversky.ts";
import { xeTverskyLoss } from "./xe_tversky.ts";

/** The CLI names of the segmentation losses. */
export const LOSS_NAMES = ["xe", "dice", "tversky", "focal-tversky", "kl", "kltv", "xe-tversky"] as const;

/** One of {@linkcode LOSS_NAMES}. */
export type LossName = typeof LOSS_NAMES[number];

/**
 * Returns the loss function for a CLI name (`xe`, `dice`, `tversky`, `focal-tversky`, `kl`, `kltv`,
 * `xe-tversky`) with default options.
 *
 * @example
 * ```ts
 * import { lossByName } from "./mod.ts";
 * const loss = lossByName("kltv");
 * console.log(typeof loss); // "function"
 * ```
 * @param name CLI name
 * @returns `(yTrue, yPred) => scalar`
 * @throws {Error} for an unknown name, listing the valid ones
 */
export function lossByName(name: string): LossFn {
  switch (name) {
    case "xe":
      return (t, p) => bceLoss(t, p);
    case "dice":
      return (t, p) => diceLoss(t, p);
    case "tversky":
      return (t, p) => tverskyLoss(t, p);
    case "focal-tversky":
      return (t, p) => focalTverskyLoss(t, p);
    case "kl":
      return (t, p) => klLoss(t, p);
    case "kltv":
      return (t, p) => kltvLoss(t, p);
    case "xe-tversky":
      return (t, p) => xeTverskyLoss(t, p);
    default:
      throw new Error(`unknown loss "${name}": use one of ${LOSS_NAMES.join(", ")}`);
  }
}
