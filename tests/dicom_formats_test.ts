// DICOM as archives store it: synthetic X-rays written by our own code, re-encoded by the field's tools (dcmtk, GDCM)
// into each transfer syntax, then read by appaunet. Lossless syntaxes must give the uncompressed file's pixels exactly.
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  decodeImageBytes,
  initBackend,
  loadDicomCodecs,
  openModel,
  predict,
  predictImage,
  readManifest,
  resizeArea,
  resizeBilinear,
  TRANSFER_SYNTAXES,
  withDicomCodecs,
} from "../mod.ts";
import { REDUCED_DECODE } from "../lib/infer/predict_image.ts";
import { dicomOfImage, pgm12, writeDicom } from "../fixtures/loader_fixtures.ts";
import { DICOM_TOOLS, gatedTest, REAL_DATA, REAL_DATA_CSV } from "./webgpu_helper.ts";

const W = 96, H = 80;
/** A smooth 12-bit "chest" with texture, so that every codec has real work and lossy ones lose something. */
const px12 = Uint16Array.from({ length: W * H }, (_, i) => {
  const x = i % W, y = Math.floor(i / W);
  const lung = Math.hypot((x - W / 2) / (W / 3), (y - H / 2) / (H / 2.5)) < 1 ? 900 : 2600;
  return Math.min(4095, lung + ((x * 37 + y * 91 + ((x * y) % 13) * 29) % 700));
});
const px8 = Uint8Array.from(px12, (v) => v >> 4);
/** The 12-bit source as an uncompressed DICOM, in the given transfer syntax's pixel data when `pixels` is a codestream. */
const dicom12 = (pixels: Uint16Array | Uint8Array = px12, transferSyntax?: string) =>
  writeDicom({
    rows: H,
    cols: W,
    photometric: "MONOCHROME2",
    pixels,
    bitsAllocated: 16,
    bitsStored: 12,
    ...(transferSyntax ? { transferSyntax } : {}),
  });

function run(cmd: string, args: string[]): void {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
/** Pearson correlation (dcmcjpeg may remap the range before lossy coding, so the source is compared up to scale). */
function correlation(a: Float32Array, b: Float32Array): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length, mb = b.reduce((s, v) => s + v, 0) / b.length;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    (ab += (a[i] - ma) * (b[i] - mb)), (aa += (a[i] - ma) ** 2), (bb += (b[i] - mb) ** 2);
  }
  return ab / Math.sqrt(aa * bb);
}

gatedTest(
  "DICOM in every archive transfer syntax (dcmtk, GDCM): lossless ones decode pixel-identical, lossy ones close",
  [DICOM_TOOLS],
  async () => {
    await loadDicomCodecs();
    const dir = await Deno.makeTempDir({ prefix: "appaunet-dicom-" });
    try {
      const src12 = path.join(dir, "src12.dcm"), src8 = path.join(dir, "src8.dcm");
      const common = {
        rows: H,
        cols: W,
        photometric: "MONOCHROME2" as const,
        pixelSpacing: [0.4, 0.3] as [number, number],
      };
      await Deno.writeFile(src12, writeDicom({ ...common, pixels: px12, bitsAllocated: 16, bitsStored: 12 }));
      await Deno.writeFile(src8, writeDicom({ ...common, pixels: px8, bitsAllocated: 8, bitsStored: 8 }));
      const ref12 = decodeImageBytes(await Deno.readFile(src12), "src12.dcm");
      const ref8 = decodeImageBytes(await Deno.readFile(src8), "src8.dcm");
      const cases: { file: string; syntax: string; make: [string, string[]]; ref: typeof ref12; tol: number }[] = [
        { file: "implicit", syntax: "1.2.840.10008.1.2", make: ["dcmconv", ["+ti"]], ref: ref12, tol: 0 },
        { file: "bigendian", syntax: "1.2.840.10008.1.2.2", make: ["dcmconv", ["+tb"]], ref: ref12, tol: 0 },
        { file: "deflated", syntax: "1.2.840.10008.1.2.1.99", make: ["dcmconv", ["+td"]], ref: ref12, tol: 0 },
        { file: "rle", syntax: "1.2.840.10008.1.2.5", make: ["dcmcrle", []], ref: ref12, tol: 0 },
        { file: "rle8", syntax: "1.2.840.10008.1.2.5", make: ["dcmcrle", []], ref: ref8, tol: 0 },
        { file: "jpegll", syntax: "1.2.840.10008.1.2.4.57", make: ["dcmcjpeg", ["+el"]], ref: ref12, tol: 0 },
        { file: "jpegsv1", syntax: "1.2.840.10008.1.2.4.70", make: ["dcmcjpeg", ["+e1"]], ref: ref12, tol: 0 },
        { file: "jpegsv1_8", syntax: "1.2.840.10008.1.2.4.70", make: ["dcmcjpeg", ["+e1"]], ref: ref8, tol: 0 },
        { file: "jls", syntax: "1.2.840.10008.1.2.4.80", make: ["dcmcjpls", ["+el"]], ref: ref12, tol: 0 },
        {
          file: "jlsnear",
          syntax: "1.2.840.10008.1.2.4.81",
          make: ["dcmcjpls", ["+en", "+md", "2"]],
          ref: ref12,
          tol: 0.001,
        },
        { file: "j2k", syntax: "1.2.840.10008.1.2.4.90", make: ["gdcmconv", ["--j2k"]], ref: ref12, tol: 0 },
        {
          file: "j2klossy",
          syntax: "1.2.840.10008.1.2.4.91",
          make: ["gdcmconv", ["--j2k", "--lossy", "-q", "80"]],
          ref: ref12,
          tol: 0.01,
        },
        { file: "jpeg8", syntax: "1.2.840.10008.1.2.4.50", make: ["dcmcjpeg", ["+eb"]], ref: ref8, tol: 0.03 },
        // JPEG extended (process 2 & 4): 8-bit through libjpeg-turbo, 12-bit through dcmjs-codecs' 12-bit libjpeg.
        { file: "jpeg8ext", syntax: "1.2.840.10008.1.2.4.51", make: ["dcmcjpeg", ["+ee"]], ref: ref8, tol: 0.03 },
        { file: "jpeg12", syntax: "1.2.840.10008.1.2.4.51", make: ["dcmcjpeg", ["+ee"]], ref: ref12, tol: 0.01 },
      ];
      for (const c of cases) {
        const out = path.join(dir, `${c.file}.dcm`);
        const src = c.ref === ref8 ? src8 : src12;
        run(c.make[0], c.make[0] === "gdcmconv" ? [...c.make[1], src, out] : [...c.make[1], src, out]);
        const got = decodeImageBytes(await Deno.readFile(out), `${c.file}.dcm`);
        assert.equal(TRANSFER_SYNTAXES[c.syntax].lossless, c.tol === 0, `${c.file}: table says lossless wrongly`);
        assert.equal(got.width, W, c.file);
        assert.equal(got.height, H, c.file);
        assert.deepEqual(got.pixelSpacing, [0.4, 0.3], `${c.file}: pixel spacing`);
        const d = maxDiff(got.data, c.ref.data);
        if (c.tol === 0) assert.deepEqual(got.data, c.ref.data, `${c.file}: not pixel-identical (max diff ${d})`);
        else {
          // Lossy: what the field's own decoder makes of the same file, within one stored unit.
          const back = path.join(dir, `${c.file}.raw.dcm`);
          const [tool, args] = c.syntax.endsWith(".81")
            ? ["dcmdjpls", [out, back]]
            : c.syntax.endsWith(".91")
            ? ["gdcmconv", ["--raw", out, back]]
            : ["dcmdjpeg", [out, back]];
          run(tool, args);
          const theirs = decodeImageBytes(await Deno.readFile(back), `${c.file}.raw.dcm`);
          // In stored units (GDCM's raw output may declare other BitsStored than the source).
          const units = (img: typeof got) => Float32Array.from(img.data, (v) => v * (2 ** img.bitDepth - 1));
          const e = maxDiff(units(got), units(theirs));

          assert.ok(e <= 1.01, `${c.file}: differs from ${tool}'s decoding by ${e} stored units`);
          const r = correlation(got.data, c.ref.data);
          assert.ok(r >= 1 - c.tol, `${c.file}: correlation with the source ${r} < ${1 - c.tol}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("DICOM: MONOCHROME1 inverts, VOI LUT functions and the VOI LUT Sequence apply, multi-frame is refused", async () => {
  const { default: dcmjs } = await import("dcmjs");
  // deno-lint-ignore no-explicit-any
  const { DicomDict, DicomMetaDictionary } = (dcmjs as any).data;
  const pixels = Uint16Array.from({ length: 16 }, (_, i) => i * 200); // 0 … 3000
  const write = (extra: Record<string, unknown>) => {
    const meta = DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: "1.2.840.10008.5.1.4.1.1.1.1",
      MediaStorageSOPInstanceUID: "1.2.826.0.1.3680043.8.498.9",
      TransferSyntaxUID: "1.2.840.10008.1.2.1",
      ImplementationClassUID: "1.2.826.0.1.3680043.8.498.2",
    });
    const dict = new DicomDict(meta);
    dict.dict = DicomMetaDictionary.denaturalizeDataset({
      SOPClassUID: "1.2.840.10008.5.1.4.1.1.1.1",
      SOPInstanceUID: "1.2.826.0.1.3680043.8.498.9",
      Rows: 4,
      Columns: 4,
      BitsAllocated: 16,
      BitsStored: 12,
      HighBit: 11,
      PixelRepresentation: 0,
      SamplesPerPixel: 1,
      PhotometricInterpretation: "MONOCHROME2",
      PixelData: [pixels.buffer],
      _vrMap: { PixelData: "OW" },
      ...extra,
    });
    return new Uint8Array(dict.write());
  };
  const plain = decodeImageBytes(write({}), "plain.dcm").data;
  assert.ok(Math.abs(plain[15] - 3000 / 4095) < 1e-6);
  const mono1 = decodeImageBytes(write({ PhotometricInterpretation: "MONOCHROME1" }), "m1.dcm").data;
  assert.ok(Math.abs(mono1[15] - (1 - 3000 / 4095)) < 1e-6);
  const sig = decodeImageBytes(
    write({ WindowCenter: "1500", WindowWidth: "1000", VOILUTFunction: "SIGMOID" }),
    "sigmoid.dcm",
  ).data;
  assert.ok(Math.abs(sig[7] - 1 / (1 + Math.exp(-4 * (1400 - 1500) / 1000))) < 1e-6, `sigmoid: ${sig[7]}`);
  const exact = decodeImageBytes(
    write({ WindowCenter: "1500", WindowWidth: "1000", VOILUTFunction: "LINEAR_EXACT" }),
    "exact.dcm",
  ).data;
  assert.ok(Math.abs(exact[7] - ((1400 - 1500) / 1000 + 0.5)) < 1e-6);
  // A VOI LUT of 4096 8-bit entries mapping v → 255 − v/16 (an inverting LUT, so that it cannot be mistaken for the
  // full-range default).
  const lut = Uint16Array.from({ length: 4096 }, (_, v) => 255 - Math.floor(v / 16));
  const voi = decodeImageBytes(
    write({
      VOILUTSequence: [{ LUTDescriptor: [4096, 0, 8], LUTData: [lut.buffer], _vrMap: { LUTData: "OW" } }],
    }),
    "voilut.dcm",
  ).data;
  assert.ok(Math.abs(voi[5] - (255 - Math.floor(1000 / 16)) / 255) < 1e-6, `voi lut: ${voi[5]}`);
  assert.throws(
    () => decodeImageBytes(write({ NumberOfFrames: "2" }), "multi.dcm"),
    /multi\.dcm.*multi-frame.*dcm2pnm/s,
  );
});

gatedTest(
  "real X-rays as compressed DICOM (JPEG 2000, JPEG-LS, RLE lossless): predict gives exactly what it gives for the PNGs",
  [DICOM_TOOLS, REAL_DATA],
  async () => {
    await initBackend({ backend: "cpu" });
    const dir = await Deno.makeTempDir({ prefix: "appaunet-real-dicom-" });
    try {
      // Three test X-rays (one per codec, both sources), written by our code as 8-bit DICOM, re-encoded by GDCM and dcmtk. They stay
      // in the temporary folder (never in the repository).
      const rows = readManifest(REAL_DATA_CSV).rows.filter((r) => r.split === "test");
      const picked = [
        ...rows.filter((r) => r.source === "montgomery").slice(0, 1),
        ...rows.filter((r) => r.source === "shenzhen").slice(0, 2),
      ];
      const pngDir = path.join(dir, "png"), dcmDir = path.join(dir, "dcm");
      await Deno.mkdir(pngDir);
      await Deno.mkdir(dcmDir);
      for (const [i, r] of picked.entries()) {
        await Deno.copyFile(r.image, path.join(pngDir, `${r.id}.png`));
        const img = decodeImageBytes(await Deno.readFile(r.image), r.image);
        const raw = path.join(dir, `${r.id}.raw.dcm`);
        await Deno.writeFile(raw, dicomOfImage(img, 8));
        const [cmd, args] = [["gdcmconv", ["--j2k"]], ["dcmcjpls", []], ["dcmcrle", []]][i % 3] as [string, string[]];
        run(cmd, [...args, raw, path.join(dcmDir, `${r.id}.dcm`)]);
      }
      const fromPng = await predict({ model: "pretrained", inputs: [pngDir], out: path.join(dir, "p1") });
      const fromDicom = await predict({ model: "pretrained", inputs: [dcmDir], out: path.join(dir, "p2") });
      assert.equal(fromDicom.length, picked.length);
      for (const d of fromDicom) {
        const p = fromPng.find((x) => x.id === d.id)!;
        assert.deepEqual(d.probabilities, p.probabilities, `${d.id}: class probabilities differ`);
        assert.equal(d.lungFraction, p.lungFraction, `${d.id}: masks differ`);
        assert.deepEqual(await Deno.readFile(d.mask!), await Deno.readFile(p.mask!), `${d.id}: mask files differ`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gatedTest(
  "JPEG 2000 at a reduced resolution (minSide): the wavelet level asked for, the image's own size kept, the same picture",
  [DICOM_TOOLS],
  async () => {
    await loadDicomCodecs({ codecs: ["jpeg-2000", "jpeg-ls"] });
    const dir = await Deno.makeTempDir({ prefix: "appaunet-j2k-reduce-" });
    try {
      const w = 512, h = 384;
      const px = Uint16Array.from({ length: w * h }, (_, i) => {
        const x = i % w, y = Math.floor(i / w);
        return Math.round(2000 + 1500 * Math.sin(x / 40) * Math.cos(y / 30) + ((x * 7 + y * 13) % 50));
      });
      const src = path.join(dir, "src.dcm");
      await Deno.writeFile(
        src,
        writeDicom({
          rows: h,
          cols: w,
          photometric: "MONOCHROME2",
          pixels: px,
          bitsAllocated: 16,
          bitsStored: 12,
          pixelSpacing: [0.2, 0.2],
        }),
      );
      const full = decodeImageBytes(await Deno.readFile(src), "src.dcm");
      for (
        const [file, args] of [["j2k.dcm", ["--j2k"]], ["j2klossy.dcm", ["--j2k", "--lossy", "-q", "80"]]] as const
      ) {
        run("gdcmconv", [...args, src, path.join(dir, file)]);
        const bytes = await Deno.readFile(path.join(dir, file));
        // 512×384 → 256×192 (1/2) is the coarsest level with both sides ≥ 150; at 1/4 the height would be 96.
        const half = decodeImageBytes(bytes, file, { minSide: 150 });
        assert.deepEqual([half.width, half.height], [256, 192], file);
        assert.deepEqual(half.fullSize, { width: w, height: h }, file);
        assert.deepEqual(half.pixelSpacing, [0.2, 0.2], `${file}: spacing is the image's own`);
        const quarter = decodeImageBytes(bytes, file, { minSide: 96 });
        assert.deepEqual([quarter.width, quarter.height], [128, 96], file);
        // Without minSide, or when no coarser level is large enough: the full image.
        for (const opts of [{}, { minSide: 400 }]) {
          const f = decodeImageBytes(bytes, file, opts);
          assert.deepEqual([f.width, f.height, f.fullSize], [w, h, undefined], `${file} ${JSON.stringify(opts)}`);
        }
        // The same picture: the wavelet low band against the full decode area-averaged to that size.
        const area = resizeArea(full.data, w, h, 256, 192);
        const r = correlation(half.data, area);
        const mad = half.data.reduce((s, v, i) => s + Math.abs(v - area[i]), 0) / area.length;
        assert.ok(r > 0.999 && mad < 0.01, `${file}: correlation ${r}, mean abs diff ${mad}`);
      }
      // Other syntaxes ignore minSide.
      run("dcmcjpls", [src, path.join(dir, "jls.dcm")]);
      const jls = decodeImageBytes(await Deno.readFile(path.join(dir, "jls.dcm")), "jls.dcm", { minSide: 100 });
      assert.deepEqual([jls.width, jls.height, jls.fullSize], [w, h, undefined]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gatedTest(
  "real X-rays enlarged to 1024² as JPEG 2000: the reduced decode (serve, predict --reduced-decode) predicts what the full decode predicts",
  [DICOM_TOOLS, REAL_DATA],
  async () => {
    await initBackend({ backend: "cpu" });
    await loadDicomCodecs({ codecs: ["jpeg-2000"] });
    const dir = await Deno.makeTempDir({ prefix: "appaunet-real-j2k-" });
    const m = await openModel("pretrained");
    try {
      // Eight test X-rays (four per source), enlarged (bilinear) to the size archives hold, as lossless JPEG 2000. They
      // stay in the temporary folder.
      const rows = readManifest(REAL_DATA_CSV).rows.filter((r) => r.split === "test");
      const picked = [
        ...rows.filter((r) => r.source === "montgomery").slice(0, 4),
        ...rows.filter((r) => r.source === "shenzhen").slice(0, 4),
      ];
      const S = 1024, minSide = REDUCED_DECODE * m.metadata.size;
      let worstP = 0, worstDice = 1;
      const j2kDir = path.join(dir, "j2k"), reducedProbs = new Map<string, Record<string, number>>();
      await Deno.mkdir(j2kDir);
      for (const r of picked) {
        const img = decodeImageBytes(await Deno.readFile(r.image), r.image);
        const big = { ...img, width: S, height: S, data: resizeBilinear(img.data, img.width, img.height, S, S) };
        const raw = path.join(dir, "raw.dcm"), j2k = path.join(j2kDir, `${r.id}.dcm`);
        await Deno.writeFile(raw, dicomOfImage(big, 12));
        run("gdcmconv", ["--j2k", raw, j2k]);
        const bytes = await Deno.readFile(j2k);
        const reduced = decodeImageBytes(bytes, "j2k.dcm", { minSide });
        assert.ok(reduced.width < S && reduced.width >= minSide, `${r.id}: decoded at ${reduced.width}`);
        const a = await predictImage(m, decodeImageBytes(bytes, "j2k.dcm"));
        const b = await predictImage(m, reduced);
        reducedProbs.set(r.id, b.probabilities!);
        for (const c of Object.keys(a.probabilities!)) {
          worstP = Math.max(worstP, Math.abs(a.probabilities![c] - b.probabilities![c]));
        }
        let both = 0, na = 0, nb = 0;
        for (let i = 0; i < a.mask!.length; i++) {
          const x = a.mask![i] >= m.metadata.threshold, y = b.mask![i] >= m.metadata.threshold;
          (both += +(x && y)), (na += +x), (nb += +y);
        }
        worstDice = Math.min(worstDice, (2 * both) / (na + nb));
      }
      assert.ok(worstP <= 0.03, `class probabilities differ by up to ${worstP}`);
      assert.ok(worstDice >= 0.985, `masks agree with Dice ${worstDice} at worst`);
      // predict --reduced-decode: the same predictions; masks at the image's size, overlays at the decoded one.
      const recs = await predict({
        model: "pretrained",
        inputs: [j2kDir],
        out: path.join(dir, "pred"),
        reducedDecode: true,
      });
      assert.equal(recs.length, picked.length);
      for (const rec of recs) {
        for (const [c, p] of Object.entries(reducedProbs.get(rec.id)!)) {
          assert.ok(Math.abs(rec.probabilities![c] - p) < 1e-5, `${rec.id} ${c}: ${rec.probabilities![c]} vs ${p}`);
        }
        assert.deepEqual([rec.width, rec.height], [S, S]);
        const mask = decodeImageBytes(await Deno.readFile(rec.mask!), rec.mask!);
        const overlay = decodeImageBytes(await Deno.readFile(rec.overlay!), rec.overlay!);
        assert.deepEqual([mask.width, overlay.width], [S, S / 2], `${rec.id}: mask and overlay sizes`);
      }
      console.log(
        `reduced vs full decode over ${picked.length} X-rays: max |Δp| ${worstP.toFixed(4)}, min Dice ${
          worstDice.toFixed(4)
        }`,
      );
    } finally {
      m.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gatedTest(
  "each WebAssembly decoder loads when the first file needs it, and only that one; JPEG lossless has a fallback",
  [DICOM_TOOLS],
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "appaunet-lazy-codecs-" });
    try {
      const src = path.join(dir, "src.dcm"), jls = path.join(dir, "jls.dcm"), sv1 = path.join(dir, "sv1.dcm");
      await Deno.writeFile(src, dicom12());
      run("dcmcjpls", [src, jls]);
      run("dcmcjpeg", ["+e1", src, sv1]);
      const mod = new URL("../mod.ts", import.meta.url).href;
      const codecs = new URL("../lib/data/dicom_codecs.ts", import.meta.url).href;
      const pixels = new URL("../lib/data/dicom_pixels.ts", import.meta.url).href;
      /** Runs a script in a fresh process (nothing loaded yet) and returns the JSON its last line prints. */
      const fresh = async (script: string) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, script],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      };
      const read = (f: string) => `Deno.readFileSync(${JSON.stringify(f)})`;
      // Uncompressed, then JPEG-LS, then JPEG lossless, through withDicomCodecs.
      const r = await fresh(`
      import { decodeImageBytes, withDicomCodecs } from "${mod}";
      import { dicomCodecWasmFiles } from "${codecs}";
      const loaded = () => Object.keys(dicomCodecWasmFiles());
      await withDicomCodecs(() => decodeImageBytes(${read(src)}, "src.dcm"));
      const before = loaded();
      const img = await withDicomCodecs(() => decodeImageBytes(${read(jls)}, "jls.dcm"));
      const afterJls = loaded();
      await withDicomCodecs(() => decodeImageBytes(${read(sv1)}, "sv1.dcm"));
      console.log(JSON.stringify({ before, afterJls, afterSv1: loaded(), width: img.width }));`);
      assert.deepEqual(r.before, [], "an uncompressed file loaded a decoder");
      assert.equal(r.afterJls.length, 1, `loaded: ${r.afterJls}`);
      assert.match(r.afterJls[0], /charls/i);
      assert.equal(r.width, W);
      assert.ok(
        r.afterSv1.includes("dcmjs-native-codecs.wasm"),
        `JPEG lossless did not load IJG libjpeg: ${r.afterSv1}`,
      );
      // Where IJG libjpeg cannot load, JPEG lossless still decodes (pure JavaScript), to the same pixels.
      const f = await fresh(`
      import { decodeImageBytes } from "${mod}";
      import { dicomCodecFailed } from "${pixels}";
      dicomCodecFailed("ijg", "no WebAssembly here");
      const a = decodeImageBytes(${read(sv1)}, "sv1.dcm").data, b = decodeImageBytes(${read(src)}, "src.dcm").data;
      console.log(JSON.stringify({ same: a.every((v, i) => v === b[i]) }));`);
      assert.equal(f.same, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** The samples of a 16-bit big-endian PGM (what `ojph_expand` writes). */
function pgmSamples(b: Uint8Array, n: number): Uint16Array {
  const start = b.length - 2 * n;
  return Uint16Array.from({ length: n }, (_, i) => (b[start + 2 * i] << 8) | b[start + 2 * i + 1]);
}

gatedTest(
  "HTJ2K DICOM (OpenJPH's ojph_compress): lossless decodes pixel-identical, lossy equals ojph_expand, reduced levels work",
  [DICOM_TOOLS],
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "appaunet-htj2k-" });
    try {
      const src = path.join(dir, "src.dcm"), pgm = path.join(dir, "src.pgm");
      await Deno.writeFile(src, dicom12());
      await Deno.writeFile(pgm, pgm12(px12, W, H));
      const ref = decodeImageBytes(await Deno.readFile(src), "src.dcm");
      const cases = [
        { syntax: "1.2.840.10008.1.2.4.201", args: ["-reversible", "true", "-prog_order", "LRCP"] },
        { syntax: "1.2.840.10008.1.2.4.202", args: ["-reversible", "true", "-prog_order", "RPCL"] },
        { syntax: "1.2.840.10008.1.2.4.203", args: ["-qstep", "0.002"] },
      ];
      for (const c of cases) {
        const j2c = path.join(dir, `${c.syntax}.j2c`);
        run("ojph_compress", ["-i", pgm, "-o", j2c, ...c.args]);
        // The codestream encapsulated in a DICOM of that syntax (dcmjs writes the fragments).
        const file = `${c.syntax}.dcm`;
        const bytes = dicom12(await Deno.readFile(j2c), c.syntax);
        const got = await withDicomCodecs(() => decodeImageBytes(bytes, file));
        assert.equal(TRANSFER_SYNTAXES[c.syntax].encoding, "htj2k");
        if (TRANSFER_SYNTAXES[c.syntax].lossless) assert.deepEqual(got.data, ref.data, `${file}: not pixel-identical`);
        else {
          // Lossy: what OpenJPH's own command line decodes from the same codestream, exactly.
          const back = path.join(dir, `${c.syntax}.pgm`);
          run("ojph_expand", ["-i", j2c, "-o", back]);
          const theirs = pgmSamples(await Deno.readFile(back), W * H);
          const ours = Float32Array.from(got.data, (v) => Math.round(v * 4095));
          assert.deepEqual(ours, Float32Array.from(theirs), `${file}: differs from ojph_expand`);
          assert.ok(correlation(got.data, ref.data) > 0.99, `${file}: far from the source`);
        }
        // ojph_compress makes 5 wavelet levels: 96×80 → 48×40 is the coarsest with both sides ≥ 40.
        const half = decodeImageBytes(bytes, file, { minSide: 40 });
        assert.deepEqual([half.width, half.height, half.fullSize], [48, 40, { width: W, height: H }], file);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
