/**
 * Runtime setup: the backend and WebGPU adapter (`initBackend`), the dispatch caches, the Vulkan driver check, the
 * shader warm-up.
 *
 * @module
 */
export * from "./backend.ts";
