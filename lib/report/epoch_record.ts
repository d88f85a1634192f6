/**
 * The records a run writes and its report reads (shared by the trainer and the report, so neither imports the other).
 *
 * @module
 */
import type { SplitMetrics } from "../infer/evaluation.ts";

/** One line of `metrics.jsonl`. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Mean training losses of the epoch. */
  losses: Record<string, number>;
  /** Validation metrics. */
  val: SplitMetrics;
  /** Training throughput (images per second, this epoch). */
  imagesPerSecond: number;
  /** Wall seconds of the epoch (training + validation). */
  seconds: number;
  /** Learning rate used. */
  lr: number;
}
