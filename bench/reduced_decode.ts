// How much decoding JPEG 2000 at a reduced wavelet level (`minSide`, as `serve` and `predict --reduced-decode` do)
// moves the shipped model's predictions, against the full decode: real X-rays of a split (default val, 10 per source),
// enlarged (bilinear) to 1024² and stored as lossless JPEG 2000 by GDCM, at minSide = 1, 2 and 4 × the model's side.
// For scale, the same against the original 256² PNG (what the enlargement itself moves). The files stay in a temporary
// folder (never in the repository).
//
//   deno run -A bench/reduced_decode.ts [split=val] [per-source=10]
//
// Needs the real data (../shared/data/montgomery-shenzhen-cxr-256) and GDCM (apt-get install libgdcm-tools).
import * as path from "node:path";
import {
  decodeImageBytes,
  initBackend,
  loadDicomCodecs,
  openModel,
  predictImage,
  readManifest,
  resizeBilinear,
} from "../mod.ts";
import { dicomOfImage } from "../fixtures/loader_fixtures.ts";
import { REAL_DATA_CSV } from "../tests/webgpu_helper.ts";

const split = Deno.args[0] ?? "val";
const perSource = Number(Deno.args[1] ?? 10);
await initBackend({ backend: "cpu" });
await loadDicomCodecs({ codecs: ["jpeg-2000"] });
const m = await openModel("pretrained");
const rows = readManifest(REAL_DATA_CSV).rows.filter((r) => r.split === split);
const picked = ["montgomery", "shenzhen"].flatMap((s) => rows.filter((r) => r.source === s).slice(0, perSource));
const S = 1024, t = m.metadata.threshold;
const dice = (a: Float32Array, b: Float32Array) => {
  let both = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (both += +(a[i] >= t && b[i] >= t)), (na += +(a[i] >= t)), (nb += +(b[i] >= t));
  return (2 * both) / (na + nb);
};
const dir = await Deno.makeTempDir({ prefix: "appaunet-reduced-decode-" });
const stats: Record<string, { dp: number[]; dice: number[] }> = {};
try {
  for (const r of picked) {
    const img = decodeImageBytes(await Deno.readFile(r.image), r.image);
    const big = { ...img, width: S, height: S, data: resizeBilinear(img.data, img.width, img.height, S, S) };
    const raw = path.join(dir, "raw.dcm"), j2k = path.join(dir, "j2k.dcm");
    await Deno.writeFile(raw, dicomOfImage(big, 12));
    const g = new Deno.Command("gdcmconv", { args: ["--j2k", raw, j2k], stderr: "piped" }).outputSync();
    if (!g.success) throw new Error(`gdcmconv: ${new TextDecoder().decode(g.stderr)}`);
    const bytes = await Deno.readFile(j2k);
    const full = await predictImage(m, decodeImageBytes(bytes, "j2k.dcm"));
    const add = (k: string, p: typeof full) => {
      const s = (stats[k] ??= { dp: [], dice: [] });
      s.dp.push(Math.abs(p.probabilities![m.metadata.classNames[1]] - full.probabilities![m.metadata.classNames[1]]));
      s.dice.push(dice(p.mask!, full.mask!));
    };
    add("the 256² PNG (the enlargement itself)", await predictImage(m, img));
    for (const f of [1, 2, 4]) {
      add(
        `minSide ${f} × ${m.metadata.size}`,
        await predictImage(m, decodeImageBytes(bytes, "j2k.dcm", { minSide: f * m.metadata.size })),
      );
    }
  }
} finally {
  m.dispose();
  await Deno.remove(dir, { recursive: true });
}
console.log(
  `${picked.length} ${split} X-rays, 1024² lossless JPEG 2000, shipped ${m.metadata.size}² model, against the full decode`,
);
console.log(`| decoded | mean abs. change of p(${m.metadata.classNames[1]}) | max | min mask Dice | mean Dice |`);
console.log("| --- | --- | --- | --- | --- |");
for (const [k, v] of Object.entries(stats)) {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `| ${k} | ${mean(v.dp).toFixed(3)} | ${Math.max(...v.dp).toFixed(3)} | ${Math.min(...v.dice).toFixed(3)} | ${
      mean(v.dice).toFixed(3)
    } |`,
  );
}
