import assert from "node:assert/strict";

/** Runs a script in a fresh Deno process (module state starts empty) and returns its stdout. */
async function fresh(code: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test("importing mod.ts has no side effects on tfjs; initBackend installs the kernels and patches", async () => {
  const text = await fresh(`
    import * as tf from "@tensorflow/tfjs";
    const snap = () => JSON.stringify({
      backends: Object.keys((tf.engine() as unknown as { registryFactory: object }).registryFactory).sort(),
      chosen: (tf.engine() as unknown as { backendName: string | null }).backendName ?? null,
      cpuKernels: tf.getKernelsForBackend("cpu").length,
      webgpuKernels: tf.getKernelsForBackend("webgpu").length,
      bnCall: Object.getPrototypeOf(tf.layers.batchNormalization({})).call.toString().length,
    });
    const before = snap();
    const m = await import("./mod.ts");
    const after = snap();
    console.log(before === after ? "same" : "changed " + before + " → " + after);
    const tfEntry = await import("./tf.ts");
    console.log(tfEntry.version.tfjs === tf.version.tfjs && tfEntry.tensor === tf.tensor ? tfEntry.version.tfjs : "another copy");
    await m.initBackend({ backend: "cpu" });
    console.log(snap() !== after ? "installed" : "not installed");
  `);
  const [same, version, installed] = text.trim().split("\n");
  assert.equal(same, "same");
  assert.equal(version, "4.22.0", "the ./tf entry re-exports the pinned tfjs (the same copy)");
  assert.equal(installed, "installed");
});
