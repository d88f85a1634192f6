/**
 * The private surface of tfjs 4.22 that appaunet's kernels, caches and patches use, typed once. It is not tfjs's
 * public API: `installFastKernels` installs them only on tfjs `SUPPORTED_TFJS` (4.22.0) and otherwise leaves stock
 * tfjs running, with a warning in `backendInfo().warnings`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs's WebGPU program interface these kernels use. */
export interface Program {
  /** What tfjs sees: `[size, 1]` (see `runProgram` (webgpu_program.ts)). */
  outputShape: number[];
  /** The shape of the result as the caller gets it from `runProgram` (webgpu_program.ts). */
  logicalShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size?: boolean;
  uniforms?: string;
  variableComponents?: number[];
  outputComponent?: number;
  getUserCode(): string;
}

/** One uniform field as tfjs passes it to `makeUniforms`. */
export interface UniformField {
  type: string;
  data: number[];
}

/** The caches installed on one backend (exposed for tests and diagnostics). */
export interface DispatchCache {
  /** Uniform buffers by their bytes. */
  uniforms: Map<string, GPUBuffer>;
  /** Bind groups by layout and buffers. */
  bindGroups: Map<string, GPUBindGroup>;
  /** Bind groups returned from the cache. */
  hits: number;
  /** Bind groups created (not found in the cache). */
  misses: number;
  /** Whether the caches and the lowest-id-first pool order are used (tests switch them off to compare). */
  enabled: boolean;
}

/** tfjs-backend-webgpu 4.22: the part of `WebGPUBackend` the fast kernels use. */
export interface WebGpuBackendLike {
  runWebGPUProgram(
    p: Program,
    inputs: tf.TensorInfo[],
    dtype: string,
    uniforms?: unknown[],
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  disposeData(id: object): void;
  /** tfjs's per-data records; `values` is the copy on the CPU, if any. */
  tensorMap?: { get(id: object): { values: unknown } | undefined };
}

/** What a tfjs `customGrad` function returns. */
export interface CustomGradResult {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}
/** A tfjs `customGrad` function. */
export type CustomGradFunc = (...args: unknown[]) => CustomGradResult;
/** Gradient functions by input name. */
export type GradMap = Record<string, () => tf.Tensor>;

/** tfjs-core 4.22: the parts of the engine the lazy fused-conv gradient uses. */
export interface EngineLike {
  customGrad(f: CustomGradFunc): (...inputs: tf.Tensor[]) => tf.Tensor;
  runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs?: Record<string, unknown>): tf.Tensor | tf.Tensor[];
  runKernelFunc(p: {
    forwardFunc: (backend: unknown, save: (ts: tf.Tensor[]) => void) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => GradMap;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

/** tfjs-backend-cpu 4.22: the parts of the cpu backend the fast filter gradient uses. */
export interface CpuBackendLike {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
}

/** tfjs-backend-webgpu 4.22: the parts of the backend that `submitAfterNewPipelines` (backend.ts) wraps. */
export interface SubmittingBackend {
  pipelineCache: Record<string, unknown>;
  recordAndSubmit: (...args: unknown[]) => void;
  endComputePassEncoder: () => void;
  submitQueue: () => void;
  commandEncoder: unknown;
  appaunetSubmitPolicy?: true;
}

/** tfjs-backend-webgpu 4.22: the parts of the backend that `cacheDispatchResources` replaces or uses. */
export interface CachingBackend {
  device: GPUDevice;
  queue: GPUQueue;
  bufferManager?: {
    freeBuffers: Map<string, GPUBuffer[]>;
    acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GPUBuffer;
  };
  makeUniforms(fields: UniformField[]): { offset: number; size: number; buffer: GPUBuffer };
  appaunetDispatchCache?: DispatchCache;
}

/** tfjs-backend-webgpu 4.22: the parts of the backend the shader warm-up worker uses. */
export interface CompilingBackend {
  device: GPUDevice;
  checkCompileCompletionAsync(): Promise<void>;
}

/** tfjs-layers 4.22: the fields of `BatchNormalization` the fused training path reads. */
export interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: LayerVariable;
  beta: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

/** tfjs-layers 4.22: the part of a `LayerVariable` used. */
export interface LayerVariable {
  read(): tf.Tensor;
  write(t: tf.Tensor): void;
}

// Accessors: every read or write of a tfjs internal outside the kernels' typed interfaces goes through one of these.

/** The engine as the lazy fused-conv gradient uses it. */
export function engineInternals(): EngineLike {
  return tf.engine() as unknown as EngineLike;
}

/** How deep tfjs is in gradient recording (0 outside `tf.grads`, `minimize`, …). */
export function gradientDepth(): number {
  return (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state?.gradientDepth ?? 0;
}

/** The active backend's WebGPU device, when it has one. */
export function backendDevice(): GPUDevice | undefined {
  return (tf.backend() as unknown as { device?: GPUDevice }).device;
}

/** The active backend with the compile-only mode the shader warm-up uses. */
export function compilingBackend(): CompilingBackend {
  return tf.backend() as unknown as CompilingBackend;
}

/** Marks the cpu backend as used (its "install tfjs-node" banner is wrong advice under Deno). */
export function markBackendUsed(): void {
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

/**
 * The prototype of a registered layer class (for a patch of its `call`).
 *
 * @param className the layer's class name, e.g. `"BatchNormalization"`
 * @returns its prototype, or undefined when no such class is registered
 */
export function layerPrototype(className: string): Record<string, unknown> | undefined {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  return entry ? (entry[0] as unknown as { prototype: Record<string, unknown> }).prototype : undefined;
}

/**
 * Sets an optimizer's learning rate (tfjs optimizers keep it in a field their public types do not show).
 *
 * @param opt the optimizer
 * @param lr the new rate
 */
export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  (opt as unknown as { learningRate: number }).learningRate = lr;
}
