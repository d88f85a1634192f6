/**
 * Runtime setup, in one place: the backend and WebGPU adapter (`initBackend`), the dispatch caches, the Vulkan driver
 * check, and the shader warm-up on a second thread.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./shader_warmup.ts";
