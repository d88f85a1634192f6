// Decoding a 2048 × 2048 12-bit chest-X-ray-sized DICOM in each compressed transfer syntax, against the shipped
// model's own inference on the decoded image (resize + S + classifier), as `predict` and `serve` run them. JPEG 2000
// and HTJ2K also at the reduced resolution `serve` decodes them at (REDUCED_DECODE × the model's side), and for a
// 256² model.
//
//   deno run -A bench/dicom_decode.ts [backend=webgpu] [runs=5]
//
// Needs dcmtk, GDCM and OpenJPH's tools (apt-get install dcmtk libgdcm-tools openjph-tools) to build the files.
// Prints a Markdown table.
import * as path from "node:path";
import { decodeImageBytes, initBackend, loadDicomCodecs, openModel, predictImage } from "../mod.ts";
import { pgm12, writeDicom } from "../fixtures/loader_fixtures.ts";
import { createRng } from "../lib/data/rng.ts";
import { REDUCED_DECODE } from "../lib/infer/predict_image.ts";

const backend = (Deno.args[0] ?? "webgpu") as "webgpu" | "cpu";
const runs = Number(Deno.args[1] ?? 5);
const N = 2048;
await initBackend({ backend });
await loadDicomCodecs();

// A synthetic X-ray: two dark lung fields in a bright body, smooth gradients and detector noise (σ ≈ 20 of 4095), so
// that the codecs see realistic entropy. Made by our own code; no patient data.
const rng = createRng(1);
const px = new Uint16Array(N * N);
for (let y = 0; y < N; y++) {
  for (let x = 0; x < N; x++) {
    const l = Math.hypot((x - 0.32 * N) / (0.15 * N), (y - 0.5 * N) / (0.3 * N)) < 1;
    const r = Math.hypot((x - 0.68 * N) / (0.15 * N), (y - 0.5 * N) / (0.3 * N)) < 1;
    const base = l || r ? 900 + 300 * Math.sin(y / 40) : 2600 + 400 * Math.cos(x / 300);
    const noise = rng.normal() * 20;
    px[y * N + x] = Math.max(0, Math.min(4095, Math.round(base + noise)));
  }
}
const dir = await Deno.makeTempDir({ prefix: "appaunet-dicom-bench-" });
const src = path.join(dir, "src.dcm");
await Deno.writeFile(
  src,
  writeDicom({ rows: N, cols: N, pixels: px, bitsAllocated: 16, bitsStored: 12, photometric: "MONOCHROME2" }),
);
const cases: [string, string, string[]][] = [
  ["explicit VR little endian (uncompressed)", "", []],
  ["RLE lossless", "dcmcrle", []],
  ["JPEG extended, 12-bit (process 4; dcmcjpeg quality 90)", "dcmcjpeg", ["+ee"]],
  ["JPEG lossless (process 14, SV1)", "dcmcjpeg", ["+e1"]],
  ["JPEG-LS lossless", "dcmcjpls", ["+el"]],
  ["JPEG-LS near-lossless (±2)", "dcmcjpls", ["+en", "+md", "2"]],
  ["JPEG 2000 lossless", "gdcmconv", ["--j2k"]],
  ["JPEG 2000 lossy (GDCM -q 80)", "gdcmconv", ["--j2k", "--lossy", "-q", "80"]],
  ["HTJ2K lossless (ojph_compress, RPCL)", "ojph_compress", ["-reversible", "true"]],
];
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = await openModel("pretrained");
const rows: string[] = [];
let reducedImage: ReturnType<typeof decodeImageBytes> | undefined;
for (const [name, cmd, args] of cases) {
  const file = cmd ? path.join(dir, `${cmd}-${args.join("")}.dcm`) : src;
  if (cmd === "ojph_compress") {
    // OpenJPH writes a bare codestream from a PGM; dcmjs encapsulates it as HTJ2K Lossless RPCL.
    const pgm = path.join(dir, "src.pgm"), j2c = path.join(dir, "src.j2c");
    await Deno.writeFile(pgm, pgm12(px, N, N));
    const r = new Deno.Command(cmd, { args: ["-i", pgm, "-o", j2c, ...args], stdout: "null", stderr: "null" })
      .outputSync();
    if (!r.success) throw new Error(`${cmd} failed`);
    const pixels = await Deno.readFile(j2c);
    await Deno.writeFile(
      file,
      writeDicom({
        rows: N,
        cols: N,
        pixels,
        bitsAllocated: 16,
        bitsStored: 12,
        photometric: "MONOCHROME2",
        transferSyntax: "1.2.840.10008.1.2.4.202",
      }),
    );
  } else if (cmd) {
    const r = new Deno.Command(cmd, { args: [...args, src, file], stdout: "null", stderr: "null" }).outputSync();
    if (!r.success) throw new Error(`${cmd} failed`);
  }
  const bytes = await Deno.readFile(file);
  const time = (minSide: number) => {
    const ms: number[] = [];
    let img;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      img = decodeImageBytes(bytes, file, { minSide });
      ms.push(performance.now() - t0);
    }
    return { ms: median(ms), img: img! };
  };
  rows.push(`| ${name} | ${(bytes.length / 2 ** 20).toFixed(2)} MiB | ${time(0).ms.toFixed(0)} ms |`);
  if (cmd === "gdcmconv" || cmd === "ojph_compress") {
    for (const side of [m.metadata.size, 256]) {
      const t = time(REDUCED_DECODE * side);
      if (side === m.metadata.size) reducedImage = t.img;
      rows.push(
        `| … as \`serve\` decodes it for a ${side}² model (at ${t.img.width}², minSide ${REDUCED_DECODE * side}) | | ${
          t.ms.toFixed(0)
        } ms |`,
      );
    }
  }
}
const img = decodeImageBytes(await Deno.readFile(src), "src.dcm");
const inference = async (image: typeof img) => {
  await predictImage(m, image); // first call: shader compiles
  const inf: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await predictImage(m, image);
    inf.push(performance.now() - t0);
  }
  return median(inf);
};
const infFull = await inference(img);
const infReduced = reducedImage ? await inference(reducedImage) : NaN;
m.dispose();
await Deno.remove(dir, { recursive: true });
console.log(`| ${N} × ${N}, 12-bit | file | decode (median of ${runs}) |`);
console.log("| --- | --- | --- |");
for (const r of rows) console.log(r);
console.log(
  `| shipped model's inference on it (${backend}: resize to ${m.metadata.size}², S, classifier) | | ${
    infFull.toFixed(0)
  } ms |`,
);
console.log(`| … on the reduced JPEG 2000 plane (${reducedImage?.width}²) | | ${infReduced.toFixed(0)} ms |`);
