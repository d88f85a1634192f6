/**
 * The epoch's loss bookkeeping: the mean of each loss over the steps (kept on the device until the epoch ends) and the
 * check that every step's losses are finite (read one step late, so that the device is never waited for).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { NON_FINITE_CAUSES, NonFiniteError } from "../checkpoint/numerics.ts";

/** Mean over steps of scalar losses, kept on the device until the epoch ends (no per-step readback). */
export class LossMeter {
  private sums = new Map<string, tf.Scalar>();
  private n = 0;
  add(values: Record<string, tf.Scalar>) {
    for (const [k, v] of Object.entries(values)) {
      const prev = this.sums.get(k);
      this.sums.set(k, tf.keep(prev ? tf.add(prev, v) as tf.Scalar : v.clone()));
      prev?.dispose();
    }
    this.n++;
  }
  async read(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.sums) out[k] = (await v.data())[0] / Math.max(this.n, 1);
    return out;
  }
  dispose() {
    tf.dispose([...this.sums.values()]);
    this.sums.clear();
    this.n = 0;
  }
}

/**
 * Checks that every step's losses are finite. Each step's losses are read one step late, so that JS encodes the next
 * step while the device finishes this one (no extra wait per step).
 */
export class FiniteLossCheck {
  private pending?: { read: Promise<Float32Array>; t: tf.Tensor; names: string[]; where: string };
  /** Starts reading this step's losses. */
  start(values: Record<string, tf.Scalar>, where: string) {
    const t = tf.stack(Object.values(values));
    this.pending = { read: t.data() as Promise<Float32Array>, t, names: Object.keys(values), where };
  }
  /** Waits for the pending read; throws a NonFiniteError when a loss is not finite. */
  async settle(afterwards: string) {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    let v: Float32Array;
    try {
      v = await p.read;
    } finally {
      p.t.dispose();
    }
    const i = v.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) {
      throw new NonFiniteError(
        `${p.where}: the ${p.names[i]} loss is ${v[i]}; training stopped, and no checkpoint was written after ` +
          `this step (${afterwards}); ${NON_FINITE_CAUSES}`,
      );
    }
  }
  dispose() {
    this.pending?.t.dispose();
    this.pending = undefined;
  }
}
