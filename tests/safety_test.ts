import assert from "node:assert/strict";
import { trainingTestHooks } from "../lib/train/training_run.ts";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  classificationMetrics,
  DataError,
  decodeImageBytes,
  DEFAULT_INPUT_LIMITS,
  encodeGrayPng,
  initBackend,
  loadCheckpoint,
  loadCheckpointModel,
  loadImage,
  meanStd,
  NonFiniteError,
  predict,
  readManifest,
  resolveTrainOptions,
  rocAuc,
  setInputLimits,
  train,
  type TrainOptions,
  writePhantomDataset,
} from "../mod.ts";
import { claimRunFolder, LOCK_FILE } from "../lib/train/run_folder.ts";
import { writeDicom } from "../fixtures/loader_fixtures.ts";
import { encode as encodePng } from "fast-png";
import { tinyRunOptions } from "./run_options.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-safety-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 9 });
const base = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions =>
  tinyRunOptions(data, path.join(root, out), { overlays: 0, ...extra });
const lines = async (f: string) => (await Deno.readTextFile(f)).split("\n").filter(Boolean);

Deno.test("metrics refuse non-finite inputs instead of returning a number", () => {
  assert.throws(() => rocAuc([0.1, NaN, 0.3, 0.9], [0, 0, 1, 1]), /rocAuc: scores\[1\] is NaN/);
  assert.throws(() => meanStd([0.9, Infinity]), /meanStd: values\[1\] is Infinity/);
  assert.throws(() => classificationMetrics([[0.5, 0.5], [NaN, NaN]], [0, 1]), /probs\[1\]\[0\] is NaN|probs\[1\]/);
  assert.throws(() => classificationMetrics([[0.5, 0.5]], [2]), /labels\[0\] = 2 is not a class index/);
  assert.equal(rocAuc([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1]), 1);
});

Deno.test("DICOM decoding rejects a zero or unparseable rescale and impossible bit depths, naming the tag", () => {
  const px = new Uint16Array(16).map((_, i) => i * 100);
  const dcm = (o: Partial<Parameters<typeof writeDicom>[0]>) =>
    writeDicom({ rows: 4, cols: 4, pixels: px, bitsAllocated: 16, bitsStored: 12, photometric: "MONOCHROME2", ...o });
  const bad = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(() => decodeImageBytes(bytes, "x.dcm"), (e: Error) => e instanceof DataError && re.test(e.message));
  bad(dcm({ slope: 0 }), /x\.dcm: RescaleSlope \(0028,1053\) is 0/);
  bad(dcm({ bitsStored: 17 }), /BitsStored \(0028,0101\) is 17 with BitsAllocated 16/);
  const ok = decodeImageBytes(dcm({ slope: 2, intercept: -5 }), "x.dcm");
  assert.ok(ok.data.every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
});

Deno.test("NaN guard: a run that diverges stops with an error naming epoch and step; checkpoints keep epoch 1", async () => {
  const out = path.join(root, "nan");
  let poisoned = 0;
  await assert.rejects(
    train({
      ...base("nan", { epochs: 3 }),
      progress: "none",
      // Epoch 1 has 5 steps (20 train phantoms, batch 4): poison a weight of S during epoch 2.
      onStep: (step, models) => {
        if (step !== 7) return;
        const w = models.segmentor!.trainableWeights[0].read() as tf.Variable;
        w.assign(tf.fill(w.shape, NaN));
        poisoned = step;
      },
    }),
    (e: Error) =>
      e instanceof NonFiniteError &&
      /epoch 2, step \d+\/\d+ \(global step \d+\): the \w+ loss is NaN; training stopped/.test(e.message) &&
      /checkpoints\/last holds epoch 1/.test(e.message) && /likely causes: a learning rate too high/.test(e.message),
  );
  assert.equal(poisoned, 7);
  for (const name of ["last", "best", "best-cls"]) {
    const dir = path.join(out, "checkpoints", name);
    assert.equal((await loadCheckpoint(dir)).state.epoch, 1, name);
    (await loadCheckpointModel(dir, "segmentor")).dispose(); // refuses non-finite weights
  }
  assert.equal((await lines(path.join(out, "metrics.jsonl"))).length, 1);
  assert.equal(await Deno.stat(path.join(out, LOCK_FILE)).then(() => true, () => false), false, "lock released");
});

Deno.test("checkpoints with non-finite weights or optimizer state are refused on load, naming the file", async () => {
  await train({ ...base("damaged", { epochs: 1 }), progress: "none" });
  const last = path.join(root, "damaged", "checkpoints", "last");
  const bin = path.join(last, "optimizer_s.bin");
  const bytes = await Deno.readFile(bin);
  new Float32Array(bytes.buffer, 0, 4).fill(NaN);
  await Deno.writeFile(bin, bytes);
  await assert.rejects(
    train({ resume: path.join(root, "damaged"), epochs: 2, progress: "none" }),
    /optimizer s\): weight "[^"]+" holds NaN; the checkpoint is damaged/,
  );
  const wbin = path.join(last, "segmentor", "weights.bin");
  const w = await Deno.readFile(wbin);
  new Float32Array(w.buffer, 0, 1).fill(Infinity);
  await Deno.writeFile(wbin, w);
  await assert.rejects(loadCheckpointModel(last, "segmentor"), /segmentor: weight "[^"]+" holds Infinity/);
});

Deno.test("run folders are owned: another run, a non-run folder and a held lock are refused; --overwrite replaces", async () => {
  const out = path.join(root, "owned");
  await train({ ...base("owned", { epochs: 1 }), progress: "none" });
  const before = await Deno.readTextFile(path.join(out, "config.json"));
  await assert.rejects(
    train({ ...base("owned", { epochs: 1, seed: 4 }), progress: "none" }),
    /--out .*owned: holds another run; continue it with --resume .*owned, choose a new --out, or pass --overwrite/,
  );
  assert.equal(await Deno.readTextFile(path.join(out, "config.json")), before, "the earlier run is untouched");
  // A failing run with --overwrite (bad data) leaves the earlier run as it was.
  await assert.rejects(
    train({ ...base("owned", { epochs: 1 }), data: path.join(root, "missing.csv"), overwrite: true, progress: "none" }),
    /missing\.csv/,
  );
  assert.equal(await Deno.readTextFile(path.join(out, "config.json")), before);
  const r = await train({ ...base("owned", { epochs: 1, seed: 4 }), overwrite: true, progress: "none" });
  assert.equal(r.config.seed, 4);
  assert.equal((await lines(path.join(out, "metrics.jsonl"))).length, 1);
  // Not a run, not empty: refused even with --overwrite.
  const other = path.join(root, "other");
  await Deno.mkdir(other);
  await Deno.writeTextFile(path.join(other, "notes.txt"), "mine");
  await assert.rejects(
    train({ ...base("other"), overwrite: true, progress: "none" }),
    /other: the folder is not empty and holds no run \(notes\.txt\); choose a new or empty folder/,
  );
  // A second process's lock keeps a run out; a dead process's lock is replaced.
  const lock = await claimRunFolder(out, { resume: true });
  await assert.rejects(
    train({ resume: out, epochs: 2, progress: "none" }),
    /another appaunet process \(pid \d+ on .*\) is using this run folder/,
  );
  await lock.release();
  await Deno.writeTextFile(
    path.join(out, LOCK_FILE),
    JSON.stringify({ pid: 2 ** 22 + 12345, hostname: Deno.hostname(), startedAt: "x" }),
  );
  if (Deno.build.os === "linux") {
    const again = await claimRunFolder(out, { resume: true });
    await again.release();
  }
});

Deno.test("resume: --out elsewhere and fewer epochs than done are errors; metrics.jsonl has one line per epoch after a crash", async () => {
  const out = path.join(root, "resume");
  trainingTestHooks.crashCheckpointAfterEpoch = { epoch: 2, at: "writing" };
  try {
    await assert.rejects(train({ ...base("resume", { epochs: 2 }), progress: "none" }), /simulated crash/);
  } finally {
    trainingTestHooks.crashCheckpointAfterEpoch = undefined;
  }
  // The crash came after epoch 2's metrics line but before its checkpoint: 2 lines, checkpoint of epoch 1.
  assert.equal((await lines(path.join(out, "metrics.jsonl"))).length, 2);
  await assert.rejects(
    train({ resume: out, out: path.join(root, "elsewhere"), progress: "none" }),
    /resume \(--resume .*\) with out \(--out .*elsewhere\): a resumed run stays in its folder/,
  );
  await assert.rejects(
    train({ resume: out, epochs: 0, progress: "none" }),
    /epochs \(--epochs 0\): the run has done 1 epoch/,
  );
  await train({ resume: out, epochs: 3, progress: "none" });
  const recs = (await lines(path.join(out, "metrics.jsonl"))).map((l) => JSON.parse(l).epoch);
  assert.deepEqual(recs, [1, 2, 3]);
});

Deno.test("predict: reads every input before writing, --skip-bad lists what it left out, one file name gives distinct ids, earlier results survive a failed call", async () => {
  await train({ ...base("pred-model", { epochs: 1 }), progress: "none" });
  const model = path.join(root, "pred-model", "checkpoints", "best");
  const src = (await Deno.readTextFile(data)).split("\n")[1].split(",")[1];
  const img = path.resolve(path.dirname(data), src);
  const dir = path.join(root, "pred-in");
  for (const d of ["a", "b"]) {
    await Deno.mkdir(path.join(dir, d), { recursive: true });
    await Deno.copyFile(img, path.join(dir, d, "x.png"));
  }
  const bad = path.join(dir, "bad.png");
  await Deno.writeFile(bad, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  const out = path.join(root, "pred-out");
  const good = await predict({ model, out, inputs: [path.join(dir, "a", "x.png"), path.join(dir, "b", "x.png")] });
  assert.deepEqual(good.map((r) => r.id), ["x", "x-2"]);
  const jsonl = path.join(out, "predictions.jsonl");
  const before = await Deno.readTextFile(jsonl);
  assert.equal(before.trim().split("\n").length, 2);
  await assert.rejects(
    predict({ model, out, inputs: [path.join(dir, "a", "x.png"), bad] }),
    (e: Error) => e instanceof DataError && e.message.includes("bad.png"),
  );
  assert.equal(await Deno.readTextFile(jsonl), before, "the earlier results are intact");
  const skipped = await predict({ model, out, inputs: [bad, path.join(dir, "a", "x.png")], skipBad: true });
  assert.equal(skipped.length, 1);
  assert.equal(skipped.skipped?.length, 1);
  assert.match(skipped.skipped![0].file, /bad\.png$/);
  // Geometry no chest X-ray has is refused before anything is written (and skipped with --skip-bad).
  const dot = path.join(dir, "dot.png"), strip = path.join(dir, "strip.png");
  await Deno.writeFile(dot, encodeGrayPng(new Float32Array(1).fill(0.5), 1, 1));
  await Deno.writeFile(strip, encodeGrayPng(new Float32Array(400 * 20).fill(0.5), 400, 20));
  await assert.rejects(predict({ model, out, inputs: [dot] }), /dot\.png: image is 1×1 pixels, too small/);
  await assert.rejects(predict({ model, out, inputs: [strip] }), /strip\.png: image is 400×20 pixels, more than 4:1/);
  const some = await predict({ model, out, inputs: [dot, strip, path.join(dir, "a", "x.png")], skipBad: true });
  assert.deepEqual([some.length, some.skipped?.length], [1, 2]);
});

Deno.test("manifest ids that cannot name a file, and duplicate ids, are errors naming the line(s)", async () => {
  const dir = await Deno.makeTempDir({ dir: root });
  await Deno.writeFile(path.join(dir, "a.png"), new Uint8Array(0));
  const csv = path.join(dir, "m.csv");
  const bad = async (body: string, re: RegExp) => {
    await Deno.writeTextFile(csv, `id,image\n${body}`);
    assert.throws(() => readManifest(csv), (e: Error) => e instanceof DataError && re.test(e.message));
  };
  await bad("../../x,a.png\n", /m\.csv:2: id "\.\.\/\.\.\/x" cannot name a file/);
  await bad("a\\b,a.png\n", /m\.csv:2: id "a\\\\b" cannot name a file/);
  await bad("..,a.png\n", /cannot name a file/);
  await bad("p1,a.png\np2,a.png\np1,a.png\n", /m\.csv:4: id "p1" is also the id of line 2/);
  await Deno.writeTextFile(csv, "image\na.png\n");
  assert.equal(readManifest(csv).rows[0].id, "a");
});

Deno.test("inputs have limits: FIFOs, devices and folders are refused without reading; links may not leave the dataset; headers over the pixel limit are refused before decoding", async () => {
  const dir = await Deno.makeTempDir({ dir: root });
  const png = encodeGrayPng(new Float32Array(16).fill(0.5), 4, 4);
  await Deno.writeFile(path.join(dir, "ok.png"), png);
  const notRegular = (p: string, re: RegExp) =>
    assert.throws(() => loadImage(p, { size: 4 }), (e: Error) => e instanceof DataError && re.test(e.message));
  if (Deno.build.os === "linux") {
    const fifo = path.join(dir, "fifo.png");
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    notRegular(fifo, /fifo\.png: not a regular file \(a FIFO, socket or device\)/);
    await Deno.symlink("/dev/zero", path.join(dir, "zero.png"));
    notRegular(path.join(dir, "zero.png"), /zero\.png: not a regular file/);
  }
  notRegular(dir, /not a regular file \(a folder\)/);
  // A PNG whose header declares 30000 × 30000 pixels (its data is 4 × 4): refused from the header.
  const huge = png.slice();
  const v = new DataView(huge.buffer);
  v.setUint32(16, 30000);
  v.setUint32(20, 30000);
  await Deno.writeFile(path.join(dir, "huge.png"), huge);
  notRegular(path.join(dir, "huge.png"), /declares 30000×30000 pixels, more than the limit of 64 million/);
  setInputLimits({ maxFileBytes: 10 });
  try {
    notRegular(path.join(dir, "ok.png"), /MiB, more than the limit of 0 MiB/);
  } finally {
    setInputLimits(DEFAULT_INPUT_LIMITS);
  }
  // A link inside the dataset folder that leads outside it.
  const ds = path.join(dir, "ds");
  await Deno.mkdir(ds);
  await Deno.symlink(path.join(dir, "ok.png"), path.join(ds, "link.png"));
  await Deno.writeTextFile(path.join(ds, "m.csv"), "image\nlink.png\n");
  assert.throws(
    () => readManifest(path.join(ds, "m.csv")),
    /m\.csv:2: path "link\.png" is a link to .*ok\.png, outside/,
  );
  // --size has an upper bound with a memory estimate.
  assert.throws(
    () => resolveTrainOptions({ data: "m.csv", out: "r", size: 4096 }),
    /size \(--size\): at most 1024, got 4096 \(the cached images and masks alone take 128 MiB per image/,
  );
});

Deno.test("1-, 2- and 4-bit grayscale PNGs decode to the right values", () => {
  for (const depth of [1, 2, 4]) {
    const w = 5, h = 3, max = (1 << depth) - 1, rowBytes = Math.ceil((w * depth) / 8);
    const packed = new Uint8Array(rowBytes * h);
    const want: number[] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const val = (x + 2 * y) % (max + 1);
        want.push(val / max);
        const bit = x * depth;
        packed[y * rowBytes + (bit >> 3)] |= val << (8 - depth - (bit & 7));
      }
    }
    const bytes = encodePng({ width: w, height: h, data: packed, depth: depth as 8, channels: 1 });
    const img = decodeImageBytes(bytes, `d${depth}.png`);
    assert.deepEqual(
      Array.from(img.data).map((x) => Math.round(x * 1000) / 1000),
      want.map((x) => Math.round(x * 1000) / 1000),
      `depth ${depth}`,
    );
  }
});

Deno.test("manifest: malformed CSV, wrong encoding and unknown labels are errors with the line (and a did-you-mean)", async () => {
  const dir = await Deno.makeTempDir({ dir: root });
  await Deno.writeFile(path.join(dir, "a.png"), new Uint8Array(0));
  const csv = path.join(dir, "m.csv");
  const bad = async (body: string | Uint8Array, re: RegExp) => {
    if (typeof body === "string") await Deno.writeTextFile(csv, body);
    else await Deno.writeFile(csv, body);
    assert.throws(() => readManifest(csv), (e: Error) => e instanceof DataError && re.test(e.message));
  };
  await bad('image,label\na.png,"tb\n', /m\.csv:\d+: malformed CSV \(Quote Not Closed/);
  await bad('image,label\na.png,t"b\n', /m\.csv:2: malformed CSV/);
  await bad(
    new Uint8Array([...new TextEncoder().encode("image,label\na.png,1\n"), 0xc3, 0x28, 10]),
    /m\.csv:3: not UTF-8/,
  );
  await bad(new Uint8Array([0xff, 0xfe, 0x69, 0]), /UTF-16/);
  await bad(
    "image,label,label_name\na.png,1,tb\na.png,0,normal\na.png,1,normal\n",
    /m\.csv:4: label 1 has label_name "normal" here but "tb" on line 2/,
  );
  await bad(
    "image,label\na.png,tb\na.png,normal\na.png,TB\n",
    /m\.csv:(2|4): label "(TB|tb)" differs from the label "(tb|TB)" only in case/,
  );
  await Deno.writeTextFile(csv, "image,label\na.png,tb\n");
  assert.throws(
    () => readManifest(csv, { classNames: ["normal", "tb"] }) && readManifest(csv, { classNames: ["normal", "TB "] }),
    /label "tb" is not a class name \(normal, TB \); did you mean "TB "\?/,
  );
  await Deno.writeTextFile(csv, "\ufeffimage,label\r\n\r\na.png,normal\r\n");
  const m = readManifest(csv, { classNames: ["normal", "tb"] });
  assert.equal(m.rows[0].label, 0);
  assert.equal(m.rows[0].line, 3);
});

Deno.test("a batch that cannot fit in memory is refused before anything runs, with the largest that fits", () => {
  assert.throws(
    () => resolveTrainOptions({ data: "m.csv", out: "r", size: 256, batchSize: 5000 }),
    /batchSize \(--batch-size\): 5000 images of 256² need about 3750 GiB of activations; use at most 21/,
  );
  resolveTrainOptions({ data: "m.csv", out: "r", size: 256, batchSize: 8 });
});

Deno.test("loss weights: a negative λ is refused naming the option and its flag; λ_unsup defaults to 1", () => {
  assert.equal(resolveTrainOptions({ data: "m.csv", out: "r" }).lambdaUnsup, 1);
  assert.equal(resolveTrainOptions({ data: "m.csv", out: "r", lambdaUnsup: 0 }).lambdaUnsup, 0);
  for (const key of ["lambdaSeg", "lambdaAdv", "lambdaUnsup"] as const) {
    assert.throws(
      () => resolveTrainOptions({ data: "m.csv", out: "r", [key]: -0.5 }),
      /lambdaSeg \(--lambda-seg\), lambdaAdv \(--lambda-adv\) and lambdaUnsup \(--lambda-unsup\): must be ≥ 0/,
      key,
    );
  }
  assert.throws(
    () => resolveTrainOptions({ data: "m.csv", out: "r", tverskyAlpha: 0, tverskyBeta: 0 }),
    /tverskyAlpha \(--tversky-alpha\) and tverskyBeta \(--tversky-beta\): must be ≥ 0 and not both 0, got 0, 0/,
  );
  assert.throws(
    () => resolveTrainOptions({ data: "m.csv", out: "r", tverskyBeta: -1 }),
    /tverskyBeta \(--tversky-beta\)/,
  );
});

Deno.test("the Tversky weights and λ_unsup reach the training losses; losses without those terms ignore them", async () => {
  const firstLosses = async (out: string, extra: Partial<TrainOptions>) => {
    const r = await train({ ...base(out, { epochs: 1, ...extra }), progress: "none" });
    return r.history[0].losses;
  };
  const seg = { mode: "seg" as const };
  const tv = await firstLosses("tv-default", { ...seg, loss: "tversky" });
  const tvBalanced = await firstLosses("tv-balanced", { ...seg, loss: "tversky", tverskyAlpha: 0.5, tverskyBeta: 0.5 });
  assert.notEqual(tv.seg, tvBalanced.seg);
  const xe = await firstLosses("xe-default", { ...seg, loss: "xe" });
  const xeWithWeights = await firstLosses("xe-weights", { ...seg, loss: "xe", tverskyAlpha: 0.5, tverskyBeta: 0.5 });
  assert.equal(xe.seg, xeWithWeights.seg);
  // λ_unsup 0: D's total is its supervised term alone (the real and fake terms are still reported).
  const mtl = await firstLosses("mtl-unsup0", { lambdaUnsup: 0 });
  assert.equal(mtl.d, mtl.dSup);
  assert.ok(mtl.dReal > 0 && mtl.dFake > 0);
  const mtlDefault = await firstLosses("mtl-unsup1", {});
  assert.ok(mtlDefault.d > mtlDefault.dSup + 0.1);
});

Deno.test("a run that stopped before its first checkpoint: --resume says so, a new run reuses the folder", async () => {
  const out = path.join(root, "unsaved");
  await train({ ...base("unsaved", { epochs: 1 }), progress: "none" });
  await Deno.remove(path.join(out, "checkpoints"), { recursive: true }); // as if it died during epoch 1
  await assert.rejects(
    train({ resume: out, progress: "none" }),
    /stopped before its first checkpoint, so there is nothing to resume; start it again with --out/,
  );
  const r = await train({ ...base("unsaved", { epochs: 1, seed: 5 }), progress: "none" });
  assert.equal(r.config.seed, 5);
});

Deno.test("resume refuses an edited config.json instead of ignoring the edit", async () => {
  const out = path.join(root, "edited");
  await train({ ...base("edited", { epochs: 1 }), progress: "none" });
  const file = path.join(out, "config.json");
  const c = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(file, JSON.stringify({ ...c, lr: 0.5 }));
  await assert.rejects(
    train({ resume: out, epochs: 2, progress: "none" }),
    /config\.json was edited \(lr: 0\.001 → 0\.5\)/,
  );
  await Deno.writeTextFile(file, "{ not json");
  await assert.rejects(train({ resume: out, epochs: 2, progress: "none" }), /config\.json is not valid JSON/);
});

Deno.test("one class among the labeled train images is an error naming the manifest and the class", async () => {
  const dir = path.join(root, "oneclass");
  const csv = await writePhantomDataset(dir, { count: 12, size: 32, seed: 1 });
  const rows = (await Deno.readTextFile(csv)).trim().split("\n");
  const header = rows[0].split(","), il = header.indexOf("label"), iname = header.indexOf("label_name");
  const one = rows.slice(1).map((r) => {
    const f = r.split(",");
    f[il] = "0";
    if (iname >= 0) f[iname] = "";
    return f.join(",");
  });
  await Deno.writeTextFile(csv, [rows[0], ...one].join("\n") + "\n");
  await assert.rejects(
    train({ ...tinyRunOptions(csv, path.join(root, "oneclass-run"), { epochs: 1 }), progress: "none" }),
    /every labeled train image is class "0"; a classifier needs at least two classes/,
  );
});

Deno.test("a manifest's file name in the other Unicode normalization (NFC vs NFD) is found", async () => {
  const dir = path.join(root, "nfd");
  await Deno.mkdir(dir, { recursive: true });
  const nfd = "Ro\u0308ntgen.png", nfc = nfd.normalize("NFC");
  assert.notEqual(nfd, nfc);
  await Deno.writeFile(path.join(dir, nfd), encodeGrayPng(new Float32Array(32 * 32).fill(0.5), 32, 32));
  const img = loadImage(path.join(dir, nfc), { size: 32 });
  assert.equal(img.length, 32 * 32);
});

Deno.test("a label typo deep in a manifest is reported on its own line with a did-you-mean, not taken as a class", async () => {
  const dir = path.join(root, "typo");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(path.join(dir, "a.png"), encodeGrayPng(new Float32Array(32 * 32).fill(0.5), 32, 32));
  const rows = ["id,image,label"];
  for (let i = 0; i < 400; i++) rows.push(`r${i},a.png,${i % 2 ? "tb" : "normal"}`);
  rows[378] = "r377,a.png,tbb"; // line 379
  await Deno.writeTextFile(path.join(dir, "m.csv"), rows.join("\n") + "\n");
  assert.throws(
    () => readManifest(path.join(dir, "m.csv")),
    /m\.csv:379: label "tbb" appears on this row only; did you mean "tb" \(199 rows\)\?/,
  );
});
