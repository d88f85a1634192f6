/**
 * Compiling a WGSL shader ahead of its use, for adapters that compile at the first dispatch (Mesa's lavapipe).
 *
 * @module
 */

/**
 * Compiles a tfjs-style WGSL compute shader (entry point `_start`) the way Mesa's lavapipe does it, at its first
 * dispatch: creates the pipeline and runs one workgroup on zero-filled 4 KiB buffers (zero sizes, so its loops do
 * nothing). Lavapipe then keeps the machine code in Mesa's disk cache, where any other device of the same adapter
 * finds it. Used by the shader warm-up and `bench/shader_compile.ts`.
 *
 * @example
 * ```ts ignore
 * await compileByDispatch(device, code);
 * ```
 * @param device the WebGPU device
 * @param code the WGSL
 * @throws {Error} when the shader does not validate
 */
export async function compileByDispatch(device: GPUDevice, code: string): Promise<void> {
  device.pushErrorScope("validation");
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code }), entryPoint: "_start" },
  });
  const buffers = [...code.matchAll(/@binding\((\d+)\)\s*var<(\w+)/g)].map((m) => ({
    binding: Number(m[1]),
    buffer: device.createBuffer({
      size: 4096,
      usage: m[2] === "uniform" ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE,
    }),
  }));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b) => ({ binding: b.binding, resource: { buffer: b.buffer } })),
    }),
  );
  pass.dispatchWorkgroups(1);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  await device.queue.onSubmittedWorkDone();
  for (const b of buffers) b.buffer.destroy();
  if (error) throw new Error(`the shader did not validate: ${error.message}`);
}
