/**
 * Limits on the input side and the batch that a model can run with on one machine.
 *
 * @module
 */

/** The largest `size` accepted (the paper works at 256²; 1024² already needs ≈ 8 MiB of cache per image). */
export const MAX_SIZE = 1024;

/**
 * Refuses a batch whose activations could not fit in memory, before anything runs (the step would fail with no
 * message): a rough bound of 48 MiB of activations per 64² image (the demo's 64² batch of 8 peaks at ≈ 0.7–0.9 GB
 * in all), growing with the pixel count, against 16 GiB.
 *
 * @param batchSize images per batch
 * @param size image side
 * @param name the parameter, for the message
 * @throws {Error} naming the parameter, the estimate and a batch size that fits
 */
export function checkBatchSize(batchSize: number, size: number, name = "batchSize"): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${name}: must be an integer ≥ 1, got ${batchSize}`);
  }
  const perImageGiB = (48 * (size / 64) ** 2) / 1024;
  const fits = Math.max(1, Math.floor(16 / perImageGiB));
  if (batchSize > fits) {
    throw new Error(
      `${name}: ${batchSize} images of ${size}² need about ${
        (batchSize * perImageGiB).toFixed(0)
      } GiB of activations; ` +
        `use at most ${fits}`,
    );
  }
}
