import assert from "node:assert/strict";
import * as path from "node:path";
import { main } from "../cli.ts";
import { capture } from "./capture.ts";
import { gatedTest, WEBGPU } from "./webgpu_helper.ts";
import { APPAUNET_VERSION, encodeGrayPng, initBackend, loadMask, prepareDataset, readManifest } from "../mod.ts";
import { SOFTWARE_SUBMIT_BATCH_SIZE } from "../lib/runtime/backend.ts";

Deno.test("CLI: --help everywhere, unknown flags and commands are errors with exit code 2", async () => {
  for (const cmd of ["info", "demo", "prepare", "train", "eval", "predict"]) {
    const r = await capture(() => main([cmd, "--help"]));
    assert.equal(r.code, 0, cmd);
    assert.match(r.text, new RegExp(`usage: cli\\.ts ${cmd}`));
  }
  const bad = await capture(() => main(["train", "--data", "x.csv", "--out", "r", "--bogus"]));
  assert.equal(bad.code, 2);
  assert.match(bad.text, /Unknown option '--bogus'/);
  const ver = await capture(() => main(["--version"]));
  assert.equal(ver.code, 0);
  assert.match(
    ver.text,
    new RegExp(`^appaunet ${APPAUNET_VERSION.replaceAll(".", "\\.")} \\(deno \\S+, tfjs 4\\.22\\.0\\)$`),
  );
  for (const cmd of ["experiments", "results", "export"]) {
    const r = await capture(() => main([cmd, "--help"]));
    assert.equal(r.code, 0, cmd);
    assert.match(r.text, new RegExp(`usage: cli\\.ts ${cmd}`));
  }
  const unknown = await capture(() => main(["fly"]));
  assert.equal(unknown.code, 2);
  assert.match(unknown.text, /unknown command "fly"/);
  const num = await capture(() =>
    main(["train", "--data", "x.csv", "--out", "r", "--epochs", "many", "--backend", "cpu"])
  );
  assert.equal(num.code, 2);
  assert.match(num.text, /--epochs: "many" is not a decimal number/);
  // Number() would read these as 32, 12 and ∞.
  for (const v of ["0x20", " 12", "Infinity"]) {
    const r = await capture(() => main(["train", "--data", "x.csv", "--out", "r", "--size", v, "--backend", "cpu"]));
    assert.equal(r.code, 2, v);
    assert.match(r.text, /--size: ".*" is not a decimal number/);
  }
  const progress = await capture(() =>
    main(["train", "--data", "x.csv", "--out", "r", "--progress", "foo", "--backend", "cpu"])
  );
  assert.equal(progress.code, 2);
  assert.match(progress.text, /--progress: "foo" is not auto, bar, lines or none/);
});

Deno.test("CLI: missing manifest is one clear line, exit 1, no stack trace", async () => {
  const r = await capture(() =>
    main(["train", "--data", "/nonexistent/m.csv", "--out", "/tmp/appaunet-r", "--backend", "cpu"])
  );
  assert.equal(r.code, 1);
  assert.match(r.text, /error: \/nonexistent\/m\.csv: manifest not found; pass the path of a CSV/);
  assert.ok(!r.text.includes("    at "), "no stack trace");
});

gatedTest(
  "CLI: info on webgpu names the adapter, the dispatches per queue submission and the kernel target in effect",
  [WEBGPU],
  async () => {
    const r = await capture(() => main(["info"]));
    assert.equal(r.code, 0);
    assert.match(r.text, /backend\s+webgpu/);
    assert.match(r.text, /submit batch (\d+) dispatches per queue submission/);
    const n = Number(r.text.match(/submit batch (\d+)/)![1]);
    assert.equal(n, r.text.includes("· software") ? SOFTWARE_SUBMIT_BATCH_SIZE : 15);
    const target = r.text.includes("· software") ? "software adapter" : "GPU";
    assert.match(r.text, new RegExp(`kernels\\s+fast .*; chosen for a ${target}\\)`));
    await initBackend({ backend: "cpu" });
  },
);

Deno.test("CLI: info on the cpu backend", async () => {
  const r = await capture(() => main(["info", "--backend", "cpu"]));
  assert.equal(r.code, 0);
  assert.match(r.text, /backend\s+cpu/);
  assert.match(r.text, /tfjs 4\.22\.0/);
});

Deno.test("prepare: Montgomery-style folders (left + right masks OR-ed, labels from _0/_1) → manifest", async () => {
  const src = await Deno.makeTempDir();
  for (const d of ["CXR_png", "leftMask", "rightMask"]) await Deno.mkdir(path.join(src, d));
  const size = 16;
  const half = (left: boolean) =>
    Float32Array.from({ length: size * size }, (_, i) => ((i % size < size / 2) === left ? 1 : 0));
  for (const id of ["MCUCXR_0001_0", "MCUCXR_0002_1", "MCUCXR_0003_1", "MCUCXR_0004_0"]) {
    await Deno.writeFile(
      path.join(src, "CXR_png", `${id}.png`),
      encodeGrayPng(new Float32Array(size * size).fill(0.4), size, size),
    );
    await Deno.writeFile(path.join(src, "leftMask", `${id}.png`), encodeGrayPng(half(true), size, size));
    await Deno.writeFile(path.join(src, "rightMask", `${id}.png`), encodeGrayPng(half(false), size, size));
  }
  const out = path.join(src, "out");
  const r = await capture(() =>
    main([
      "prepare",
      "--images",
      path.join(src, "CXR_png"),
      "--masks",
      `${path.join(src, "leftMask")},${path.join(src, "rightMask")}`,
      "--out",
      out,
      "--size",
      "8",
    ])
  );
  assert.equal(r.code, 0, r.text);
  const m = readManifest(path.join(out, "manifest.csv"));
  assert.equal(m.rows.length, 4);
  assert.deepEqual(m.rows.map((x) => x.label), [0, 1, 1, 0]);
  assert.deepEqual(m.classNames, ["normal", "tb"]);
  const mask = loadMask(m.rows[0].masks);
  assert.equal(mask.length, 64);
  assert.ok(mask.every((v) => v === 1), "left ∪ right covers the image");
  await Deno.writeFile(path.join(src, "CXR_png", "nolabel.png"), encodeGrayPng(new Float32Array(4), 2, 2));
  await assert.rejects(
    () => prepareDataset({ images: path.join(src, "CXR_png"), out }),
    /nolabel\.png: name does not end in "_0" or "_1"/,
  );
  await Deno.remove(path.join(src, "CXR_png", "nolabel.png"));
  // An --out that is a file: the OS error is translated, and no manifest is written.
  const fileOut = path.join(src, "a-file");
  await Deno.writeTextFile(fileOut, "x");
  await assert.rejects(
    () => prepareDataset({ images: path.join(src, "CXR_png"), out: fileOut }),
    /--out .*a-file: cannot create the output folder \(a part of the path is a file\); choose a folder path/,
  );
  assert.equal(await Deno.readTextFile(fileOut), "x");
});
