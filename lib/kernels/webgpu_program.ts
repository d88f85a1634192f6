/**
 * The small slice of tfjs-backend-webgpu's program interface that appaunet's WGSL kernels use, and a builder for
 * flat-dispatched programs (one invocation per `index`, 64 per workgroup, values passed as uniforms).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Program, WebGpuBackendLike } from "./tfjs_internals.ts";

export type { Program, WebGpuBackendLike };

const WG = 64;

/** Number of elements of a tensor of this shape. */
const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * An environment variable for kernel experiments, or undefined when unset or when the process has no env permission
 * (the kernels then use their defaults).
 *
 * @param name the variable
 * @returns its value, or undefined
 */
export function kernelEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env
  }
}

/**
 * Smallest tensor (elements) the elementwise replacements take: below it a dedicated dispatch is not worth it and
 * the stock kernel may run on the CPU.
 */
export const MIN_FAST_ELEMENTS = 4096;

/** WGSL source, or a function that builds it (called only when tfjs compiles the program). */
export type WgslSource = string | (() => string);

/**
 * A program whose `fn main(index : i32)` runs once per flat index in `[0, invocations)`.
 *
 * @param key shader cache key: must change whenever `code` does (shapes belong in uniforms, not in the code)
 * @param outputShape shape of `result`
 * @param names input buffer names, in input order
 * @param invocations number of indices to run
 * @param code WGSL with `fn main(index : i32) {`, or a function returning it: tfjs asks for the code only when it
 *   has no pipeline for `key` yet, so a function keeps the string building off every later dispatch (the Winograd
 *   transforms' code took ≈ 5 ms of JS per 64² forward pass when built eagerly, measured)
 * @param uniforms the program's uniform fields (tfjs appends them to its own struct)
 * @param prelude WGSL inserted at the top of `main` (e.g. `let` bindings of the uniforms). It must read
 *   `uniforms`: the auto bind-group layout only holds bindings the shader uses, and tfjs always binds them.
 * @param components vec4 typing of the buffers: `inputs[i]` (1 or 4) per input and `output`; with 4 the WGSL
 *   array holds `vec4<f32>` and is indexed in units of 4 floats (the tensor's size must be a multiple of 4)
 * @returns the program
 */
export function flatProgram(
  key: string,
  outputShape: number[],
  names: string[],
  invocations: number,
  code: WgslSource,
  uniforms: string,
  prelude: string,
  components?: { inputs: number[]; output: number },
): Program {
  return {
    ...(components ? { variableComponents: components.inputs, outputComponent: components.output } : {}),
    outputShape: [elements(outputShape), 1],
    logicalShape: outputShape,
    shaderKey: key,
    uniforms,
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil(invocations / WG), 1, 1],
    variableNames: names,
    workgroupSize: [WG, 1, 1],
    getUserCode: () =>
      (typeof code === "function" ? code() : code).replace(
        "fn main(index : i32) {",
        `fn main(index : i32) {${prelude}`,
      ),
  };
}

/**
 * Runs a {@linkcode flatProgram} with every buffer presented to tfjs in one canonical shape: inputs as `[size]`, the
 * output as `[size, 1]`; the result is returned in the program's logical shape. tfjs generates per-input helper
 * functions (and cache keys) from the ranks and broadcast pattern of the shapes it is given and whether each input's
 * shape equals the output's. Our kernels index the buffers themselves and never call those helpers, but the helpers
 * still made the WGSL text differ from shape to shape, so lavapipe compiled the same kernel once per pattern (≈ 7 s of
 * a cold first 64² step, measured). With canonical shapes the code, and so the pipeline, depends only on the key.
 *
 * @param backend the webgpu backend
 * @param program a program from {@linkcode flatProgram}
 * @param inputs the input tensors, in `program.variableNames` order
 * @param dtype the output dtype
 * @param uniforms the program's uniform values
 * @param output an existing tensor to write the result into instead of a new one (its data is overwritten in place,
 *   and the copy of it that tfjs keeps on the CPU after a read is dropped; it must not be one of `inputs`, and no
 *   other tensor may share its data, see {@linkcode ownsData})
 * @returns the output, in `program.logicalShape`
 */
export function runProgram(
  backend: WebGpuBackendLike,
  program: Program,
  inputs: tf.TensorInfo[],
  dtype: string,
  uniforms?: unknown[],
  output?: tf.TensorInfo,
): tf.TensorInfo {
  const flat = inputs.map((t) => ({ dataId: t.dataId, dtype: t.dtype, shape: [elements(t.shape)] }));
  const into = output && { dataId: output.dataId, dtype: output.dtype, shape: program.outputShape };
  const out = backend.runWebGPUProgram(program, flat, dtype, uniforms, into);
  if (output) {
    // tfjs keeps the values it last read back next to the GPU buffer and answers later reads from them: they are
    // stale now. So is anything our kernels derived from the old data (see dataVersion).
    const stored = backend.tensorMap?.get(output.dataId);
    if (stored) stored.values = null;
    versions.set(output.dataId, dataVersion(output.dataId) + 1);
  }
  return { dataId: out.dataId, dtype: out.dtype, shape: program.logicalShape };
}

/** How many times each data id was overwritten in place by {@linkcode runProgram}. */
const versions = new WeakMap<object, number>();

/**
 * How many times a tensor's data was overwritten in place (by {@linkcode runProgram} with an `output`). Caches that
 * hold something computed from a tensor's data, keyed by its data id, store this with it and treat a change as a
 * miss: tfjs's own data ids never change contents, but in-place writes (the fused Adam update) do.
 *
 * @param dataId the tensor's data id
 * @returns 0 until the first in-place write
 */
export function dataVersion(dataId: object): number {
  return versions.get(dataId) ?? 0;
}

/**
 * Whether `t` is the only tensor that refers to its data on the backend (no clone, reshape or other forwarded
 * tensor shares its data id) and that data is tfjs's own (not a GPU buffer the user handed to tfjs), so a kernel may
 * overwrite it in place without changing anything else.
 *
 * @param backend the backend holding the data
 * @param t the tensor
 * @returns true when the backend's reference count for its data is 1
 */
export function ownsData(backend: unknown, t: tf.TensorInfo): boolean {
  const b = backend as {
    refCount?: (id: object) => number;
    tensorMap?: { get(id: object): { external?: boolean } | undefined };
  };
  // External data (a user's own GPUBuffer wrapped by tfjs) is never overwritten.
  return typeof b.refCount === "function" && b.refCount(t.dataId) === 1 && !b.tensorMap?.get(t.dataId)?.external;
}

/**
 * Whether every tensor's *stored* data is float32 on the backend (undefined entries are skipped). A tensor's own
 * `dtype` is not enough: tfjs's `cast` from bool/int32 to float32 can return the same data id with a new dtype,
 * while the buffer (and the type a WGSL program would be declared with) stays i32.
 *
 * @param backend the backend holding the data
 * @param ts tensors to check
 * @returns true when all are float32 in storage
 */
export function storedAsFloat32(backend: unknown, ...ts: (tf.TensorInfo | undefined)[]): boolean {
  const map = (backend as { tensorMap?: { get(id: object): { dtype: string } | undefined } }).tensorMap;
  return ts.every((t) => !t || (t.dtype === "float32" && (map?.get(t.dataId)?.dtype ?? "float32") === "float32"));
}

/**
 * The `components` argument of {@linkcode flatProgram} for a program whose `inputs` buffers and output are all typed
 * `vec4<f32>`.
 *
 * @param inputs how many input buffers
 * @returns vec4 typing of every buffer
 */
export function vec4Buffers(inputs: number): { inputs: number[]; output: number } {
  return { inputs: Array(inputs).fill(4), output: 4 };
}

/** A {@linkcode flatProgram} with one kernel file's uniform fields and prelude bound. */
export type FlatProgramBuilder = (
  key: string,
  outputShape: number[],
  names: string[],
  invocations: number,
  code: WgslSource,
  components?: { inputs: number[]; output: number },
) => Program;

/**
 * Binds the uniform fields and prelude that every program of one kernel file shares.
 *
 * @param uniforms the programs' uniform fields
 * @param prelude WGSL inserted at the top of `main` (see {@linkcode flatProgram})
 * @returns a builder taking the rest of {@linkcode flatProgram}'s arguments
 */
export function flatProgramWith(uniforms: string, prelude: string): FlatProgramBuilder {
  return (key, outputShape, names, invocations, code, components) =>
    flatProgram(key, outputShape, names, invocations, code, uniforms, prelude, components);
}
