/**
 * `docs/RESULTS.md` and its SVG charts, generated from `results/*.json` only (never edited by hand).
 *
 * Over 400 lines: one function per table of docs/RESULTS.md.
 *
 * @module
 */
import * as path from "node:path";
import { svgIntervalChart, svgLineChart } from "../report/report.ts";
import { TVERSKY_LOSS_NAMES } from "../losses/by_name.ts";
import { resolveTrainOptions, type TrainMode } from "../train/config.ts";
import { RESULT_TABLES, type ResultTable } from "./plan.ts";
import type { CheckpointTest, ExperimentResult, IntervalStat } from "./runner.ts";
import { pairedDifferenceInterval } from "../metrics/bootstrap.ts";
import { rocAuc } from "../metrics/classification.ts";
import { writeFileAtomically } from "../io/fs.ts";

/** The generated document: Markdown and chart files (name → SVG), to write next to each other. */
export interface ResultsDocument {
  /** The Markdown text. */
  markdown: string;
  /** Chart files by name (relative to the Markdown file's folder). */
  charts: Record<string, string>;
}

/** The val Dice levels the convergence table reports epochs and seconds to. */
export const CONVERGENCE_LEVELS = [0.9, 0.95] as const;

export const f = (
  v: number | undefined,
  d = 3,
): string => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(d));
export const ci = (
  c: [number, number] | undefined,
  d = 3,
): string => (c && Number.isFinite(c[0]) ? `[${f(c[0], d)}, ${f(c[1], d)}]` : "");
const stat = (s: IntervalStat | undefined) => (s ? `${f(s.mean)} ± ${f(s.std)} ${ci(s.ci95)}` : "–");
export const meanSd = (xs: number[], d = 3): string => {
  const v = xs.filter(Number.isFinite);
  if (!v.length) return "–";
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length === 1) return f(m, d);
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
  return `${f(m, d)} ± ${f(sd, d)}`;
};
const mean = (xs: number[]) => {
  const v = xs.filter(Number.isFinite);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};
export const opt = (r: ExperimentResult, k: string): number | string | undefined =>
  r.config[k] as number | string | undefined;

/** The train defaults of a mode (placeholders for the required data and out), resolved once per mode. */
const DEFAULTS_BY_MODE = new Map<unknown, ReturnType<typeof resolveTrainOptions>>();
function trainDefaults(mode: unknown) {
  let d = DEFAULTS_BY_MODE.get(mode);
  if (!d) DEFAULTS_BY_MODE.set(mode, d = resolveTrainOptions({ data: "-", out: "-", mode: mode as TrainMode }));
  return d;
}

/**
 * A result's options with the train defaults under them: a result written before an option existed is read as having
 * its default, which is what that run trained with, so it groups with newer runs of the same setup.
 */
export function withDefaults(r: ExperimentResult): ExperimentResult {
  return { ...r, config: { ...trainDefaults(r.config.mode), ...r.config } };
}

/** The loss as the tables name it: the CLI name, with the Tversky weights where they are not the defaults. */
export function lossLabel(r: ExperimentResult): string {
  const loss = String(opt(r, "loss"));
  const a = Number(opt(r, "tverskyAlpha")), b = Number(opt(r, "tverskyBeta"));
  const d = trainDefaults(r.config.mode);
  const weighted = (TVERSKY_LOSS_NAMES as readonly string[]).includes(loss) &&
    (a !== d.tverskyAlpha || b !== d.tverskyBeta);
  return weighted ? `${loss} (α ${a}, β ${b})` : loss;
}
export const pct = (v: unknown): string => `${Math.round(Number(v) * 100)} %`;

/** Epoch (1-based) at which val Dice first reached `level`, and the seconds spent until then; `undefined` if never. */
export function epochsToLevel(r: ExperimentResult, level: number): { epoch: number; seconds: number } | undefined {
  let seconds = 0;
  for (const e of r.epochs) {
    seconds += e.seconds;
    if ((e.valDice ?? -1) >= level) return { epoch: e.epoch, seconds };
  }
  return undefined;
}

function machineLine(rs: ExperimentResult[]): string {
  const names = new Set(rs.map((r) => {
    const a = r.adapter as { description?: string; mesaVersion?: string } | null;
    const m = r.machine;
    return `${m.label ? `${m.label}: ` : ""}${m.cpus} × ${m.cpuModel ?? m.arch}, ${
      a?.description ?? String(r.backend)
    }${a?.mesaVersion ? ` (Mesa ${a.mesaVersion})` : ""}`;
  }));
  return [...names].join("; ");
}

function setup(rs: ExperimentResult[]): string {
  const distinct = (k: string) => [...new Set(rs.map((r) => String(opt(r, k))))].join(", ");
  const sizes = [...new Set(rs.map((r) => `${opt(r, "size")}²`))].join(", ");
  const epochs = [
    ...new Set(rs.map((r) => `${r.epochs.length}${r.stopped === "early-stopping" ? " (early stop)" : ""}`)),
  ];
  const dates = rs.map((r) => r.finishedAt.slice(0, 10)).sort();
  return `Image size ${sizes} · epochs run ${epochs.join(", ")} of ${distinct("epochs")} · seeds ${
    distinct("seed")
  } · ` +
    `batch ${distinct("batchSize")} · ${rs.length} run(s), ${dates[0]}${
      dates.length > 1 && dates.at(-1) !== dates[0] ? ` to ${dates.at(-1)}` : ""
    } · machine: ${machineLine(rs)}`;
}

function segCells(t: CheckpointTest | undefined): string {
  const s = t?.segmentation;
  return `${stat(s?.dice)} | ${stat(s?.jaccard)}`;
}

function clsCells(t: CheckpointTest | undefined): string {
  const c = t?.classification;
  return c
    ? `${f(c.auc)} ${ci(c.aucCi95)} | ${f(c.accuracy)} | ${f(c.sensitivity)} | ${f(c.specificity)}`
    : "– | – | – | –";
}

export const secondsPerEpoch = (r: ExperimentResult): number => r.trainSeconds / Math.max(1, r.epochs.length);
export const groupKey = (r: ExperimentResult, without: string[]): string =>
  JSON.stringify(
    Object.fromEntries(
      Object.entries(r.config).filter(([k]) =>
        ![...without, "versions", "adapter", "backend", "fastKernels", "counts", "classNames", "variant"].includes(k)
      ).sort(),
    ),
  );

export function groupBy<T>(xs: T[], key: (x: T) => string): T[][] {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(x);
  }
  return [...m.values()];
}

/** The issue's targets for the headline models: lung Dice by size, TB AUC with 25 % class labels. */
export const TARGETS = { dice: { 128: 0.96, 256: 0.97 } as Record<number, number>, auc25: 0.9 };

function targetLines(rs: ExperimentResult[]): string[] {
  const out: string[] = [];
  for (const r of rs) {
    const size = Number(opt(r, "size")),
      dice = r.test.seg?.segmentation?.dice.mean,
      auc = r.test.cls?.classification?.auc;
    const parts: string[] = [];
    if (dice !== undefined && TARGETS.dice[size]) {
      parts.push(
        `Dice ${f(dice)} vs ≥ ${TARGETS.dice[size]} at ${size}²: ${dice >= TARGETS.dice[size] ? "met" : "not met"}`,
      );
    }
    if (auc !== undefined && Number(opt(r, "classLabelFraction")) === 0.25) {
      parts.push(`AUC ${f(auc)} vs ≥ ${TARGETS.auc25} with 25 % labels: ${auc >= TARGETS.auc25 ? "met" : "not met"}`);
    }
    if (parts.length) out.push(`- ${r.id}: ${parts.join("; ")}.`);
  }
  return out.length ? ["", "**Targets**", "", ...out] : [];
}

function headline(rs: ExperimentResult[]): string[] {
  const out = [
    "| run | mode | loss | class labels | test Dice (mean ± sd [95 % CI]), best-val-Dice checkpoint | test Jaccard | test AUC [95 % CI], best-val-AUC checkpoint | accuracy | sensitivity | specificity | s / epoch |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rs) {
    out.push(
      `| ${r.id} | ${opt(r, "mode")} | ${opt(r, "mode") === "cls" ? "–" : lossLabel(r)} | ${
        opt(r, "mode") === "seg" ? "–" : pct(opt(r, "classLabelFraction"))
      } | ${segCells(r.test.seg)} | ${clsCells(r.test.cls)} | ${f(secondsPerEpoch(r), 0)} |`,
    );
  }
  return [...out, ...targetLines(rs)];
}

function ablation(rs: ExperimentResult[]): string[] {
  const out = [
    "| run | variant | loss | test Dice (mean ± sd [95 % CI]) | test Jaccard | parameters (S) | s / epoch |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rs) {
    out.push(
      `| ${r.id} | ${r.config.variant} | ${lossLabel(r)} | ${segCells(r.test.seg)} | ${
        (r.params.segmentor ?? 0).toLocaleString("en-US")
      } | ${f(secondsPerEpoch(r), 0)} |`,
    );
  }
  return out;
}

function convergence(rs: ExperimentResult[], charts: Record<string, string>): string[] {
  const groups = groupBy(rs, (r) => groupKey(r, ["seed"]));
  const out = [
    `| loss | seeds | ${
      CONVERGENCE_LEVELS.map((l) => `epochs to val Dice ${l} | seconds to ${l}`).join(" | ")
    } | best val Dice | test Dice |`,
    `| --- | --- | ${CONVERGENCE_LEVELS.map(() => "--- | ---").join(" | ")} | --- | --- |`,
  ];
  const series: Record<string, number[]> = {};
  const reach: { loss: string; kltv: boolean; level: number; epochs: number; all: boolean; seeds: number }[] = [];
  for (const g of groups) {
    const loss = lossLabel(g[0]);
    const kltv = String(opt(g[0], "loss")).startsWith("kltv"); // kltv, kltv-normalized
    const cells = CONVERGENCE_LEVELS.map((level) => {
      const hits = g.map((r) => epochsToLevel(r, level));
      const ok = hits.filter((h) => h !== undefined) as { epoch: number; seconds: number }[];
      const missed = g.length - ok.length;
      reach.push({ loss, kltv, level, epochs: mean(ok.map((h) => h.epoch)), all: missed === 0, seeds: g.length });
      const note = missed ? ` (${missed} of ${g.length} never)` : "";
      return `${meanSd(ok.map((h) => h.epoch), 1)}${note} | ${meanSd(ok.map((h) => h.seconds), 0)}`;
    });
    const bestVal = g.map((r) => Math.max(...r.epochs.map((e) => e.valDice ?? -Infinity)));
    out.push(
      `| ${loss} | ${g.length} | ${cells.join(" | ")} | ${meanSd(bestVal)} | ${
        meanSd(g.map((r) => r.test.seg?.segmentation?.dice.mean ?? NaN))
      } |`,
    );
    const n = Math.max(...g.map((r) => r.epochs.length));
    series[loss] = Array.from({ length: n }, (_, i) => mean(g.map((r) => r.epochs[i]?.valDice ?? NaN)));
  }
  charts["results-convergence.svg"] = svgLineChart("val Dice per epoch (mean over seeds)", series);
  out.push("", "![val Dice per epoch](results-convergence.svg)", "");
  // The paper's claim: KLTV converges faster than the other losses. One verdict per KLTV row (each reading of |KL|,
  // each choice of Tversky weights), against every loss that is not KLTV.
  const level = CONVERGENCE_LEVELS.at(-1)!;
  const kltvs = reach.filter((x) => x.kltv && x.level === level);
  const others = reach.filter((x) => !x.kltv && x.level === level);
  const reached = (x: (typeof reach)[number]) =>
    `${x.all ? f(x.epochs, 1) : "not every seed"} (${x.seeds} seed${x.seeds === 1 ? "" : "s"})`;
  if (kltvs.length && others.length) {
    const verdicts = kltvs.map((k) => {
      const faster = others.every((o) => !o.all || (k.all && k.epochs < o.epochs));
      return `${k.loss}: ${faster ? "yes" : "no"}, ${reached(k)}`;
    });
    out.push(
      `**Does KLTV converge faster?** Mean epochs to val Dice ${level}: ${
        others.map((o) => `${o.loss} ${reached(o)}`).join(", ")
      }. ${verdicts.join("; ")}.`,
    );
  }
  return out;
}

function multitask(rs: ExperimentResult[]): string[] {
  const out = [
    "| run | loss | class labels | test Dice (mean ± sd [95 % CI]) | test AUC [95 % CI] | accuracy | sensitivity | specificity |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rs) {
    out.push(
      `| ${r.id} | ${lossLabel(r)} | ${pct(opt(r, "classLabelFraction"))} | ${stat(r.test.seg?.segmentation?.dice)} | ${
        clsCells(r.test.cls)
      } |`,
    );
  }
  return out;
}

function labels(rs: ExperimentResult[], charts: Record<string, string>): string[] {
  const groups = groupBy(rs, (r) => groupKey(r, ["seed"]))
    .sort((a, b) =>
      String(opt(a[0], "mode")).localeCompare(String(opt(b[0], "mode"))) ||
      Number(opt(a[0], "classLabelFraction")) - Number(opt(b[0], "classLabelFraction")) ||
      Number(opt(b[0], "maskFraction")) - Number(opt(a[0], "maskFraction"))
    );
  const out = [
    "| mode | class labels | masks | seeds | test AUC (mean ± sd over seeds) | accuracy | test Dice |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const byMode: Record<string, Map<number, number>> = {};
  for (const g of groups) {
    const mode = String(opt(g[0], "mode")), frac = Number(opt(g[0], "classLabelFraction"));
    const aucs = g.map((r) => r.test.cls?.classification?.auc ?? NaN);
    out.push(
      `| ${mode} | ${pct(frac)} | ${mode === "cls" ? "–" : pct(opt(g[0], "maskFraction"))} | ${g.length} | ${
        meanSd(aucs)
      } | ${meanSd(g.map((r) => r.test.cls?.classification?.accuracy ?? NaN))} | ${
        mode === "cls" ? "–" : meanSd(g.map((r) => r.test.seg?.segmentation?.dice.mean ?? NaN))
      } |`,
    );
    if (Number(opt(g[0], "maskFraction") ?? 1) === 1) (byMode[mode] ??= new Map()).set(frac, mean(aucs));
  }
  const fracs = [...new Set(Object.values(byMode).flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  if (fracs.length) {
    const series = Object.fromEntries(
      Object.entries(byMode).map(([mode, m]) => [mode, fracs.map((x) => m.get(x) ?? NaN)]),
    );
    charts["results-labels.svg"] = svgLineChart(
      "test AUC by share of class labels",
      series,
      `class labels: ${fracs.map(pct).join(", ")}`,
    );
    out.push("", "![test AUC by share of class labels](results-labels.svg)", "");
  }
  const low = fracs[0];
  const mtl = byMode.mtl?.get(low), cls = byMode.cls?.get(low);
  if (low !== undefined && mtl !== undefined && cls !== undefined && Number.isFinite(mtl) && Number.isFinite(cls)) {
    const gain = mtl - cls;
    out.push(
      `**Does semi-supervision pay at ${pct(low)} labels?** ${gain >= 0.03 ? "Yes" : "No"}: mtl ${f(mtl)} against cls ${
        f(cls)
      } mean test AUC (${gain >= 0 ? "+" : ""}${f(gain)}; the target is +0.030).`,
    );
  }
  return out;
}

/** Dice per source as "name mean [ci]" cells. */
function bySourceCell(b: Record<string, { n: number; dice: IntervalStat }> | undefined): string {
  return b ? Object.entries(b).map(([s, v]) => `${s} ${f(v.dice.mean)} ${ci(v.dice.ci95)} (n ${v.n})`).join("; ") : "–";
}

/**
 * The field's figures for the runs that have them (result files written since they exist): lung Dice per source,
 * HD95 and masks in more than two pieces, raw and post-processed; the val-chosen decision threshold with the
 * sensitivity and specificity it gives on test, and the ECE before and after temperature scaling, with the reliability
 * diagram of each run.
 */
function fieldSection(rs: ExperimentResult[], charts: Record<string, string>): string[] {
  const seg = rs.filter((r) => r.test.seg?.segmentation?.postprocessed);
  const cls = rs.filter((r) => r.test.cls?.classification?.calibration);
  const out: string[] = [];
  if (seg.length) {
    out.push(
      "**Masks as the field reports them** (test split, best-val-Dice checkpoint; HD95 in pixels of the run's image " +
        "size, median [bootstrap 95 % CI]; post-processed = the two largest components kept and holes filled, as " +
        "`predict`, `serve` and the page draw masks by default)",
      "",
      "| run | Dice, raw | Dice, post-processed | Dice by source (post-processed) | HD95 px, raw | HD95 px, post-processed | masks in > 2 pieces, raw → post-processed |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const r of seg) {
      const s = r.test.seg!.segmentation!, p = s.postprocessed!;
      out.push(
        `| ${r.id} | ${f(s.dice.mean)} ${ci(s.dice.ci95)} | ${f(p.dice.mean)} ${ci(p.dice.ci95)} | ${
          bySourceCell(p.bySource)
        } | ${f(s.hd95?.median, 2)} ${ci(s.hd95?.ci95, 2)} | ${f(p.hd95.median, 2)} ${ci(p.hd95.ci95, 2)} | ${
          s.over2Pieces ?? "–"
        } → ${p.over2Pieces} of ${s.n} |`,
      );
    }
    out.push("");
  }
  if (cls.length) {
    out.push(
      "**Decisions and calibration** (test split, best-val-AUC checkpoint; the temperature and the decision threshold " +
        "on the calibrated class-1 probability are fitted on val: Platt scaling σ(z / T + b) of the class-1 logit z " +
        "by val log-likelihood (b = 0: temperature scaling), threshold by Youden's J; ECE over 10 bins)",
      "",
      "| run | AUC | T, b | threshold | accuracy | sensitivity | specificity | ECE raw → calibrated |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const r of cls) {
      const c = r.test.cls!.classification!;
      out.push(
        `| ${r.id} | ${f(c.auc)} ${ci(c.aucCi95)} | ${f(c.calibration!.temperature, 2)}, ${
          f(c.calibration!.bias ?? 0, 2)
        } | ${f(c.calibration!.threshold)} | ${f(c.accuracy)} | ${f(c.sensitivity)} | ${f(c.specificity)} | ${
          f(c.ece?.raw)
        } → ${f(c.ece?.calibrated)} |`,
      );
      if (c.reliability) {
        const name = `results-reliability-${r.id}.svg`;
        charts[name] = svgLineChart(
          `reliability, ${r.id} (test, calibrated)`,
          {
            "accuracy": c.reliability.map((b) => b.accuracy),
            "mean confidence": c.reliability.map((b) => b.confidence),
          },
          `top-label confidence bin: 0–0.1 … 0.9–1 (empty bins left out; n per bin ${
            c.reliability.map((b) => b.n).join(", ")
          })`,
        );
      }
    }
    out.push(
      "",
      ...cls.filter((r) => r.test.cls!.classification!.reliability).map((r) =>
        `![reliability diagram of ${r.id}](results-reliability-${r.id}.svg)`
      ),
      "",
    );
  }
  return out;
}

/** The gain over the supervised classifier that semi-supervision has to reach at 10 % class labels (test AUC). */
export const SSL_GOAL = 0.03;

/** A run's test scores (class-1 probabilities) by image id, from its result file's per-image predictions. */
function testScores(r: ExperimentResult): Map<string, { p: number; y: number }> {
  const m = new Map<string, { p: number; y: number }>();
  for (const p of r.test.cls?.predictions ?? []) {
    if (p.label !== null && p.probs && p.probs.length === 2) m.set(p.id, { p: p.probs[1], y: p.label });
  }
  return m;
}

/**
 * A semi-supervised method's runs against the supervised runs of the same seeds (the same labeled images), scored on
 * the same test images: the paired bootstrap difference in test AUC, and on how many seeds the method was better.
 */
export function pairedSslDelta(
  runs: ExperimentResult[],
  base: ExperimentResult[],
): { mean: number; ci95: [number, number]; better: number; pairs: number } | undefined {
  const pairs: { a: number[]; b: number[] }[] = [];
  let ids: string[] = [], labels: number[] = [];
  for (const r of runs) {
    const b = base.find((x) => opt(x, "seed") === opt(r, "seed"));
    if (!b) continue;
    const sb = testScores(b), sr = testScores(r);
    const common = [...sr.keys()].filter((k) => sb.has(k)).sort();
    if (!common.length) continue;
    if (!ids.length) (ids = common, labels = common.map((k) => sr.get(k)!.y));
    if (common.join() !== ids.join()) continue;
    pairs.push({ a: ids.map((k) => sb.get(k)!.p), b: ids.map((k) => sr.get(k)!.p) });
  }
  if (!pairs.length) return undefined;
  const d = pairedDifferenceInterval(pairs, labels, rocAuc);
  return {
    mean: d.mean,
    ci95: d.ci95 as [number, number],
    better: pairs.filter((p) => rocAuc(p.b, labels) > rocAuc(p.a, labels)).length,
    pairs: pairs.length,
  };
}

function ssl(rs: ExperimentResult[], charts: Record<string, string>): string[] {
  const groups = groupBy(rs, (r) => groupKey(r, ["seed"]))
    .sort((a, b) =>
      Number(opt(a[0], "classLabelFraction")) - Number(opt(b[0], "classLabelFraction")) ||
      String(opt(a[0], "ssl")).localeCompare(String(opt(b[0], "ssl")))
    );
  const out = [
    "| method | class labels | seeds | best val AUC (mean ± sd) | test AUC (mean ± sd) | paired Δ test AUC vs supervised [95 % CI] | seeds better |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const verdicts: string[] = [];
  for (const g of groups) {
    const method = String(opt(g[0], "ssl")), frac = Number(opt(g[0], "classLabelFraction"));
    const base = rs.filter((r) =>
      opt(r, "ssl") === "supervised" && Number(opt(r, "classLabelFraction")) === frac &&
      Number(opt(r, "epochs")) === Number(opt(g[0], "epochs"))
    );
    let delta = "–", better = "–";
    const d = method !== "supervised" ? pairedSslDelta(g, base) : undefined;
    if (d) {
      const m = Math.abs(d.mean) < 0.0005 ? 0 : d.mean; // no "-0.000"
      delta = `${m >= 0 ? "+" : ""}${f(m)} ${ci(d.ci95)}`;
      better = `${d.better} of ${d.pairs}`;
      if (frac === 0.1) {
        verdicts.push(
          `${method}: ${d.mean >= SSL_GOAL ? "yes" : "no"} (${delta}, ${d.pairs} paired seed${
            d.pairs === 1 ? "" : "s"
          })`,
        );
      }
    }
    out.push(
      `| ${method} | ${pct(frac)} | ${g.length} | ${
        meanSd(g.map((r) => Math.max(...r.epochs.map((e) => e.valAuc ?? -Infinity))))
      } | ${meanSd(g.map((r) => r.test.cls?.classification?.auc ?? NaN))} | ${delta} | ${better} |`,
    );
  }
  charts["results-ssl.svg"] = svgIntervalChart(
    "test AUC by method and share of class labels (mean ± sd over seeds)",
    groups.map((g) => {
      const a = g.map((r) => r.test.cls?.classification?.auc ?? NaN).filter(Number.isFinite);
      const m = mean(a);
      const sd = a.length > 1 ? Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1)) : 0;
      return { label: `${opt(g[0], "ssl")} ${pct(opt(g[0], "classLabelFraction"))}`, mean: m, lo: m - sd, hi: m + sd };
    }),
    "test AUC (dot: mean over seeds; whisker: ± 1 sd; one seed: no whisker)",
  );
  out.push("", "![test AUC by method (mean ± sd over seeds)](results-ssl.svg)");
  if (verdicts.length) {
    out.push(
      "",
      `**Does semi-supervision pay at 10 % labels (goal: ≥ +${f(SSL_GOAL)} test AUC over the supervised ` +
        `classifier)?** ${verdicts.join("; ")}.`,
    );
  }
  return out;
}

const TITLES: Record<ResultTable, string> = {
  headline: "Headline models (test split, checkpoints chosen on val)",
  ablation: "Segmentor ablation (seg mode): the 8 variants with KLTV, the full segmentor with each loss",
  convergence: "Convergence: val Dice per epoch (the paper's claim for KLTV)",
  multitask: "Multi-task APPAU-Net (mtl) by segmentation loss",
  labels: "Label efficiency: APPAU-Net mtl against the supervised classifier (cls) on the same labeled images",
  ssl:
    "Semi-supervised classifiers (cls, `--ssl`): each method against the supervised classifier with the same labeled images (same seed), both with labeled batches and EMA weights",
};

/**
 * Reads every `results/*.json`, checked.
 *
 * @param resultsDir the folder (missing: no results)
 * @returns the results, by file name
 * @throws {Error} naming a file that is not valid JSON or not a result
 */
export async function readResults(resultsDir: string): Promise<ExperimentResult[]> {
  const results: ExperimentResult[] = [];
  let names: string[] = [];
  try {
    for await (const e of Deno.readDir(resultsDir)) if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  names = names.sort();
  for (const n of names) {
    const file = path.join(resultsDir, n);
    let r: ExperimentResult;
    try {
      r = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message}); rerun its experiment or remove it`);
    }
    if (r?.schema !== 1 || typeof r.id !== "string" || !Array.isArray(r.tables) || !Array.isArray(r.epochs)) {
      throw new Error(`${file}: not an experiment result (schema 1); rerun its experiment or remove it`);
    }
    results.push(r);
  }
  return results;
}

/**
 * Renders `docs/RESULTS.md` and its charts from result files.
 *
 * @example
 * ```ts
 * import { renderResults } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const doc = renderResults([], "deno task results");
 * assert.match(doc.markdown, /No results yet/);
 * ```
 * @param results the parsed `results/*.json`
 * @param command the command that wrote it (stated in the document)
 * @returns Markdown and charts
 */
export function renderResults(results: ExperimentResult[], command: string): ResultsDocument {
  results = results.map(withDefaults);
  const charts: Record<string, string> = {};
  const lines = [
    "# Results",
    "",
    `<!-- Generated by \`${command}\` from results/*.json. Do not edit by hand: edit the plan or rerun. -->`,
    "",
    `Generated by \`${command}\` from ${results.length} file(s) in \`results/\`. Data: Montgomery + Shenzhen chest ` +
    "X-rays at 256² (`../shared/data/montgomery-shenzhen-cxr-256/`, fixed split: 560 train, 120 val, 120 test), " +
    "resized to each run's image size. Checkpoints are chosen on `val` (best val Dice for segmentation, best val AUC " +
    "for classification); `test` is read only for these tables. Intervals are percentile bootstrap 95 % intervals " +
    "over test images (1000 resamples); ± is the standard deviation over images (Dice) or over seeds (grouped rows). " +
    "Seconds (per epoch, to a val Dice level) are wall time as each run measured it, with whatever else its machine " +
    "ran at the time: they compare speed only between runs that had the machine to themselves.",
    "",
  ];
  if (!results.length) lines.push("No results yet: run `deno task experiments`.");
  for (const t of RESULT_TABLES) {
    const rs = results.filter((r) => r.tables.includes(t)).sort((a, b) => a.id.localeCompare(b.id));
    if (!rs.length) continue;
    lines.push(`## ${TITLES[t]}`, "", setup(rs), "");
    const body = t === "headline"
      ? headline(rs)
      : t === "ablation"
      ? ablation(rs)
      : t === "convergence"
      ? convergence(rs, charts)
      : t === "multitask"
      ? multitask(rs)
      : t === "ssl"
      ? ssl(rs, charts)
      : labels(rs, charts);
    lines.push(...body, "");
    if (t === "headline") lines.push(...fieldSection(rs, charts));
  }
  return { markdown: lines.join("\n").replace(/\n{3,}/g, "\n\n"), charts };
}

/**
 * Reads `results/*.json`, renders the document and writes it and its charts.
 *
 * @example
 * ```ts
 * import { writeResults } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/results`);
 * const { read, written } = await writeResults(`${dir}/results`, `${dir}/RESULTS.md`);
 * assert.equal(read, 0);
 * assert.ok(written.includes(`${dir}/RESULTS.md`));
 * assert.match(await Deno.readTextFile(`${dir}/RESULTS.md`), /deno task results/);
 * ```
 * @param resultsDir folder of result files. Default `results`.
 * @param outFile the Markdown file. Default `docs/RESULTS.md`.
 * @param command the command stated in the document. Default `deno task results`.
 * @returns the result files read and the files written
 * @throws {Error} naming a result file that is not valid JSON or not a result
 */
export async function writeResults(
  resultsDir: string = "results",
  outFile: string = path.join("docs", "RESULTS.md"),
  command: string = "deno task results",
): Promise<{ read: number; written: string[] }> {
  const results = await readResults(resultsDir);
  const doc = renderResults(results, command);
  const dir = path.dirname(outFile);
  await Deno.mkdir(dir, { recursive: true });
  const written = [outFile];
  await writeFileAtomically(outFile, doc.markdown, `--out ${outFile}`);
  for (const [name, svg] of Object.entries(doc.charts)) {
    const p = path.join(dir, name);
    await writeFileAtomically(p, svg, `--out ${outFile}`);
    written.push(p);
  }
  return { read: results.length, written };
}
