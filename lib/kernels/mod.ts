/**
 * appaunet's WGSL kernels and the switch between them and tfjs's own.
 *
 * @module
 */
export { fastKernelsEnabled, SUPPORTED_TFJS, useFastKernels } from "./registry.ts";
export type { KernelTarget } from "./policy.ts";
