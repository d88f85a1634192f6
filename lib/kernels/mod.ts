/**
 * appaunet's WGSL kernels and the switch between them and tfjs's own.
 *
 * @module
 */
export * from "./registry.ts";
