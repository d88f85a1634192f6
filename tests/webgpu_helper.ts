/**
 * Shared by the test files: whether this machine has a WebGPU adapter, and a `Deno.test` wrapper for tests that
 * need one.
 *
 * @module
 */
import { webgpuAvailable } from "../mod.ts";

/** Whether a WebGPU adapter can be obtained here. */
export const webgpu: boolean = await webgpuAvailable();

/**
 * Registers a test that needs a WebGPU adapter; without one it is ignored with a name that says how to get one.
 *
 * @param name the test's name
 * @param fn the test
 */
export function webgpuTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: webgpu ? name : `${name} (SKIPPED: no WebGPU adapter; install mesa-vulkan-drivers)`,
    ignore: !webgpu,
    fn,
  });
}
