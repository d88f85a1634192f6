import assert from "node:assert/strict";
import * as path from "node:path";
import {
  augmentPair,
  createDataset,
  createRng,
  DataError,
  decodeImageBytes,
  demoManifest,
  encodeGrayPng,
  generatePhantoms,
  initBackend,
  loadImage,
  loadMask,
  readManifest,
  resizeArea,
  resizeMaskNearest,
  writePhantomDataset,
} from "../mod.ts";
import { stratifiedKeep, stratifiedSplit } from "../lib/data/dataset.ts";
import { loaderFixtures } from "../fixtures/loader_fixtures.ts";
import { PHANTOM_FIXTURE } from "../fixtures/generate.ts";
import { gatedTest, REAL_DATA, REAL_DATA_CSV } from "./webgpu_helper.ts";

await initBackend({ backend: "cpu" });
const FIX = path.join(import.meta.dirname!, "..", "fixtures");
const LOADERS = path.join(FIX, "loaders");

Deno.test("checked-in loader fixtures equal the generator's bytes", () => {
  for (const f of loaderFixtures()) {
    const onDisk = Deno.readFileSync(path.join(LOADERS, f.name));
    assert.deepEqual(onDisk, f.bytes, `${f.name} differs from the generator: run deno task fixtures`);
  }
});

Deno.test("every loader fixture decodes to its pixel values or fails with its message", () => {
  let decoded = 0, failed = 0;
  for (const f of loaderFixtures()) {
    const file = path.join(LOADERS, f.name);
    if (f.error) {
      assert.throws(
        () => loadImage(file),
        (e: Error) => e instanceof DataError && f.error!.test(e.message) && e.message.includes(file),
      );
      failed++;
    } else if (f.expected) {
      const img = loadImage(file);
      assert.equal(img.length, f.expected.length, f.name);
      const tol = f.tolerance ?? 1e-6;
      for (let i = 0; i < img.length; i++) {
        assert.ok(Math.abs(img[i] - f.expected[i]) <= tol, `${f.name}[${i}]: ${img[i]} vs ${f.expected[i]}`);
      }
      decoded++;
    }
  }
  assert.ok(decoded >= 10 && failed >= 4);
});

Deno.test("missing file and a non-square image without size give clear errors", () => {
  assert.throws(() => loadImage("/nonexistent/x.png"), /x\.png: file not found; check the path/);
  const p = Deno.makeTempFileSync({ suffix: ".png" });
  Deno.writeFileSync(p, encodeGrayPng(new Float32Array(8), 4, 2));
  assert.throws(() => loadImage(p), /not square; pass a size/);
  assert.equal(loadImage(p, { size: 2 }).length, 4);
});

Deno.test("masks: binarized, OR of parts, non-binary and size mismatch rejected", () => {
  const good = path.join(LOADERS, "mask_good.png"), left = path.join(LOADERS, "mask_left.png");
  const m = loadMask(good);
  assert.ok(m.every((v) => v === 0 || v === 1));
  assert.equal(m.reduce((a, b) => a + b, 0), 32);
  const both = loadMask([good, left]);
  for (let i = 0; i < 64; i++) assert.equal(both[i], (i % 8) < 6 ? 1 : 0);
  assert.throws(() => loadMask(path.join(LOADERS, "gray8.png")), /not a binary mask/);
  assert.throws(
    () => loadMask(path.join(LOADERS, "mask_small.png"), { expectSize: { width: 8, height: 8, image: "img.png" } }),
    /mask is 4×4 but its image img\.png is 8×8/,
  );
});

Deno.test("resize: area averaging is exact, masks nearest + threshold", () => {
  const src = Float32Array.from({ length: 16 }, (_, i) => i);
  const out = resizeArea(src, 4, 4, 2, 2);
  assert.deepEqual(Array.from(out), [2.5, 4.5, 10.5, 12.5]);
  // 3 → 2 (non-integer ratio): first output covers 1.5 pixels.
  const r = resizeArea(new Float32Array([0, 3, 6]), 3, 1, 2, 1);
  assert.ok(Math.abs(r[0] - 1) < 1e-6 && Math.abs(r[1] - 5) < 1e-6);
  // constant image stays constant under any ratio
  const c = resizeArea(new Float32Array(49).fill(0.3), 7, 7, 5, 5);
  assert.ok(c.every((v) => Math.abs(v - 0.3) < 1e-6));
  const m = resizeMaskNearest(Float32Array.from([0, 1, 0.6, 0.4]), 2, 2, 4, 4);
  assert.deepEqual(Array.from(m.slice(0, 4)), [0, 0, 1, 1]);
  assert.deepEqual(Array.from(m.slice(12, 16)), [1, 1, 0, 0]);
});

Deno.test("augmentation keeps image and mask aligned", () => {
  const size = 48;
  // Image = 0.8 exactly where the mask is 1, 0.2 elsewhere: after any geometric transform they must agree.
  const mask = new Float32Array(size * size);
  for (let y = 10; y < 30; y++) for (let x = 14; x < 40; x++) mask[y * size + x] = 1;
  const image = mask.map((v) => (v ? 0.8 : 0.2));
  for (let k = 0; k < 5; k++) {
    const a = augmentPair(image, mask, size, createRng(7, k), {
      rotation: 10,
      shift: 0.08,
      zoom: 0.1,
      brightness: 0,
      contrast: 0,
    });
    let agree = 0, moved = 0;
    for (let i = 0; i < size * size; i++) {
      if ((a.image[i] > 0.5) === (a.mask![i] === 1)) agree++;
      if (a.mask![i] !== mask[i]) moved++;
    }
    assert.ok(agree / (size * size) > 0.97, `alignment ${agree / (size * size)}`);
    assert.ok(moved > 0, "the transform did something");
  }
  // Same seed → same output.
  const a1 = augmentPair(image, mask, size, createRng(3), {}), a2 = augmentPair(image, mask, size, createRng(3), {});
  assert.deepEqual(a1.image, a2.image);
});

Deno.test("stratified split and fraction knobs are stratified and deterministic", () => {
  const rows = Array.from({ length: 200 }, (_, i) => ({ label: i % 2, masks: i % 10 === 0 ? [] : ["m"] }));
  const s1 = stratifiedSplit(rows, 5), s2 = stratifiedSplit(rows, 5), s3 = stratifiedSplit(rows, 6);
  assert.deepEqual(s1, s2);
  assert.notDeepEqual(s1, s3);
  for (const label of [0, 1]) {
    const n = s1.filter((s, i) => s === "train" && rows[i].label === label).length;
    assert.equal(n, Math.round(0.7 * 90) + Math.round(0.7 * 10));
  }
  const items = Array.from({ length: 100 }, (_, i) => (i < 80 ? "a" : "b"));
  const keep = stratifiedKeep(items, (x) => x, 0.25, 1);
  assert.equal([...keep].filter((i) => items[i] === "a").length, 20);
  assert.equal([...keep].filter((i) => items[i] === "b").length, 5);
  assert.deepEqual(keep, stratifiedKeep(items, (x) => x, 0.25, 1));
});

Deno.test("phantom fixture set equals the generator and loads with the right pixels", async () => {
  const m = readManifest(path.join(FIX, "phantoms", "manifest.csv"));
  assert.equal(m.rows.length, PHANTOM_FIXTURE.count);
  assert.deepEqual(m.classNames, ["normal", "opacity"]);
  const gen = generatePhantoms(PHANTOM_FIXTURE);
  for (const k of [0, 17, 239]) {
    const row = m.rows[k], p = gen[k];
    assert.equal(row.id, p.id);
    assert.equal(row.label, p.label);
    const img = loadImage(row.image);
    for (let i = 0; i < img.length; i++) assert.ok(Math.abs(img[i] - p.image[i]) <= 0.5 / 255 + 1e-6);
    if (p.maskPublished) assert.deepEqual(loadMask(row.masks), p.mask);
    else assert.equal(row.masks.length, 0);
  }
  const ds = await createDataset(m, { size: 32, classLabelFraction: 0.25, maskFraction: 0.5, seed: 3 });
  const part = ds.partition();
  const train = ds.split("train").samples;
  assert.equal(part.labeled.length + part.maskOnly.length + part.unlabeled.length, train.length);
  const trueLabel = new Map(gen.map((g) => [g.id, g.label]));
  for (const c of [0, 1]) {
    const inClass = train.filter((s) => trueLabel.get(s.id) === c).length;
    const kept = part.labeled.filter((s) => s.label === c).length;
    assert.equal(kept, Math.round(0.25 * inClass), `class ${c}: stratified label keep`);
  }
  assert.ok(part.unlabeled.length > 0 && part.maskOnly.length > 0);
  for (const c of [0, 1]) {
    const withMask = train.filter((s) => trueLabel.get(s.id) === c && (s.mask !== null || s.hidden.mask)).length;
    const kept = train.filter((s) => trueLabel.get(s.id) === c && s.mask !== null).length;
    assert.equal(kept, Math.round(0.5 * withMask), `class ${c}: stratified mask keep`);
  }
  // val/test keep everything
  assert.ok(ds.split("val").samples.every((s) => s.label !== null));
  // deterministic
  const ds2 = await createDataset(m, { size: 32, classLabelFraction: 0.25, maskFraction: 0.5, seed: 3 });
  assert.deepEqual(ds2.partition().labeled.map((s) => s.id), part.labeled.map((s) => s.id));
});

Deno.test("batches have fixed shapes, pad/wrap correctly and are seeded", async () => {
  const dir = await Deno.makeTempDir();
  const csv = await writePhantomDataset(dir, { count: 30, size: 32, noMaskFraction: 0.2 });
  const ds = await createDataset(readManifest(csv), { size: 32 });
  const train = ds.split("train");
  const bs = 4;
  let n = 0;
  const order1: string[] = [];
  for (const b of train.batches({ batchSize: bs, shuffle: true, seed: 1, augment: true })) {
    assert.deepEqual(b.images.shape, [bs, 32, 32, 1]);
    assert.deepEqual(b.masks.shape, [bs, 32, 32, 1]);
    assert.deepEqual((await b.valid.data()).every((v) => v === 1), true);
    order1.push(...b.ids);
    b.dispose();
    n++;
  }
  assert.equal(n, Math.ceil(train.size / bs));
  assert.deepEqual(new Set(order1).size, train.size, "every sample seen once per epoch (wrap fills the last batch)");
  const order2: string[] = [];
  for (const b of train.batches({ batchSize: bs, shuffle: true, seed: 1 })) {
    order2.push(...b.ids);
    b.dispose();
  }
  assert.deepEqual(order2, order1);
  const val = ds.split("val");
  let valid = 0;
  for (const b of val.batches({ batchSize: bs })) {
    valid += Array.from(await b.valid.data()).reduce((a, c) => a + c, 0);
    const hm = await b.hasMask.data(), masks = await b.masks.data();
    for (let k = 0; k < bs; k++) if (!hm[k]) assert.ok(masks.slice(k * 1024, (k + 1) * 1024).every((v) => v === 0));
    b.dispose();
  }
  assert.equal(valid, val.size, "padding is marked invalid");
});

Deno.test("manifest errors: missing column, bad label, bad split, escaping path, empty split, skip-bad", async () => {
  const dir = await Deno.makeTempDir();
  const w = (name: string, text: string) => {
    Deno.writeTextFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  assert.throws(() => readManifest(w("a.csv", "file,label\nx.png,0\n")), /no "image" column/);
  assert.throws(
    () => readManifest(w("b.csv", "image,label\nx.png,7\n")),
    /b\.csv:2: label "7" is out of range for 2 classes/,
  );
  assert.throws(() => readManifest(w("c.csv", "image,split\nx.png,training\n")), /unknown split "training"/);
  assert.throws(() => readManifest(w("d.csv", "image\n../../etc/passwd\n")), /escapes the dataset folder/);
  assert.throws(() => readManifest(path.join(dir, "nope.csv")), /nope\.csv: manifest not found/);
  Deno.writeFileSync(path.join(dir, "ok.png"), encodeGrayPng(new Float32Array(64).fill(0.5), 8, 8));
  Deno.writeFileSync(path.join(dir, "bad.png"), new Uint8Array(0));
  const m = readManifest(w("e.csv", "id,image,label,split\na,ok.png,0,train\nb,bad.png,1,train\nc,ok.png,1,val\n"));
  await assert.rejects(() => createDataset(m, { size: 8 }), /bad\.png: file is empty/);
  const ds = await createDataset(m, { size: 8, skipBad: true });
  assert.equal(ds.skipped.length, 1);
  assert.equal(ds.split("train").size, 1);
  assert.throws(() => ds.split("test"), /split "test" is empty/);
  await assert.rejects(() => createDataset(m, { size: 8, maskFraction: 2 }), /maskFraction: must be in \[0, 1\]/);
});

Deno.test("decodeImageBytes names the file on failure", () => {
  assert.throws(
    () => decodeImageBytes(new Uint8Array([1, 2, 3]), "scan.xyz"),
    /^DataError: scan\.xyz: unsupported format|scan\.xyz: unsupported format/,
  );
});

const REAL = REAL_DATA_CSV;
gatedTest(
  "real Montgomery/Shenzhen manifest reads as is",
  [REAL_DATA],
  async () => {
    const m = readManifest(REAL);
    assert.equal(m.rows.length, 800);
    assert.deepEqual(m.classNames, ["normal", "tb"]);
    assert.equal(m.rows.filter((r) => r.masks.length).length, 704);
    assert.equal(m.rows.filter((r) => r.split === "train").length, 560);
    const ds = await createDataset(m, { size: 64, splits: ["val"] });
    const val = ds.split("val");
    assert.equal(val.size, 120);
    assert.equal(val.samples.filter((s) => s.mask).length, 106);
    const frac = val.samples.filter((s) => s.mask).map((s) => s.mask!.reduce((a, b) => a + b, 0) / 4096);
    assert.ok(frac.every((f) => f > 0.05 && f < 0.5), "lung fractions are plausible at 64²");
  },
);

Deno.test("demoManifest: the checkout's phantoms when present, else the same phantoms generated once into the cache", async () => {
  const cache = await Deno.makeTempDir();
  const saved = Deno.env.get("APPAUNET_CACHE_DIR");
  Deno.env.set("APPAUNET_CACHE_DIR", cache);
  try {
    const local = await demoManifest();
    assert.match(local, /fixtures[\\/]phantoms[\\/]manifest\.csv$/);
    const said: string[] = [];
    const generated = await demoManifest(path.join(cache, "missing.csv"), (l) => said.push(l));
    assert.equal(generated, path.join(cache, "demo-phantoms-v2", "manifest.csv"));
    assert.match(said[0], /generated the demo's 240 synthetic phantoms/);
    // Identical to the bundled set: the same manifest and the same image bytes.
    assert.equal(await Deno.readTextFile(generated), await Deno.readTextFile(local));
    const img = "images/phantom_0007_" + (await Deno.readTextFile(local)).split("\n")[8].split(",")[0].slice(-1) +
      ".png";
    assert.deepEqual(
      await Deno.readFile(path.join(path.dirname(generated), img)),
      await Deno.readFile(path.join(path.dirname(local), img)),
    );
    const again: string[] = [];
    assert.equal(await demoManifest(path.join(cache, "missing.csv"), (l) => again.push(l)), generated);
    assert.equal(again.length, 0, "generated once");
  } finally {
    if (saved === undefined) Deno.env.delete("APPAUNET_CACHE_DIR");
    else Deno.env.set("APPAUNET_CACHE_DIR", saved);
    await Deno.remove(cache, { recursive: true });
  }
});
