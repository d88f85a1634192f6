// export --format onnx: ONNX Runtime (onnxruntime-node, CPU) gives what predict gives, within 1e-4, on the same input.
import assert from "node:assert/strict";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import {
  decodeImageBytes,
  encodeGrayPng,
  exportOnnx,
  initBackend,
  openModel,
  predict,
  predictImage,
  train,
  writePhantomDataset,
} from "../mod.ts";
import { tinyRunOptions } from "./run_options.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-onnx-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

/** ONNX Runtime's outputs for a batch of [0, 1] images at the model's size. */
async function runOnnx(file: string, images: Float32Array[], size: number) {
  const s = await ort.InferenceSession.create(file);
  const batch = new Float32Array(images.length * size * size);
  images.forEach((im, i) => batch.set(im, i * size * size));
  const r = await s.run({ image: new ort.Tensor("float32", batch, [images.length, 1, size, size]) });
  return { lung: r.lung?.data as Float32Array | undefined, probs: r.probabilities?.data as Float32Array | undefined };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test("export --format onnx: ONNX Runtime equals predict (mask probabilities and calibrated classes) within 1e-4", async () => {
  const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 7 });
  // z-score normalisation: the graph must do it per image, as predict does.
  await train({
    ...tinyRunOptions(data, path.join(root, "run"), { epochs: 1, normalize: "zscore" }),
    progress: "none",
  });
  const model = path.join(root, "run", "checkpoints", "best");
  const out = path.join(root, "onnx");
  const r = await exportOnnx({ model, out });
  assert.equal(r.file, path.join(out, "model.onnx"));
  // Two different images, batched (N is free in the graph).
  const size = 32;
  const files = [0, 1].map((k) => path.join(root, `in${k}.png`));
  const images = files.map((_, k) =>
    Float32Array.from(
      { length: size * size },
      (_, i) => Math.abs(Math.sin((i % size) * (0.3 + k * 0.2)) * Math.cos(Math.floor(i / size) * 0.25)),
    )
  );
  files.forEach((f, k) => Deno.writeFileSync(f, encodeGrayPng(images[k], size, size, 16)));
  const decoded = files.map((f) => decodeImageBytes(Deno.readFileSync(f), f).data);
  const onnx = await runOnnx(r.file, decoded, size);
  const recs = await predict({
    model,
    inputs: files,
    out: path.join(root, "pred"),
    probabilities: true,
    postprocess: false,
  });
  const m = await openModel(model);
  try {
    for (let k = 0; k < 2; k++) {
      const lung = onnx.lung!.subarray(k * size * size, (k + 1) * size * size);
      // predict's probability map (16-bit PNG: ± 1/131070 of quantisation).
      const map = decodeImageBytes(Deno.readFileSync(recs[k].probabilityMap!), "map").data;
      assert.ok(maxDiff(lung, map) <= 1e-4 + 1 / 131070, `image ${k}: lung map differs by ${maxDiff(lung, map)}`);
      // The library's own float probabilities.
      const lib = await predictImage(m, decodeImageBytes(Deno.readFileSync(files[k]), files[k]));
      assert.ok(
        maxDiff(lung, lib.mask!) <= 1e-4,
        `image ${k}: lung differs from predictImage by ${maxDiff(lung, lib.mask!)}`,
      );
      const probs = Object.values(recs[k].probabilities!);
      const got = onnx.probs!.subarray(k * 2, k * 2 + 2);
      assert.ok(maxDiff(got, probs) <= 1e-4, `image ${k}: probabilities ${got} vs predict's ${probs}`);
    }
    assert.ok(maxDiff(onnx.lung!.subarray(0, size * size), onnx.lung!.subarray(size * size)) > 1e-3, "same outputs");
  } finally {
    m.dispose();
  }
  // The metadata, as ONNX metadata properties.
  // deno-lint-ignore no-explicit-any
  const proto = (onnxProto as any).onnx.ModelProto.decode(Deno.readFileSync(r.file));
  const props = Object.fromEntries(proto.metadataProps.map((p: { key: string; value: string }) => [p.key, p.value]));
  assert.equal(props.size, "32");
  assert.equal(props.normalize, "zscore");
  assert.deepEqual(JSON.parse(props.class_names), recs[0].probabilities ? Object.keys(recs[0].probabilities) : []);
  assert.equal(props.mask_threshold, "0.5");
  assert.equal(props.appaunet_version, "0.1.0");
  // A second export onto the same folder needs --overwrite; onto the checkpoint itself is refused.
  await assert.rejects(exportOnnx({ model, out }), /not empty.*--overwrite/);
  await assert.rejects(
    exportOnnx({ model, out: model, overwrite: true }),
    /is \(or holds\) the checkpoint being exported/,
  );
  assert.ok(Deno.statSync(path.join(model, "COMPLETE")).isFile, "the checkpoint was damaged");
});

Deno.test("export --format onnx: the shipped model (segmentor + image classifier, Platt calibration) in ONNX Runtime", async () => {
  const out = path.join(root, "pretrained-onnx");
  const r = await exportOnnx({ model: "pretrained", out });
  const m = await openModel("pretrained");
  try {
    const size = m.metadata.size;
    const img = Float32Array.from(
      { length: size * size },
      (_, i) => ((i % size) / size + Math.floor(i / size) / size) / 2,
    );
    const onnx = await runOnnx(r.file, [img], size);
    const lib = await predictImage(m, { width: size, height: size, data: img, format: "png", bitDepth: 16 });
    assert.ok(maxDiff(onnx.lung!, lib.mask!) <= 1e-4, `lung differs by ${maxDiff(onnx.lung!, lib.mask!)}`);
    const probs = Object.values(lib.probabilities!);
    assert.ok(maxDiff(onnx.probs!, probs) <= 1e-4, `probabilities ${onnx.probs} vs ${probs}`);
    assert.ok(m.metadata.calibration?.bias, "the shipped model is expected to carry a Platt calibration");
  } finally {
    m.dispose();
  }
});

Deno.test("export --format onnx: a CLAHE model is refused (the graph cannot express it), and the CLI checks its flags", async () => {
  const data = await writePhantomDataset(path.join(root, "data-c"), { count: 24, size: 32, seed: 8 });
  await train({
    ...tinyRunOptions(data, path.join(root, "clahe"), { mode: "seg", epochs: 1, clahe: true }),
    progress: "none",
  });
  await assert.rejects(
    exportOnnx({ model: path.join(root, "clahe", "checkpoints", "best"), out: path.join(root, "o2") }),
    /CLAHE/,
  );
  const cli = (args: string[]) => {
    const r = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "export", ...args],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    return { code: r.code, text: new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout) };
  };
  const bad = cli(["--model", "pretrained", "--out", path.join(root, "o3"), "--format", "onnyx"]);
  assert.equal(bad.code, 2);
  assert.match(bad.text, /--format: "onnyx" is not tfjs or onnx/);
  const mixed = cli([
    "--model",
    "pretrained",
    "--out",
    path.join(root, "o3"),
    "--format",
    "onnx",
    "--scores",
    "s.json",
  ]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.text, /--scores only apply to tfjs model folders/);
  const ok = cli(["--model", "pretrained", "--out", path.join(root, "o4"), "--format", "onnx"]);
  assert.equal(ok.code, 0, ok.text);
  assert.match(ok.text, /model\.onnx: image \[N, 1, 128, 128\] → lung \[N, 1, 128, 128\], probabilities \[N, 2\]/);
});
