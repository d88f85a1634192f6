import assert from "node:assert/strict";
import { backendInfo, initBackend, webgpuAvailable } from "../mod.ts";
import { vulkanDriverManifests } from "../lib/vulkan_drivers.ts";

const webgpu = await webgpuAvailable();
const linuxVulkan = Deno.build.os === "linux" && vulkanDriverManifests().length > 0;

Deno.test({
  name: webgpu && linuxVulkan
    ? "Linux + Vulkan driver: WebGPU runs on Vulkan only and never loads libEGL (exit-time double free)"
    : "Linux Vulkan-only WebGPU (SKIPPED: needs Linux, a Vulkan driver and a WebGPU adapter)",
  ignore: !(webgpu && linuxVulkan),
  fn: async () => {
    const info = await initBackend({ backend: "webgpu" });
    assert.equal(info.backend, "webgpu");
    const chosen = Deno.env.get("DENO_WEBGPU_BACKEND");
    assert.ok(chosen, "DENO_WEBGPU_BACKEND should be set (by the library, or by the user)");
    assert.equal(info.adapter?.denoWebgpuBackend, chosen);
    if (chosen === "vulkan") {
      // libglvnd's libEGL, loaded by wgpu's GL probe, double-frees its thread state when a thread that used it
      // ends during process exit (exit code 134 after all tests passed).
      const maps = await Deno.readTextFile("/proc/self/maps");
      assert.ok(!/libEGL\.so/.test(maps), "libEGL is mapped: the GL backend was probed");
    }
    await initBackend({ backend: "cpu" });
    assert.equal(backendInfo().backend, "cpu");
  },
});
