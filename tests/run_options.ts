/**
 * Shared by the test files that train: the options of a tiny run (32² phantoms, depth-2 nets, 4 filters).
 *
 * @module
 */
import type { TrainOptions } from "../mod.ts";

/**
 * Options of a tiny mtl run: 32², batch 4, 2 epochs, seed 3, half the class labels, lr 1e-3, S and D of depth 2
 * with 4 base filters, 3 overlays.
 *
 * @param data the manifest
 * @param out the run folder
 * @param extra options that replace these
 * @returns the options
 */
export function tinyRunOptions(data: string, out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    data,
    out,
    size: 32,
    batchSize: 4,
    epochs: 2,
    seed: 3,
    classLabelFraction: 0.5,
    lr: 1e-3,
    segmentor: { depth: 2, baseFilters: 4 },
    discriminator: { depth: 2, baseFilters: 4 },
    overlays: 3,
    ...extra,
  };
}
