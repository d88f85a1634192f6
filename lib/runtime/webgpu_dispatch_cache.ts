/**
 * Less JS per WebGPU dispatch: reuse of uniform buffers and bind groups across dispatches that need the same ones.
 *
 * For every dispatch, tfjs-backend-webgpu 4.22 packs the uniforms (NaN, Infinity, buffer shapes and strides, program
 * values) into a pooled buffer and uploads them with `queue.writeBuffer`, then creates a bind group for the output,
 * input and uniform buffers. In Deno these two calls took ≈ 57 and ≈ 56 µs of JS per dispatch on our development
 * machine (a V8 profile of 24,000 dispatches), where tfjs's whole dispatch costs ≈ 200 µs; on a GPU the JS side is
 * what bounds a forward pass (see bench/README.md, "GPU: NVIDIA H100").
 *
 * - Uniforms: a model runs the same programs on the same shapes again and again, so the same few hundred uniform
 *   byte strings recur. {@linkcode cacheDispatchResources} keeps one buffer per distinct byte string, written once
 *   and never written again (shaders only read uniforms).
 * - Bind groups: a bind group only names a layout and buffers. When a dispatch asks for the same layout and the same
 *   buffer objects as an earlier one, the earlier bind group is returned. That is correct whatever the buffers now
 *   hold: a bind group binds buffers, not values. tfjs never binds a destroyed buffer, so a group that names one is
 *   never asked for again. Each pipeline's bind-group layout is made a stable object for this (Deno returns a new
 *   one per call).
 * - Buffer pool order: for hits, a repeated step must get the same buffers in the same places. tfjs's pool hands
 *   out the buffer of the right size released last, so the assignment depends on the order of earlier releases,
 *   which drifts from step to step (measured: 0–8 % of a 64² training step's bind groups found in the cache, step
 *   after step). The pool is made to hand out the free buffer created first instead: then the assignment depends
 *   only on which buffers are free. With the fused Adam update writing in place (`lib/kernels/webgpu_adam.ts`), the
 *   buffers that hold the model's state no longer change either, and a repeated step repeats its buffers exactly.
 *
 * Both caches start over past {@linkcode DISPATCH_CACHE_LIMIT} entries (dropping references, destroying nothing:
 * recorded work that is not submitted yet may still use them).
 *
 * @module
 */
import type { CachingBackend, DispatchCache, UniformField } from "../kernels/tfjs_internals.ts";

export type { DispatchCache, UniformField };

/** Most entries per cache; past it the cache starts over. */
export const DISPATCH_CACHE_LIMIT = 8192;

/**
 * The uniform bytes of `fields`, laid out as tfjs-webgpu 4.22's `makeUniforms` lays them out (WGSL alignment:
 * 4 bytes for scalars, 8 for vec2, 16 for vec3–vec6 and for a field after a vec5/vec6; the total rounded up to the
 * largest alignment).
 *
 * @param fields the uniform fields, in order (an empty field becomes `[1]`, as in tfjs)
 * @returns the packed bytes
 */
export function packUniforms(fields: UniformField[]): ArrayBuffer {
  let offset = 0, previous = 0, maxAlign = 1;
  const offsets: number[] = [];
  for (const f of fields) {
    if (f.data.length === 0) f.data = [1];
    const n = f.data.length;
    if (n > 6) throw new Error(`Unsupported ${n}D shape`);
    let align = n === 1 ? 4 : n === 2 ? 8 : 16;
    if (previous === 5 || previous === 6) align = 16;
    maxAlign = Math.max(maxAlign, align);
    offset = Math.ceil(offset / align) * align;
    previous = n;
    offsets.push(offset);
    offset += n * 4;
  }
  const bytes = new ArrayBuffer(Math.ceil(offset / maxAlign) * maxAlign);
  fields.forEach((f, i) => {
    const View = f.type === "int32" ? Int32Array : f.type === "uint32" ? Uint32Array : Float32Array;
    new View(bytes, offsets[i], f.data.length).set(f.data);
  });
  return bytes;
}

/**
 * Installs the uniform-buffer and bind-group caches on the tfjs webgpu backend (see the module documentation). Does
 * nothing when the backend lacks the (private) members it replaces, or when they are installed already.
 *
 * @param backend the tfjs webgpu backend
 * @returns the caches, or undefined when they could not be installed
 */
export function cacheDispatchResources(backend: unknown): DispatchCache | undefined {
  // Long: the two patched tfjs methods and their caches share one closure of state.
  const b = backend as Partial<CachingBackend>;
  if (b.appaunetDispatchCache) return b.appaunetDispatchCache;
  const device = b.device;
  if (
    !device || !b.queue || typeof b.makeUniforms !== "function" || typeof device.createBindGroup !== "function" ||
    typeof device.createComputePipeline !== "function" || !Object.isExtensible(device)
  ) return undefined;
  const state: DispatchCache = { uniforms: new Map(), bindGroups: new Map(), hits: 0, misses: 0, enabled: true };
  b.appaunetDispatchCache = state;

  const plainUniforms = b.makeUniforms;
  b.makeUniforms = function (this: CachingBackend, fields: UniformField[]) {
    if (!state.enabled) return plainUniforms.call(this, fields);
    const bytes = packUniforms(fields);
    const words = new Uint32Array(bytes);
    let key = "";
    for (let i = 0; i < words.length; i++) key += words[i].toString(36) + ",";
    let buffer = state.uniforms.get(key);
    if (!buffer) {
      if (state.uniforms.size >= DISPATCH_CACHE_LIMIT) state.uniforms.clear();
      buffer = this.device.createBuffer({
        size: bytes.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.queue.writeBuffer(buffer, 0, bytes);
      state.uniforms.set(key, buffer);
    }
    return { offset: 0, size: bytes.byteLength, buffer };
  };

  // Stable bind-group layouts: one object per (pipeline, group).
  const createPipeline = device.createComputePipeline.bind(device);
  device.createComputePipeline = (descriptor: GPUComputePipelineDescriptor) => {
    const pipeline = createPipeline(descriptor);
    const layouts = new Map<number, GPUBindGroupLayout>();
    const layoutOf = pipeline.getBindGroupLayout.bind(pipeline);
    pipeline.getBindGroupLayout = (index: number) => {
      let layout = layouts.get(index);
      if (!layout) layouts.set(index, layout = layoutOf(index));
      return layout;
    };
    return pipeline;
  };

  const ids = new WeakMap<object, number>();
  let nextId = 1;
  const idOf = (o: object) => {
    let v = ids.get(o);
    if (v === undefined) ids.set(o, v = nextId++);
    return v;
  };
  // Lowest-id-first buffer pool: which buffer an allocation gets depends on which buffers are free, not on the
  // order they were released in (tfjs pops the last one released).
  const manager = b.bufferManager;
  if (manager && typeof manager.acquireBuffer === "function" && manager.freeBuffers instanceof Map) {
    const acquire = manager.acquireBuffer.bind(manager);
    manager.acquireBuffer = (size: number, usage: number, mappedAtCreation = false, reuse = true) => {
      const free = reuse && state.enabled ? manager.freeBuffers.get(`${size}_${usage}`) : undefined;
      if (free && free.length > 1) {
        const last = free.length - 1;
        let best = last, bestId = idOf(free[last]);
        for (let i = 0; i < last; i++) {
          const id = idOf(free[i]);
          if (id < bestId) [best, bestId] = [i, id];
        }
        [free[best], free[last]] = [free[last], free[best]];
      }
      const buffer = acquire(size, usage, mappedAtCreation, reuse);
      idOf(buffer);
      return buffer;
    };
  }

  const createBindGroup = device.createBindGroup.bind(device);
  device.createBindGroup = (descriptor: GPUBindGroupDescriptor) => {
    if (!state.enabled) return createBindGroup(descriptor);
    let key = String(idOf(descriptor.layout));
    for (const entry of descriptor.entries) {
      const r = entry.resource as Partial<GPUBufferBinding>;
      if (!(r.buffer instanceof GPUBuffer)) return createBindGroup(descriptor); // textures: not cached
      key += `|${entry.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? "-"}`;
    }
    let group = state.bindGroups.get(key);
    if (group) {
      state.hits++;
      return group;
    }
    if (state.bindGroups.size >= DISPATCH_CACHE_LIMIT) state.bindGroups.clear();
    state.misses++;
    group = createBindGroup(descriptor);
    state.bindGroups.set(key, group);
    return group;
  };
  return state;
}
