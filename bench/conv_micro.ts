/**
 * Per-kernel timing of the three convolution ops on APPAU-Net shapes, stock vs fast:
 * `deno run -A bench/conv_micro.ts [stock|fast|both]`. Prints median ms and GFLOP/s.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, useFastKernels } from "../mod.ts";

/** [name, N, H, W, CIN, COUT, K, stride] */
export const CONV_SHAPES: [string, number, number, number, number, number, number, number][] = [
  ["S enc0 128² 16→16 3×3", 8, 128, 128, 16, 16, 3, 1],
  ["S enc2 32² 64→64 3×3", 8, 32, 32, 64, 64, 3, 1],
  ["S bottleneck 8² 256→256 3×3", 8, 8, 8, 256, 256, 3, 1],
  ["D conv1 64² 16→32 4×4 s2", 8, 64, 64, 16, 32, 4, 2],
];

async function time(fn: () => tf.Tensor, reps = 5): Promise<number> {
  const warm = fn();
  await warm.data();
  warm.dispose();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = fn();
    await r.data();
    ts.push(performance.now() - t0);
    r.dispose();
  }
  return ts.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

/** Times fwd, dx, dw of one shape; returns median ms per op. */
export async function timeShape(s: typeof CONV_SHAPES[number]) {
  const [, n, h, w, ci, co, k, st] = s;
  const x = tf.randomUniform([n, h, w, ci]) as tf.Tensor4D;
  const f = tf.randomUniform([k, k, ci, co]) as tf.Tensor4D;
  const y = tf.conv2d(x, f, st, "same");
  const dy = tf.randomUniform(y.shape) as tf.Tensor4D;
  const flops = 2 * y.size * k * k * ci;
  const fwd = await time(() => tf.conv2d(x, f, st, "same"));
  const attrs = { strides: [st, st], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined };
  const run = (name: string, inputs: Record<string, tf.Tensor>, extra: Record<string, unknown>) => () =>
    tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, { ...attrs, ...extra } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const dx = await time(run("Conv2DBackpropInput", { dy, filter: f }, { inputShape: x.shape }));
  const dw = await time(run("Conv2DBackpropFilter", { x, dy }, { filterShape: f.shape }));
  tf.dispose([x, f, y, dy]);
  return { flops, fwd, dx, dw };
}

if (import.meta.main) {
  await initBackend({ backend: "webgpu" });
  const modes = Deno.args[0] === "stock" ? [false] : Deno.args[0] === "fast" ? [true] : [false, true];
  for (const fast of modes) {
    useFastKernels(fast);
    for (const s of CONV_SHAPES) {
      const r = await timeShape(s);
      const g = (ms: number) => (r.flops / ms / 1e6).toFixed(2);
      console.log(
        `${fast ? "fast " : "stock"} ${s[0].padEnd(30)} fwd ${r.fwd.toFixed(1)} ms (${g(r.fwd)} GFLOP/s) | dx ${r.dx.toFixed(1)} ms (${g(r.dx)}) | dw ${r.dw.toFixed(1)} ms (${g(r.dw)})`,
      );
    }
  }
}
