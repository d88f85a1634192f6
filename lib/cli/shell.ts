/**
 * What every command of the CLI shares: the flags all commands take, parsing with clear usage errors, decimal numbers
 * only, backend setup, the metrics printout, and Ctrl-C / SIGTERM handling.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendName, initBackend, setInputLimits, type SplitMetrics, useFastKernels } from "../../mod.ts";
import { USAGE } from "./usage.ts";

/** A command's flags as `parseArgs` takes them. */
export type Spec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Flags every command takes. */
export const COMMON: Spec = {
  help: { type: "boolean", short: "h" },
  "max-file-mb": { type: "string" },
  "max-pixels": { type: "string" },
  backend: { type: "string" },
  "allow-cpu-fallback": { type: "boolean" },
  kernels: { type: "string" },
};

/** A mistake in the command line (exit code 2, the usage printed). */
export class UsageError extends Error {}

/** Parses a command's flags (and the input limits every command takes). */
export function parse(
  cmd: string,
  argv: string[],
  spec: Spec,
  positionals = false,
): {
  values: Record<string, string | undefined> & Record<string, string | boolean | undefined>;
  positionals: string[];
} {
  let parsed;
  try {
    const r = parseArgs({ args: argv, options: { ...COMMON, ...spec }, strict: true, allowPositionals: positionals });
    parsed = { values: r.values as Record<string, string | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/, "")}\n\n${USAGE[cmd]}`);
  }
  // Input limits apply to every command that reads images.
  const mb = num("max-file-mb", parsed.values["max-file-mb"]), px = num("max-pixels", parsed.values["max-pixels"]);
  if ((mb !== undefined && !(mb > 0)) || (px !== undefined && !(px > 0))) {
    throw new UsageError("--max-file-mb and --max-pixels must be > 0");
  }
  setInputLimits({
    ...(mb !== undefined ? { maxFileBytes: mb * 2 ** 20 } : {}),
    ...(px !== undefined ? { maxPixels: px } : {}),
  });
  return parsed;
}

/** A decimal-number flag (`undefined` when absent). */
export function num(name: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined || typeof v === "boolean") return undefined;
  // Decimal numbers only (1, 0.25, 2e-4): Number() would also take "0x20", " 12" or "Infinity".
  const n = Number(v);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) || !Number.isFinite(n)) {
    throw new UsageError(`--${name}: "${v}" is not a decimal number`);
  }
  return n;
}

/** Selects the kernels and the backend from the common flags. */
export async function setup(values: Record<string, string | boolean | undefined>) {
  const kernels = (values.kernels as string | undefined) ?? "fast";
  if (kernels !== "fast" && kernels !== "stock") throw new UsageError(`--kernels: "${kernels}" is not fast or stock`);
  useFastKernels(kernels === "fast");
  const backend = (values.backend as string | undefined) ?? "webgpu";
  if (backend !== "webgpu" && backend !== "cpu") throw new UsageError(`--backend: "${backend}" is not webgpu or cpu`);
  const info = await initBackend({
    backend: backend as BackendName,
    allowFallback: Boolean(values["allow-cpu-fallback"]),
  });
  // initBackend printed its own warnings (no adapter, another tfjs version); print the rest.
  for (const w of info.warnings) {
    if (!w.includes("Falling back") && !w.includes("fast kernels are written for")) console.error(`warning: ${w}`);
  }
  return info;
}

/** Prints a split's metrics. */
export function printMetrics(m: SplitMetrics, classNames: string[]) {
  const f = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(4));
  console.log(`images: ${m.n}`);
  if (m.segmentation) {
    const s = m.segmentation;
    console.log(`segmentation (${s.n} images with masks)`);
    console.log(`  Dice            ${f(s.dice.mean)} ± ${f(s.dice.std)}`);
    console.log(`  Jaccard         ${f(s.jaccard.mean)} ± ${f(s.jaccard.std)}`);
    console.log(`  pixel accuracy  ${f(s.pixelAccuracy.mean)} ± ${f(s.pixelAccuracy.std)}`);
    const fm = s.field;
    if (fm) {
      const src = Object.entries(fm.bySource).map(([k, b]) => `${k} ${f(b.dice)} (${b.n})`).join(", ");
      if (src) console.log(`  Dice by source  ${src}`);
      console.log(
        `  HD95 median     ${fm.hd95Median.toFixed(2)} px at the model's size${
          fm.hd95MmMedian ? `, ${fm.hd95MmMedian.median.toFixed(2)} mm (${fm.hd95MmMedian.n} DICOM images)` : ""
        }; masks in > 2 pieces: ${fm.over2Pieces}`,
      );
      console.log(
        `  post-processed  Dice ${f(fm.postprocessed.dice)}, HD95 median ${
          fm.postprocessed.hd95Median.toFixed(2)
        } px, masks in > 2 pieces: ${fm.postprocessed.over2Pieces} (as predict draws masks)`,
      );
    }
  }
  for (
    const [title, c] of [["classification", m.classification], [
      "classification D(x ⊕ y), true masks",
      m.classificationTrueMask,
    ]] as const
  ) {
    if (!c) continue;
    console.log(`${title} (${c.n} labeled images)`);
    const rule = c.threshold !== undefined
      ? `${classNames[1]} where its calibrated probability ≥ ${c.threshold.toFixed(3)} (threshold chosen on val)`
      : "the most probable class";
    console.log(`  AUC ${f(c.auc)}  ECE ${f(c.ece)}  decisions: ${rule}`);
    console.log(`  accuracy ${f(c.accuracy)}  sensitivity ${f(c.sensitivity)}  specificity ${f(c.specificity)}`);
    console.log(`  confusion [true][pred] (${classNames.join(", ")}): ${JSON.stringify(c.confusion)}`);
  }
}

/** Ctrl-C / SIGTERM: finish the step and checkpoint; a second one quits at once. */
export function abortOnSignals(): { signal: AbortSignal; remove: () => void } {
  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) Deno.exit(130);
    console.error("\ninterrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit now)");
    ac.abort();
  };
  // SIGTERM (a job scheduler's stop, `kill`) is handled like Ctrl-C.
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  return { signal: ac.signal, remove: () => signals.forEach((s) => Deno.removeSignalListener(s, onSignal)) };
}
