/**
 * Reseeding `Math.random` around a training step (tfjs's dropout draws from it), used inside the trainer.
 *
 * @module
 */
import { createRng } from "../data/rng.ts";

/** Runs `fn` with `Math.random` replaced by a generator seeded from `seeds`. */
export function withSeededRandom<T>(seeds: number[], fn: () => T): T {
  const saved = Math.random;
  const rng = createRng(...seeds);
  Math.random = () => rng.next();
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}
