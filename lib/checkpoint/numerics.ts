/**
 * Guards against non-finite numbers (NaN, ±Infinity): the error training stops with, and checks of weights on their
 * way into and out of checkpoints.
 *
 * @module
 */

/**
 * Thrown when training produces a non-finite loss or a checkpoint holds non-finite values.
 *
 * @example
 * ```ts
 * import { NonFiniteError } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const e = new NonFiniteError("seg loss is NaN at epoch 2, step 5");
 * assert.ok(e instanceof Error);
 * assert.equal(e.name, "NonFiniteError");
 * ```
 */
export class NonFiniteError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is non-finite, where, and what to do
   */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteError";
  }
}

/** The usual causes of a non-finite training loss, for error messages. */
export const NON_FINITE_CAUSES: string =
  "likely causes: a learning rate too high (--lr), a large --lambda-adv or --lambda-seg, input pixels that are not " +
  "finite (check the images, e.g. a DICOM rescale), or a damaged checkpoint when resuming";

/**
 * Where the first non-finite float32 value in weight data is, or `undefined` when all are finite.
 *
 * @example
 * ```ts
 * import { findNonFiniteWeight } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const specs = [{ name: "a", shape: [2], dtype: "float32" as const }, { name: "b", shape: [1], dtype: "float32" as const }];
 * assert.equal(findNonFiniteWeight(specs, new Float32Array([1, 2, 3]).buffer), undefined);
 * assert.deepEqual(findNonFiniteWeight(specs, new Float32Array([1, 2, NaN]).buffer), { name: "b", value: NaN });
 * ```
 * @param specs weight names, shapes and dtypes, in data order (tfjs weight specs)
 * @param data the concatenated weight bytes
 * @returns the weight's name and the value
 */
export function findNonFiniteWeight(
  specs: readonly { name: string; shape: number[]; dtype: string }[],
  data: ArrayBuffer,
): { name: string; value: number } | undefined {
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const bytes = s.dtype === "float32" || s.dtype === "int32" ? 4 : s.dtype === "bool" ? 1 : 4;
    if (s.dtype === "float32") {
      const v = new Float32Array(data, offset, Math.min(n, Math.floor((data.byteLength - offset) / 4)));
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return { name: s.name, value: v[i] };
    }
    offset += n * bytes;
  }
  return undefined;
}

/**
 * Throws a {@linkcode NonFiniteError} naming the weight when weight data holds NaN or ±Infinity.
 *
 * @param specs weight specs in data order
 * @param data the weight bytes
 * @param where what holds them (a checkpoint folder and model), for the message
 * @param fix what to do
 * @throws {NonFiniteError} on the first non-finite value
 */
export function assertFiniteWeights(
  specs: readonly { name: string; shape: number[]; dtype: string }[],
  data: ArrayBuffer,
  where: string,
  fix: string,
): void {
  const bad = findNonFiniteWeight(specs, data);
  if (bad) throw new NonFiniteError(`${where}: weight "${bad.name}" holds ${bad.value}; ${fix}`);
}
