/**
 * The pinned TensorFlow.js (4.22.0) that appaunet runs on, re-exported so that your code and appaunet share one copy
 * (two copies register every kernel twice and do not share tensors):
 *
 * ```ts
 * import * as tf from "@appaunet/appaunet/tf";
 * import assert from "node:assert/strict";
 * assert.equal(tf.version.tfjs, "4.22.0");
 * ```
 *
 * @module
 */
export * from "@tensorflow/tfjs";
