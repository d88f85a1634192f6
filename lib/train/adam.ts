/**
 * Adam with a fused update on WebGPU: the same algorithm, state layout and `getWeights`/`setWeights` format as
 * `tf.train.adam` (it is a subclass of tfjs's `AdamOptimizer`), but on the `webgpu` backend with the fast kernels
 * on it runs 3 dispatches per variable instead of about 14, and writes the new values into the variables' and moments'
 * own buffers when no other tensor shares them (`adamStepInPlace`). Elsewhere (cpu backend, `useFastKernels(false)`)
 * it is stock tfjs Adam.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fastKernelsEnabled } from "../kernels/registry.ts";
import { ADAM_MOMENT_KERNEL, ADAM_UPDATE_KERNEL, adamStepInPlace } from "../kernels/webgpu_adam.ts";
import { storedAsFloat32 } from "../kernels/webgpu_program.ts";

/** What tfjs's `AdamOptimizer.applyGradients` takes: gradients by variable name, or a list of `{ name, tensor }`. */
export type AdamGradients = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/** The parts of tfjs's AdamOptimizer state this subclass reads (private in tfjs's typings). */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  epsilon: number;
}

/**
 * Adam (Kingma & Ba, 2015) whose per-variable update is fused into 3 WebGPU dispatches. Bias corrections
 * `1 − βᵗ` are computed in double precision on the host from the iteration count (stock tfjs multiplies a float32
 * running product); the two agree to ~1e-7 relative. Create it with {@linkcode createAdam}; on other backends it is
 * tfjs's Adam.
 *
 * @example
 * ```ts
 * import { createAdam, FusedAdamOptimizer, initBackend } from "@appaunet/appaunet";
 * import * as tf from "@appaunet/appaunet/tf";
 * import assert from "node:assert/strict";
 * await initBackend({ backend: "cpu" });
 * const opt = createAdam(0.1);
 * assert.ok(opt instanceof FusedAdamOptimizer);
 * const w = tf.variable(tf.scalar(1));
 * opt.minimize(() => w.square() as tf.Scalar);
 * assert.ok((await w.data())[0] < 1);
 * ```
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /**
   * Whether `accBeta1`/`accBeta2` (βᵗ, read only by stock Adam's update) lag behind the iteration count: the fused
   * update takes its bias corrections from the count and leaves them alone, so that a step creates no tensors.
   */
  private accBetaStale = false;

  /**
   * Applies one Adam step to the named variables.
   *
   * @param variableGradients gradients by variable name (as `tf.variableGrads` returns them) or as a list
   */
  override applyGradients(variableGradients: AdamGradients): void {
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const grad = (name: string, i: number) =>
      (Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name]) as
        | tf.Tensor
        | undefined;
    const backend = tf.backend();
    const fused = tf.getBackend() === "webgpu" && fastKernelsEnabled() &&
      names.every((name, i) => {
        const g = grad(name, i);
        const v = tf.engine().registeredVariables[name];
        return (!g || storedAsFloat32(backend, g)) && v && storedAsFloat32(backend, v);
      });
    const self = this as unknown as AdamState;
    if (!fused) {
      if (this.accBetaStale) {
        // Stock Adam reads βᵗ from these; the fused steps since the last stock one did not update them.
        const t = this.iterations + 1;
        tf.tidy(() => {
          self.accBeta1.assign(tf.scalar(Math.pow(this.beta1, t)));
          self.accBeta2.assign(tf.scalar(Math.pow(this.beta2, t)));
        });
        this.accBetaStale = false;
      }
      return super.applyGradients(variableGradients);
    }
    const t = this.iterations + 1;
    const c1 = 1 - Math.pow(this.beta1, t), c2 = 1 - Math.pow(this.beta2, t);
    tf.tidy(() => {
      const coefficients = tf.tensor1d([this.learningRate, c1, c2, self.epsilon]);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        self.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        self.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        const g = grad(name, i);
        if (g == null) return;
        const m = self.accumulatedFirstMoment[i].variable, v = self.accumulatedSecondMoment[i].variable;
        if (adamStepInPlace(backend, { value, m, v, g }, { beta1: this.beta1, beta2: this.beta2, coefficients })) {
          return;
        }
        const run = (k: string, inputs: tf.NamedTensorMap, attrs: Record<string, number | boolean>) =>
          tf.engine().runKernel(k, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        const newM = run(ADAM_MOMENT_KERNEL, { m, g }, { beta: this.beta1, square: false });
        const newV = run(ADAM_MOMENT_KERNEL, { m: v, g }, { beta: this.beta2, square: true });
        const newValue = run(ADAM_UPDATE_KERNEL, { value, m: newM, v: newV, k: coefficients }, {});
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
    });
    this.accBetaStale = true;
    this.incrementIterations();
  }
}

/**
 * Creates an Adam optimizer that uses the fused WebGPU update when it can ({@linkcode FusedAdamOptimizer}); a
 * drop-in for `tf.train.adam` with the same defaults.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createAdam } from "@appaunet/appaunet";
 * import assert from "node:assert/strict";
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const opt = createAdam(0.1);
 * opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]);
 * assert.equal((await w.data())[0] < 1, true);
 * ```
 * @param learningRate step size. Default 0.001.
 * @param beta1 decay of the first-moment estimate. Default 0.9.
 * @param beta2 decay of the second-moment estimate. Default 0.999.
 * @param epsilon added to the denominator. Default: the backend's epsilon (1e-7), as in tfjs.
 * @returns the optimizer
 */
export function createAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
