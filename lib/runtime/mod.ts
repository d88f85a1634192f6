/**
 * Runtime setup: the backend and WebGPU adapter (`initBackend`), the dispatch caches and the Vulkan driver check.
 *
 * @module
 */
export { BackendError, backendInfo, initBackend, webgpuAvailable } from "./backend.ts";
export type { AdapterInfo, BackendInfo, BackendName, InitBackendOptions } from "./backend.ts";
