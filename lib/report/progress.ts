/**
 * Training progress: a one-line bar on a TTY (epoch, step/total, img/s, ETA), one plain line per epoch otherwise.
 *
 * @module
 */
import type { EpochRecord } from "./epoch_record.ts";

/** `"auto"`: bar on a TTY, else lines. */
export type ProgressMode = "auto" | "bar" | "lines" | "none";

/** A progress reporter. */
export interface Progress {
  /** After each step. */
  step(epoch: number, step: number, imagesPerSecond: number): void;
  /** After each epoch. */
  epoch(r: EpochRecord): void;
  /** A final message. */
  done(message: string): void;
}

const fmt = (v: number | undefined, d = 4) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(d));

/**
 * Formats an epoch record as one line.
 *
 * @param r the record
 * @param epochs total epochs
 * @returns the line
 */
export function epochLine(r: EpochRecord, epochs: number): string {
  const losses = Object.entries(r.losses).map(([k, v]) => `${k} ${fmt(v)}`).join(" ");
  const parts = [`epoch ${r.epoch}/${epochs}`, losses];
  if (r.val.segmentation) parts.push(`val dice ${fmt(r.val.segmentation.dice.mean)}`);
  if (r.val.classification) {
    parts.push(`val auc ${fmt(r.val.classification.auc)} acc ${fmt(r.val.classification.accuracy, 3)}`);
  }
  parts.push(`${r.imagesPerSecond.toFixed(1)} img/s`, `${r.seconds.toFixed(1)} s`);
  return parts.join(" | ");
}

/**
 * Creates a reporter writing to stderr (bar) or stdout (lines).
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * import assert from "node:assert/strict";
 * const p = createProgress("none", 1, 1);
 * assert.equal(typeof p.done, "function");
 * p.done("ok"); // "none" prints nothing
 * ```
 * @param mode display mode
 * @param epochs total epochs
 * @param stepsPerEpoch steps per epoch
 * @returns the reporter
 */
export function createProgress(mode: ProgressMode, epochs: number, stepsPerEpoch: number): Progress {
  const tty = Deno.stderr.isTerminal();
  const m = mode === "auto" ? (tty ? "bar" : "lines") : mode;
  const enc = new TextEncoder();
  const start = performance.now();
  let stepsDone = 0;
  return {
    step(epoch, step, ips) {
      stepsDone++;
      if (m !== "bar") return;
      const total = epochs * stepsPerEpoch;
      const elapsed = (performance.now() - start) / 1000;
      const remaining = Math.max(0, total - (epoch * stepsPerEpoch + step));
      const eta = stepsDone ? (elapsed / stepsDone) * remaining : 0;
      const width = 24, filled = Math.round((step / stepsPerEpoch) * width);
      const bar = "#".repeat(filled) + ".".repeat(width - filled);
      Deno.stderr.writeSync(
        enc.encode(
          `\repoch ${epoch + 1}/${epochs} [${bar}] ${step}/${stepsPerEpoch} ${ips.toFixed(1)} img/s ETA ${
            eta.toFixed(0)
          } s   `,
        ),
      );
    },
    epoch(r) {
      if (m === "none") return;
      if (m === "bar") Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
      console.log(epochLine(r, epochs));
    },
    done(message) {
      if (m === "none") return;
      if (m === "bar") Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
      console.log(message);
    },
  };
}
