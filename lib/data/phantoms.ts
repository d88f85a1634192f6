/**
 * Synthetic chest X-ray phantoms with exact lung masks, for fixtures, the demo and tests. Nothing here is
 * derived from real patient data.
 *
 * A phantom: dark background, an elliptical body of soft tissue, two lung fields (tapered super-ellipses, the
 * left one notched by the heart), a spine, curved rib bands, low-frequency texture and Gaussian noise. Class 1
 * ("disease") adds 1–4 diffuse bright consolidations inside the lungs (Gaussian blobs, radius 20–35 % of the body's
 * half-width, brightness +0.2 to +0.35). The mask is the lung fields. Smaller nodules (e.g. `radius: [0.05, 0.11]`,
 * as before 2026-12) look like the rib and tissue edges around them: with the demo's 168 training images even a
 * supervised classifier stays at chance on them after 20 epochs, while these consolidations are learned in a few.
 *
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, createFolderAtomically, exists } from "../io/fs.ts";
import { encodeGrayPng } from "../io/png.ts";
import { stratifiedSplit } from "./dataset.ts";
import { createRng } from "./rng.ts";

/** Options for {@linkcode generatePhantoms}. */
export interface PhantomOptions {
  /** Number of phantoms. Default 240. */
  count?: number;
  /** Side length in pixels. Default 64. */
  size?: number;
  /** Seed. Default 42. */
  seed?: number;
  /** Share of class-1 (opacities) phantoms. Default 0.5. */
  diseaseFraction?: number;
  /** Share of phantoms written without a mask (as the 96 Shenzhen images). Default 0.1. */
  noMaskFraction?: number;
  /**
   * Size of the class-1 opacities: radius range (share of the body's half-width) and brightness range. Default
   * `{ radius: [0.2, 0.35], amplitude: [0.2, 0.35] }`.
   */
  opacity?: { radius?: [number, number]; amplitude?: [number, number] };
}

/** One phantom. */
export interface Phantom {
  /** e.g. `"phantom_0007_1"` (suffix = class). */
  id: string;
  /** `size × size` image in [0, 1]. */
  image: Float32Array;
  /** Exact binary lung mask. */
  mask: Float32Array;
  /** 0 = normal, 1 = opacities. */
  label: 0 | 1;
  /** Whether the written dataset includes the mask. */
  maskPublished: boolean;
}

/**
 * Generates deterministic phantoms (same options → same pixels).
 *
 * @example
 * ```ts
 * import { generatePhantoms } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const [p] = generatePhantoms({ count: 1, size: 32 });
 * assert.equal(p.image.length, 32 * 32);
 * assert.ok(p.mask.some((v) => v === 1));
 * ```
 * @param opts count, size, seed, class balance
 * @returns the phantoms
 */
export function generatePhantoms(opts: PhantomOptions = {}): Phantom[] {
  const count = opts.count ?? 240, size = opts.size ?? 64, seed = opts.seed ?? 42;
  const diseased = Math.round((opts.diseaseFraction ?? 0.5) * count);
  const labels = createRng(seed, 1).shuffle(Array.from({ length: count }, (_, i) => (i < diseased ? 1 : 0) as 0 | 1));
  const noMask = new Set(
    createRng(seed, 2).shuffle([...Array(count).keys()]).slice(0, Math.round((opts.noMaskFraction ?? 0.1) * count)),
  );
  return labels.map((label, i) => ({
    id: `phantom_${String(i).padStart(4, "0")}_${label}`,
    ...renderPhantom(size, label, createRng(seed, 1000 + i), opts.opacity),
    label,
    maskPublished: !noMask.has(i),
  }));
}

function renderPhantom(
  size: number,
  label: 0 | 1,
  rng: ReturnType<typeof createRng>,
  opacity: PhantomOptions["opacity"] = {},
) {
  const [r0, r1] = opacity.radius ?? [0.2, 0.35], [a0, a1] = opacity.amplitude ?? [0.2, 0.35];
  const image = new Float32Array(size * size), mask = new Float32Array(size * size);
  const scale = rng.uniform(0.92, 1.08), sx = rng.uniform(-0.05, 0.05), sy = rng.uniform(-0.05, 0.05);
  const lungA = rng.uniform(0.23, 0.29), lungB = rng.uniform(0.5, 0.6), gap = rng.uniform(0.34, 0.42);
  const tissue = rng.uniform(0.5, 0.62), air = rng.uniform(0.15, 0.25);
  const ribPhase = rng.uniform(0, 1), ribFreq = rng.uniform(4.5, 5.5);
  const texture = Array.from(
    { length: 3 },
    () => ({ fx: rng.uniform(1, 4), fy: rng.uniform(1, 4), ph: rng.uniform(0, 6.3) }),
  );
  const lungs = [
    { cx: -gap, cy: -0.02, a: lungA, b: lungB },
    { cx: gap, cy: -0.02, a: lungA * 0.95, b: lungB * 0.97 },
  ];
  const heart = {
    cx: rng.uniform(0.1, 0.16),
    cy: rng.uniform(0.2, 0.28),
    a: rng.uniform(0.22, 0.27),
    b: rng.uniform(0.17, 0.21),
  };
  const nodules = label === 1
    ? Array.from({ length: 1 + rng.int(4) }, () => {
      const lung = lungs[rng.int(2)];
      return {
        cx: lung.cx + rng.uniform(-0.5, 0.5) * lung.a,
        cy: lung.cy + rng.uniform(-0.55, 0.45) * lung.b,
        r: rng.uniform(r0, r1),
        amp: rng.uniform(a0, a1),
      };
    })
    : [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Normalized coordinates in [-1, 1], with the phantom's own shift and scale.
      const u = (((x + 0.5) / size) * 2 - 1 - sx) / scale, v = (((y + 0.5) / size) * 2 - 1 - sy) / scale;
      let val = 0.04;
      const inBody = (u / 0.92) ** 2 + ((v - 0.05) / 1.0) ** 2 < 1;
      let inLung = false;
      if (inBody) {
        val = tissue - 0.1 * (u * u);
        for (const l of lungs) {
          const t = (v - l.cy) / l.b; // -1 top … 1 bottom
          const a = l.a * (0.7 + 0.3 * Math.min(1, Math.max(0, (t + 1) / 1.4)));
          const d = Math.abs((u - l.cx) / a) ** 2.3 + Math.abs(t) ** 2.3;
          if (d < 1) inLung = true;
        }
        const inHeart = ((u - heart.cx) / heart.a) ** 2 + ((v - heart.cy) / heart.b) ** 2 < 1;
        if (inHeart) inLung = false;
        if (inLung) val = air + 0.05 * (v + 1) / 2;
        if (inHeart) val = tissue + 0.08;
        if (Math.abs(u) < 0.07) val += 0.2; // spine
        const rib = (v - 0.3 * u * u) * ribFreq + ribPhase;
        if (rib - Math.floor(rib) < 0.22 && Math.abs(u) > 0.07) val += 0.09; // rib bands
        for (const tx of texture) val += 0.02 * Math.sin(tx.fx * u * 3.1 + tx.ph) * Math.sin(tx.fy * v * 3.1);
        for (const n of nodules) {
          const r2 = ((u - n.cx) ** 2 + (v - n.cy) ** 2) / (n.r * n.r);
          if (inLung) val += n.amp * Math.exp(-r2);
        }
      }
      val += 0.025 * rng.normal();
      image[y * size + x] = Math.min(1, Math.max(0, val));
      mask[y * size + x] = inLung ? 1 : 0;
    }
  }
  return { image, mask };
}

/** Options for {@linkcode writePhantomDataset}. */
export interface WritePhantomOptions extends PhantomOptions {
  /** Split seed. Default: the phantom seed. */
  splitSeed?: number;
}

/**
 * Writes phantoms as 8-bit PNGs plus `manifest.csv` (columns `id,image,mask,label,label_name,split`) into
 * `dir` (`images/`, `masks/`). Splits: seeded and stratified 70/15/15 by (class, has mask).
 *
 * @example
 * ```ts
 * import { writePhantomDataset } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const csv = await writePhantomDataset(dir, { count: 8, size: 32 });
 * assert.equal(csv.endsWith("manifest.csv"), true);
 * ```
 * @param dir output folder (created)
 * @param opts phantom options
 * @returns the manifest path
 */
export async function writePhantomDataset(dir: string, opts: WritePhantomOptions = {}): Promise<string> {
  const size = opts.size ?? 64;
  const phantoms = generatePhantoms(opts);
  await Deno.mkdir(path.join(dir, "images"), { recursive: true });
  await Deno.mkdir(path.join(dir, "masks"), { recursive: true });
  const splits = stratifiedSplit(
    phantoms.map((p) => ({ label: p.label, masks: p.maskPublished ? ["m"] : [] })),
    opts.splitSeed ?? opts.seed ?? 42,
  );
  const lines = ["id,image,mask,label,label_name,split"];
  for (const [i, p] of phantoms.entries()) {
    await Deno.writeFile(path.join(dir, "images", `${p.id}.png`), encodeGrayPng(p.image, size, size));
    if (p.maskPublished) {
      await Deno.writeFile(path.join(dir, "masks", `${p.id}.png`), encodeGrayPng(p.mask, size, size));
    }
    const mask = p.maskPublished ? `masks/${p.id}.png` : "";
    lines.push(`${p.id},images/${p.id}.png,${mask},${p.label},${p.label ? "opacity" : "normal"},${splits[i]}`);
  }
  const csv = path.join(dir, "manifest.csv");
  await Deno.writeTextFile(csv, lines.join("\n") + "\n");
  return csv;
}

/** The options of the demo's phantom set (`fixtures/phantoms/` in a checkout; the tests regenerate and compare). */
export const DEMO_PHANTOMS: Readonly<WritePhantomOptions> = Object.freeze({ count: 240, size: 64, seed: 42 });

/**
 * The demo's manifest: `fixtures/phantoms/manifest.csv` of a checkout when it is there, else the same phantoms
 * generated once (deterministically) into a cache folder: `$APPAUNET_CACHE_DIR`, else `$XDG_CACHE_HOME/appaunet`, else
 * `~/.cache/appaunet` (the published package ships no phantom images).
 *
 * @example
 * ```ts
 * import { demoManifest, readManifest } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const file = await demoManifest(); // …/fixtures/phantoms/manifest.csv, or …/.cache/appaunet/demo-phantoms-v2/…
 * assert.ok(readManifest(file).rows.length > 0);
 * ```
 * @param local the checkout's manifest, when the package runs from files. Default: next to this package.
 * @param log where to say that the phantoms were generated. Default `console.error`.
 * @returns the manifest path
 */
export async function demoManifest(
  local: string | undefined = import.meta.url.startsWith("file:")
    ? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "phantoms", "manifest.csv")
    : undefined,
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  if (local && await exists(local)) return local;
  const dir = path.join(cacheRoot(), "demo-phantoms-v2");
  const csv = path.join(dir, "manifest.csv");
  if (await exists(csv)) return csv;
  await createFolderAtomically(
    dir,
    async (tmp) => void await writePhantomDataset(tmp, DEMO_PHANTOMS),
    () => exists(csv),
  );
  log(`generated the demo's ${DEMO_PHANTOMS.count} synthetic phantoms in ${dir}`);
  return csv;
}
