/**
 * Property tests of the decoders and the CSV parser on random and mutated bytes (fixed seed, time budget): every
 * input gives a valid image (or rows) or a DataError, never another exception, a non-finite pixel or a slow case.
 */
import assert from "node:assert/strict";
import { createRng, DataError, decodeImageBytes } from "../mod.ts";
import { parseCsvRecords } from "../lib/data/manifest.ts";
import { loaderFixtures } from "../fixtures/loader_fixtures.ts";

const BUDGET_MS = 4000; // per test; the cases run until the budget or the case count is reached
const SLOW_MS = 1500; // a single case slower than this fails (a hang in the making)

function mutate(rng: ReturnType<typeof createRng>, src: Uint8Array): Uint8Array {
  const kind = rng.int(6);
  let b = src.slice();
  if (kind === 0) {
    b = b.slice(0, rng.int(b.length + 1)); // truncate
  } else if (kind === 1) {
    for (let k = 0; k < 1 + rng.int(8); k++) b[rng.int(b.length)] ^= 1 << rng.int(8); // bit flips
  } else if (kind === 2) {
    for (let k = 0; k < 1 + rng.int(8); k++) b[rng.int(b.length)] = rng.int(256); // bytes
  } else if (kind === 3) {
    // A run of 0xff or 0x00 (lengths and sizes in headers).
    const at = rng.int(b.length), v = rng.int(2) ? 0xff : 0;
    for (let k = at; k < Math.min(b.length, at + 1 + rng.int(6)); k++) b[k] = v;
  } else if (kind === 4) {
    // Insert random bytes.
    const at = rng.int(b.length + 1), ins = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
    b = new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
  } else {
    b = Uint8Array.from({ length: rng.int(512) }, () => rng.int(256)); // random bytes
  }
  return b;
}

Deno.test("fuzz: PNG, JPEG and DICOM decoders give a valid image or a DataError on mutated and random bytes", () => {
  const seeds = loaderFixtures().filter((f) => f.expected).map((f) => f.bytes);
  const rng = createRng(20261204);
  const t0 = performance.now();
  let cases = 0, images = 0, errors = 0;
  while (performance.now() - t0 < BUDGET_MS && cases < 20000) {
    const input = mutate(rng, seeds[rng.int(seeds.length)]);
    const c0 = performance.now();
    try {
      const img = decodeImageBytes(input, "fuzz.bin", 4e6);
      assert.equal(img.data.length, img.width * img.height, `case ${cases}: plane size`);
      for (const v of img.data) assert.ok(Number.isFinite(v) && v >= -1e-6 && v <= 1 + 1e-6, `case ${cases}: ${v}`);
      images++;
    } catch (e) {
      if (!(e instanceof DataError)) {
        throw new Error(`case ${cases}: ${(e as Error).name}: ${(e as Error).message} (not a DataError)`);
      }
      errors++;
    }
    assert.ok(performance.now() - c0 < SLOW_MS, `case ${cases} took ${performance.now() - c0} ms`);
    cases++;
  }
  assert.ok(cases >= 200 && images > 0 && errors > 0, `${cases} cases: ${images} images, ${errors} errors`);
});

Deno.test("fuzz: the CSV parser gives records with line numbers or a DataError on random text", () => {
  const rng = createRng(7);
  const alphabet = ['"', ",", "\n", "\r", "a", "b", " ", "\ufeff", "é", "\t", '""'];
  const t0 = performance.now();
  let cases = 0, parsed = 0, errors = 0;
  while (performance.now() - t0 < BUDGET_MS && cases < 20000) {
    const text = Array.from({ length: rng.int(64) }, () => alphabet[rng.int(alphabet.length)]).join("");
    try {
      const recs = parseCsvRecords(text, "fuzz.csv");
      let last = 0;
      for (const r of recs) {
        assert.ok(r.line >= last && r.line >= 1, `case ${cases}: lines ${last} → ${r.line}`);
        assert.ok(r.fields.some((f) => f.trim() !== ""), `case ${cases}: blank record kept`);
        last = r.line;
      }
      parsed++;
    } catch (e) {
      if (!(e instanceof DataError)) throw new Error(`case ${cases}: ${(e as Error).message} (not a DataError)`);
      assert.match(e.message, /^fuzz\.csv(:\d+)?: malformed CSV/);
      errors++;
    }
    cases++;
  }
  assert.ok(cases >= 200 && parsed > 0 && errors > 0, `${cases} cases: ${parsed} parsed, ${errors} errors`);
});
