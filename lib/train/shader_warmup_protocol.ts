/**
 * What the shader warm-up's main thread (shader_warmup.ts) and its worker (shader_warmup_worker.ts) say to each
 * other: the request, the messages, the report, and the hash that names a shader.
 *
 * @module
 */
import type { ResolvedTrainOptions } from "./config.ts";

/** What a finished (or stopped) warm-up did. */
export interface ShaderWarmupReport {
  /** Distinct shaders the compile-only step listed for training. */
  trainShaders: number;
  /** Distinct shaders only the evaluation uses. */
  evalShaders: number;
  /** Shaders the worker dispatched (compiled, or found in Mesa's cache). */
  compiled: number;
  /** Listed shaders it left out because the main thread had already created them. */
  skipped: number;
  /** Milliseconds the worker spent listing shaders (its compile-only step). */
  listMs: number;
  /** Milliseconds from the worker's start to its end. */
  ms: number;
  /** The error that ended the warm-up early, if any (the run itself is unaffected). */
  error?: string;
}

/** What the worker needs to rebuild the run's step (internal protocol of shader_warmup_worker.ts). */
export interface ShaderWarmupRequest {
  /** The run's resolved options. */
  config: ResolvedTrainOptions;
  /** Real disease classes. */
  numClasses: number;
  /** Whether appaunet's fast kernels are on. */
  fastKernels: boolean;
  /** The adapter kind the kernels choose for. */
  kernelTarget: "software" | "gpu";
  /** Only list the shaders and send them back (tests), without compiling. */
  listOnly?: boolean;
}

/** Messages to the worker after the request: the hash ({@linkcode shaderHash}) of each shader the main thread creates. */
export interface ShaderCreatedMessage {
  /** Always `"created"`. */
  type: "created";
  /** {@linkcode shaderHash} of the shader's code. */
  hash: string;
}

/** Messages from the worker (internal protocol). */
export type ShaderWarmupMessage =
  | { type: "listed"; train: string[]; eval: string[] }
  | { type: "done"; report: ShaderWarmupReport };

/** Successive fast dispatches after which the worker assumes the rest is already compiled. */
export const WARMUP_FAST_RUN = 5;
/** A dispatch faster than this (ms) found its shader in Mesa's cache (cold compiles take ≥ 34 ms here). */
export const WARMUP_FAST_MS = 30;

/**
 * 32-bit FNV-1a of a string, as 8 hex digits: names a shader's code in the messages between the main thread and
 * the worker (a collision would only make the worker skip one shader), and a configuration in its marker's name.
 *
 * @param s the string
 * @returns 8 hex digits
 */
export function shaderHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}
