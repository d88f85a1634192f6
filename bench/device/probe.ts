/**
 * Prints what a WebGPU adapter reports (raw `requestAdapter` info and features, then appaunet's `backendInfo`) and
 * runs one convolution timed by the adapter: `deno run -A bench/device/probe.ts`. The first check of a run on a lent
 * machine (see bench/README.md, "Running the checks on a lent GPU machine").
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { backendInfo, initBackend } from "../../mod.ts";

const gpu = (navigator as unknown as { gpu: GPU }).gpu;
const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
console.log("raw adapter:", a ? JSON.stringify({ info: a.info, features: [...a.features] }) : "null");
await initBackend({ backend: "webgpu" });
console.log(JSON.stringify(backendInfo(), null, 1));
const x = tf.randomUniform([2, 16, 16, 4]) as tf.Tensor4D;
const w = tf.ones([3, 3, 4, 8]) as tf.Tensor4D;
const t = await tf.time(() => tf.conv2d(x, w, 1, "same"));
console.log("conv ok, kernelMs", JSON.stringify(t.kernelMs));
Deno.exit(0);
