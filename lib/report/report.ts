/**
 * `report.html`: a self-contained page (no network) with the run config, loss and Dice/AUC curves as inline
 * SVG, the final metrics, and a grid of val overlays (also written as PNG files in `overlays/`).
 *
 * @module
 */
import * as path from "node:path";
import { encodeBase64 } from "./base64.ts";
import type { Dataset } from "../data/dataset.ts";
import type { ImagePrediction } from "../infer/evaluation.ts";
import type { EpochRecord } from "./epoch_record.ts";
import { overlayPng } from "../io/overlay.ts";
import { writeFileAtomically } from "../io/fs.ts";

/** Inputs of {@linkcode writeReport}. */
export interface ReportInput {
  /** Run folder. */
  out: string;
  /** Resolved run config. */
  config: Record<string, unknown>;
  /** Epoch records. */
  history: EpochRecord[];
  /** Dataset (its val split's images and true masks are drawn under the predictions). */
  dataset: Dataset;
  /** Val predictions with their masks (`evaluateSplit(…, keepMasks)`): one overlay each. */
  predictions: ImagePrediction[];
  /** Free text shown under the title. */
  note?: string;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const num = (v: number | undefined, d = 4) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(d));

/**
 * A line chart as an SVG string.
 *
 * @example
 * ```ts
 * import { svgLineChart } from "./report.ts";
 * import assert from "node:assert/strict";
 * assert.equal(svgLineChart("loss", { a: [3, 2, 1] }).startsWith("<svg"), true);
 * ```
 * @param title chart title
 * @param series name → values per epoch (or per point of `xLabel`)
 * @param xLabel the x axis's caption. Default `epoch (1…n)`.
 * @returns SVG markup
 */
export function svgLineChart(title: string, series: Record<string, number[]>, xLabel?: string): string {
  const w = 420, h = 220, pad = 36;
  const all = Object.values(series).flat().filter((v) => Number.isFinite(v));
  const lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  const span = hi - lo || 1;
  const n = Math.max(...Object.values(series).map((s) => s.length), 1);
  const colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];
  const x = (i: number) => pad + (n === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (n - 1));
  const y = (v: number) => h - pad - ((v - lo) / span) * (h - 2 * pad);
  let body = "";
  Object.entries(series).forEach(([name, vals], k) => {
    const pts = vals.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : "")).filter(Boolean);
    body += `<polyline fill="none" stroke="${colors[k % colors.length]}" stroke-width="2" points="${pts.join(" ")}"/>`;
    body += `<text x="${w - pad + 4}" y="${pad + 14 * k}" font-size="11" fill="${colors[k % colors.length]}">${
      esc(name)
    }</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w + 90}" height="${h}" role="img" aria-label="${
    esc(title)
  }">` +
    `<text x="${pad}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>` +
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/>` +
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>` +
    `<text x="2" y="${pad + 4}" font-size="10">${num(hi, 3)}</text><text x="2" y="${h - pad}" font-size="10">${
      num(lo, 3)
    }</text>` +
    `<text x="${pad}" y="${h - 8}" font-size="10">${esc(xLabel ?? `epoch (1…${n})`)}</text>${body}</svg>`;
}

/**
 * A dot-and-whisker chart as an SVG string: one dot (the mean) and one whisker (e.g. ± one standard deviation over
 * seeds, or an interval) per labelled item, on a y axis with three labelled ticks.
 *
 * @example
 * ```ts
 * import { svgIntervalChart } from "./report.ts";
 * import assert from "node:assert/strict";
 * const svg = svgIntervalChart("AUC", [{ label: "a", mean: 0.8, lo: 0.75, hi: 0.85 }], "test AUC");
 * assert.ok(svg.startsWith("<svg") && svg.includes("0.850"));
 * ```
 * @param title chart title
 * @param items label, mean and whisker ends of each item
 * @param yLabel the y axis's caption (with its unit)
 * @returns SVG markup
 */
export function svgIntervalChart(
  title: string,
  items: { label: string; mean: number; lo: number; hi: number }[],
  yLabel: string,
): string {
  const step = 96, w = Math.max(80 + step * Math.max(items.length, 1), 7 * title.length + 60), h = 240, pad = 44;
  const all = items.flatMap((i) => [i.lo, i.hi, i.mean]).filter(Number.isFinite);
  const lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  const span = hi - lo || 1;
  const y = (v: number) => h - pad - ((v - lo) / span) * (h - 2 * pad);
  const x = (k: number) => pad + step / 2 + step * k;
  let body = "";
  items.forEach((it, k) => {
    if (Number.isFinite(it.lo) && Number.isFinite(it.hi)) {
      body += `<line x1="${x(k)}" y1="${y(it.lo).toFixed(1)}" x2="${x(k)}" y2="${
        y(it.hi).toFixed(1)
      }" stroke="#1f77b4" stroke-width="2"/>`;
    }
    if (Number.isFinite(it.mean)) body += `<circle cx="${x(k)}" cy="${y(it.mean).toFixed(1)}" r="4" fill="#d62728"/>`;
    body += `<text x="${x(k)}" y="${h - pad + 16}" font-size="10" text-anchor="middle">${esc(it.label)}</text>`;
  });
  const ticks = [lo, (lo + hi) / 2, hi].map((v) =>
    `<text x="2" y="${(y(v) + 4).toFixed(1)}" font-size="10">${num(v, 3)}</text>` +
    `<line x1="${pad - 4}" y1="${y(v).toFixed(1)}" x2="${pad}" y2="${y(v).toFixed(1)}" stroke="#888"/>`
  ).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(title)}">` +
    `<text x="${pad}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>` +
    `<text x="${pad}" y="30" font-size="10">${esc(yLabel)}</text>` +
    `<line x1="${pad}" y1="${h - pad}" x2="${w - 10}" y2="${h - pad}" stroke="#888"/>` +
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>${ticks}${body}</svg>`;
}

/**
 * Writes `report.html` and `overlays/*.png` into the run folder.
 *
 * @param r run data and models
 * @returns the report path
 */
export async function writeReport(r: ReportInput): Promise<string> {
  const size = r.dataset.size;
  const overlayDir = path.join(r.out, "overlays");
  await Deno.mkdir(overlayDir, { recursive: true });
  let grid = "";
  const withMask = r.predictions.filter((p) => p.mask);
  if (withMask.length) {
    const val = r.dataset.split("val");
    for (const p of withMask) {
      const s = val.samples.find((x) => x.id === p.id)!;
      const png = overlayPng(s.image, p.mask ?? null, s.mask, size);
      await Deno.writeFile(path.join(overlayDir, `${p.id}.png`), png);
      const cls = p.probs ? ` · p=${p.probs.map((v) => v.toFixed(2)).join("/")}` : "";
      grid +=
        `<figure><img src="data:image/png;base64,${encodeBase64(png)}" width="${Math.max(size, 128)}" alt="${
          esc(p.id)
        }">` +
        `<figcaption>${esc(p.id)}<br>Dice ${num(p.dice, 3)}${cls}</figcaption></figure>`;
    }
  }
  const h = r.history;
  const lossKeys = [...new Set(h.flatMap((e) => Object.keys(e.losses)))];
  const lossSeries = Object.fromEntries(lossKeys.map((k) => [k, h.map((e) => e.losses[k])]));
  const valSeries: Record<string, number[]> = {};
  if (h.some((e) => e.val.segmentation)) valSeries["val Dice"] = h.map((e) => e.val.segmentation?.dice.mean ?? NaN);
  if (h.some((e) => e.val.classification)) valSeries["val AUC"] = h.map((e) => e.val.classification?.auc ?? NaN);
  if (h.some((e) => e.val.classification)) valSeries["val acc"] = h.map((e) => e.val.classification?.accuracy ?? NaN);
  const last = h[h.length - 1];
  const rows: [string, string][] = [];
  const seg = last.val.segmentation, cls = last.val.classification;
  if (seg) {
    rows.push(["Dice", `${num(seg.dice.mean)} ± ${num(seg.dice.std)}`]);
    rows.push(["Jaccard", `${num(seg.jaccard.mean)} ± ${num(seg.jaccard.std)}`]);
    rows.push(["Pixel accuracy", `${num(seg.pixelAccuracy.mean)} ± ${num(seg.pixelAccuracy.std)}`]);
  }
  if (cls) {
    rows.push(["AUC", num(cls.auc)], ["Accuracy", num(cls.accuracy)], ["Sensitivity", num(cls.sensitivity)]);
    rows.push(["Specificity", num(cls.specificity)], ["Confusion [true][pred]", JSON.stringify(cls.confusion)]);
  }
  if (last.val.classificationTrueMask) {
    rows.push(["AUC with true masks D(x⊕y)", num(last.val.classificationTrueMask.auc)]);
  }
  const table = (pairs: [string, string][]) =>
    `<table>${pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>`;
  const cfgPairs = Object.entries(r.config).map(([k, v]) =>
    [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string]
  );
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>appaunet run report</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px;vertical-align:top;word-break:break-word}table{max-width:100%}th{background:#f4f4f4}
figure{display:inline-block;margin:6px;text-align:center;font-size:11px}img{image-rendering:pixelated;border:1px solid #ccc}
.charts svg{margin-right:12px}</style></head><body>
<h1>appaunet run report</h1><p>${esc(String(r.config.variant ?? ""))} · mode ${
    esc(String(r.config.mode))
  } · ${h.length} epoch(s) · ${esc(r.note ?? "")}</p>
<h2>Validation metrics (last epoch ${last.epoch})</h2>${table(rows)}
<h2>Curves</h2><div class="charts">${svgLineChart("training losses", lossSeries)}${
    svgLineChart("validation", valSeries)
  }</div>
<h2>Validation overlays</h2><p>Red: predicted lung (p &gt; 0.5). Green: true mask contour.</p><div>${
    grid || "<p>(no segmentor)</p>"
  }</div>
<h2>Configuration</h2>${table(cfgPairs)}
</body></html>`;
  const file = path.join(r.out, "report.html");
  await writeFileAtomically(file, html, `--out ${path.dirname(file)}`);
  return file;
}
