/**
 * Measures the WebGPU adapter's arithmetic peak with a pure-FMA WGSL loop (no memory traffic):
 * `deno run -A bench/peak.ts` (run once with `LP_NUM_THREADS=1` to see one lavapipe thread).
 *
 * @module
 */
import { webgpuAvailable } from "../mod.ts";

/** Runs the FMA kernel and returns GFLOP/s (2 flops per FMA), median of `reps`. */
export async function measurePeak(reps = 5): Promise<{ gflops: number; adapter: string }> {
  await webgpuAvailable(); // same driver choice as the library (Vulkan only on Linux)
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter (install mesa-vulkan-drivers)");
  const device = await adapter.requestDevice();
  const ITER = 4096, GROUPS = 256, WG = 64;
  const code = `
@group(0) @binding(0) var<storage, read_write> out : array<vec4<f32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  var a = vec4<f32>(f32(gid.x) * 1e-6);
  var b = a + vec4<f32>(0.1); var c = a + vec4<f32>(0.2); var d = a + vec4<f32>(0.3);
  let m = vec4<f32>(0.999999); let k = vec4<f32>(1e-7);
  for (var i = 0u; i < ${ITER}u; i = i + 1u) {
    a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
  }
  out[gid.x] = a + b + c + d;
}`;
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const buf = device.createBuffer({ size: GROUPS * WG * 16, usage: GPUBufferUsage.STORAGE });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: buf } }],
  });
  const run = async () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(GROUPS);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await run());
  const ms = times.sort((a, b) => a - b)[Math.floor(reps / 2)];
  const flops = GROUPS * WG * ITER * 4 * 4 * 2;
  buf.destroy();
  device.destroy();
  return { gflops: flops / ms / 1e6, adapter: adapter.info.description };
}

if (import.meta.main) {
  const r = await measurePeak();
  console.log(
    `FMA peak ${r.gflops.toFixed(1)} GFLOP/s on ${r.adapter} (LP_NUM_THREADS=${
      Deno.env.get("LP_NUM_THREADS") ?? "unset"
    })`,
  );
}
