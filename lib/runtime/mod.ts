/**
 * Runtime setup: the backend and WebGPU adapter (`initBackend`), the dispatch caches, the Vulkan driver check, the
 * shader warm-up.
 *
 * @module
 */
export { BackendError, backendInfo, initBackend, webgpuAvailable } from "./backend.ts";
export type { AdapterInfo, BackendInfo, BackendName, InitBackendOptions } from "./backend.ts";
export type { ShaderWarmupReport } from "./shader_warmup.ts";
