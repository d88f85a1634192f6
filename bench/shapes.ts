/**
 * APPAU-Net convolution shapes used by the kernel benchmarks: [name, N, H, W, CIN, COUT, K, stride].
 *
 * @module
 */

/** One convolution geometry. */
export type ConvShape = [string, number, number, number, number, number, number, number];

/** Shapes from the 128² (base 16, depth 4) and 256² models, batch 8. */
export const CONV_SHAPES: ConvShape[] = [
  ["S enc0 128² 16→16 3×3", 8, 128, 128, 16, 16, 3, 1],
  ["S enc2 32² 64→64 3×3", 8, 32, 32, 64, 64, 3, 1],
  ["S bottleneck 8² 256→256 3×3", 8, 8, 8, 256, 256, 3, 1],
  ["D conv1 64² 16→32 4×4 s2", 8, 64, 64, 16, 32, 4, 2],
  ["S enc0 256² 16→16 3×3", 8, 256, 256, 16, 16, 3, 1],
  ["S pyramid 128² 1→32 3×3", 8, 128, 128, 1, 32, 3, 1],
];
