/**
 * Switching between stock tfjs kernels and appaunet's faster replacements (`useFastKernels`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { makeCpuConv2DBackpropFilter } from "./cpu_conv2d_backprop_filter.ts";

interface Replacement {
  kernelName: string;
  backendName: string;
  make: (stock: tf.KernelFunc) => tf.KernelFunc;
}

/** Every replacement kernel appaunet ships. */
const REPLACEMENTS: Replacement[] = [
  { kernelName: "Conv2DBackpropFilter", backendName: "cpu", make: makeCpuConv2DBackpropFilter },
];

const stockKernels = new Map<string, tf.KernelConfig>();
let active = false;

/**
 * Turns appaunet's replacement kernels on (default after import of `mod.ts`) or off (stock tfjs kernels), for
 * every model and loss, with no other code change. Replacements so far: the `cpu` backend's
 * `Conv2DBackpropFilter` (stock is ≈ 60× slower).
 *
 * @example
 * ```ts
 * import { fastKernelsEnabled, useFastKernels } from "./mod.ts";
 * useFastKernels(false);
 * console.log(fastKernelsEnabled()); // false
 * useFastKernels(true);
 * ```
 * @param enabled `true` for the fast kernels, `false` for stock tfjs
 */
export function useFastKernels(enabled: boolean): void {
  if (enabled === active) return;
  for (const r of REPLACEMENTS) {
    const key = `${r.backendName}/${r.kernelName}`;
    if (!stockKernels.has(key)) {
      const stock = tf.getKernel(r.kernelName, r.backendName);
      if (!stock) continue;
      stockKernels.set(key, stock);
    }
    const stock = stockKernels.get(key)!;
    tf.unregisterKernel(r.kernelName, r.backendName);
    tf.registerKernel(enabled ? { ...stock, kernelFunc: r.make(stock.kernelFunc) } : stock);
  }
  active = enabled;
}

/**
 * Whether the fast kernels are active.
 *
 * @example
 * ```ts
 * import { fastKernelsEnabled } from "./mod.ts";
 * console.log(typeof fastKernelsEnabled()); // "boolean"
 * ```
 * @returns `true` when {@linkcode useFastKernels} last turned them on
 */
export function fastKernelsEnabled(): boolean {
  return active;
}

useFastKernels(true);
