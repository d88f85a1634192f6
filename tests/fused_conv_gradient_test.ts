import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend, useFastKernels } from "../mod.ts";
import { webgpuTest } from "./webgpu_helper.ts";

await initBackend({ backend: "cpu" });

/** Kernel names a function runs (tf.profile). */
async function kernelsOf(f: () => tf.TensorContainer): Promise<string[]> {
  const p = await tf.profile(f);
  tf.dispose(p.result);
  return p.kernels.map((k) => k.name);
}

const cases = [
  { stride: 1, pad: "same" as const, act: "linear" as const, bias: false },
  { stride: 2, pad: "valid" as const, act: "relu" as const, bias: true },
  { stride: 2, pad: "same" as const, act: "linear" as const, bias: true },
  { stride: 1, pad: "valid" as const, act: "relu" as const, bias: false },
];

async function checkGradients(label: string) {
  for (const c of cases) {
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    const w = tf.randomNormal([4, 4, 3, 5], 0, 0.3, "float32", 2) as tf.Tensor4D;
    const b = tf.randomNormal([5], 0, 1, "float32", 3) as tf.Tensor1D;
    const outShape = tf.conv2d(x, w, c.stride, c.pad).shape;
    const r = tf.randomNormal(outShape, 0, 1, "float32", 4);
    const args = c.bias ? [x, w, b] : [x, w];
    const fused = tf.grads((...t: tf.Tensor[]) =>
      tf.sum(tf.mul(
        tf.fused.conv2d({
          x: t[0] as tf.Tensor4D,
          filter: t[1] as tf.Tensor4D,
          strides: c.stride,
          pad: c.pad,
          bias: c.bias ? t[2] : undefined,
          activation: c.act,
        }),
        r,
      ))
    )(args);
    // Reference: the same function from unfused ops, whose gradients tfjs computes input by input.
    const plain = tf.grads((...t: tf.Tensor[]) => {
      let y: tf.Tensor = tf.conv2d(t[0] as tf.Tensor4D, t[1] as tf.Tensor4D, c.stride, c.pad);
      if (c.bias) y = tf.add(y, t[2]);
      if (c.act === "relu") y = tf.relu(y);
      return tf.sum(tf.mul(y, r));
    })(args);
    for (let i = 0; i < args.length; i++) {
      const [a, e] = [await fused[i].data(), await plain[i].data()];
      const scale = Math.max(...Array.from(e, Math.abs), 1e-6);
      const diff = Math.max(...Array.from(a, (v, j) => Math.abs(v - e[j])));
      assert.ok(diff / scale < 1e-4, `${label} ${JSON.stringify(c)} input ${i}: relative difference ${diff / scale}`);
    }
    tf.dispose([x, w, b, r, ...fused, ...plain]);
  }
}

Deno.test("fused conv2d gradients (linear/ReLU, bias or not, strides 1/2, same/valid) equal the unfused ops' (cpu)", async () => {
  await checkGradients("cpu");
});

Deno.test("a fused conv2d whose input needs no gradient runs no Conv2DBackpropInput; stock tfjs runs one", async () => {
  const x = tf.randomNormal([2, 8, 8, 1], 0, 1, "float32", 5) as tf.Tensor4D;
  const w = tf.variable(tf.randomNormal([3, 3, 1, 4], 0, 0.3, "float32", 6));
  const b = tf.variable(tf.zeros([4]));
  const loss = () =>
    tf.sum(
      tf.fused.conv2d({ x, filter: w as tf.Tensor4D, strides: 1, pad: "same", bias: b, activation: "linear" }),
    ) as tf.Scalar;
  const step = () => {
    const { value, grads } = tf.variableGrads(loss, [w, b]);
    return [value, grads[w.name], grads[b.name]];
  };
  try {
    const before = tf.memory().numTensors;
    const fast = await kernelsOf(step);
    assert.ok(fast.includes("Conv2DBackpropFilter"), fast.join(" "));
    assert.ok(!fast.includes("Conv2DBackpropInput"), `the unused input gradient ran: ${fast.join(" ")}`);
    useFastKernels(false);
    const stock = await kernelsOf(step);
    assert.ok(stock.includes("Conv2DBackpropInput"), `stock tfjs should compute it: ${stock.join(" ")}`);
    useFastKernels(true);
    const v = step();
    const g = [await v[1].data(), await v[2].data()];
    useFastKernels(false);
    const s = step();
    const h = [await s[1].data(), await s[2].data()];
    // Equal up to float rounding (the fast and stock cpu filter-gradient kernels sum in different orders).
    for (let i = 0; i < 2; i++) {
      assert.equal(g[i].length, h[i].length);
      g[i].forEach((v, j) =>
        assert.ok(Math.abs(v - h[i][j]) <= 1e-5 * Math.max(1, Math.abs(h[i][j])), `grad ${i}[${j}]`)
      );
    }
    tf.dispose([...v, ...s]);
    assert.equal(tf.memory().numTensors, before, "leaked tensors");
  } finally {
    useFastKernels(true);
    tf.dispose([x, w, b]);
  }
});

webgpuTest("fused conv2d gradients equal the unfused ops' (webgpu)", async () => {
  await initBackend({ backend: "webgpu" });
  try {
    await checkGradients("webgpu");
  } finally {
    await initBackend({ backend: "cpu" });
  }
});
