/**
 * Adam and AdamW with a step-decay learning-rate schedule and optional gradient clipping, with a
 * state that can be saved and restored exactly (for `--resume`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ADAM_CONSTANTS } from "../models/kernels/wasm_adam.ts";
import { activeWasmHeap } from "../models/kernels/wasm_kernels.ts";

/** Settings of the optimizer. */
export interface OptimizerOptions {
  /** "adam": weight decay as an L2 term added to the gradient; "adamw": decoupled decay. */
  kind?: "adam" | "adamw";
  /** Base learning rate. */
  lr: number;
  /** Weight decay (0 = none). */
  weightDecay?: number;
  /** Multiply the learning rate by `decayGamma` every `decayStep` epochs (0 = no decay). */
  decayStep?: number;
  /** Factor of the step decay. */
  decayGamma?: number;
  /** Clip gradients to this global L2 norm (0 = no clipping). */
  clipNorm?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** The optimizer's state: the step counter and the moment estimates, by variable name. */
export interface OptimizerState {
  step: number;
  tensors: Map<string, tf.Tensor>;
}

/**
 * The learning rate of an epoch (0-based) under step decay.
 *
 * @example
 * ```ts
 * import { stepDecayLr } from "./optim.ts";
 * stepDecayLr(25, { lr: 1e-3, decayStep: 10, decayGamma: 0.5 }); // 2.5e-4
 * ```
 */
export function stepDecayLr(
  epoch: number,
  options: Pick<OptimizerOptions, "lr" | "decayStep" | "decayGamma">,
): number {
  const step = options.decayStep ?? 0;
  if (step <= 0) return options.lr;
  return options.lr * Math.pow(options.decayGamma ?? 1, Math.floor(epoch / step));
}

/** A float32 tensor's values (read-only; a copy or the backend's own array). */
function float32Values(t: tf.Tensor): Float32Array {
  const data = t.dataSync();
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/**
 * Adam / AdamW over a fixed set of named variables.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Adam } from "./optim.ts";
 * const w = tf.variable(tf.scalar(3));
 * const opt = new Adam(new Map([["w", w]]), { lr: 0.1 });
 * for (let i = 0; i < 100; i++) {
 *   const { grads } = tf.variableGrads(() => tf.square(w) as tf.Scalar, [w]);
 *   opt.apply(new Map([["w", grads[w.name]]]), 0);
 *   tf.dispose(grads);
 * }
 * ```
 */
export class Adam {
  readonly options: Required<OptimizerOptions>;
  #variables: Map<string, tf.Variable>;
  #m = new Map<string, tf.Tensor>();
  #v = new Map<string, tf.Tensor>();
  #step = 0;

  constructor(variables: Map<string, tf.Variable>, options: OptimizerOptions) {
    this.#variables = variables;
    this.options = {
      kind: options.kind ?? "adam",
      lr: options.lr,
      weightDecay: options.weightDecay ?? 0,
      decayStep: options.decayStep ?? 0,
      decayGamma: options.decayGamma ?? 1,
      clipNorm: options.clipNorm ?? 0,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8,
    };
    for (const [name, v] of variables) {
      this.#m.set(name, tf.keep(tf.zerosLike(v)));
      this.#v.set(name, tf.keep(tf.zerosLike(v)));
    }
  }

  /** Number of updates applied so far. */
  get step(): number {
    return this.#step;
  }

  /** The learning rate used in an epoch. */
  lrAt(epoch: number): number {
    return stepDecayLr(epoch, this.options);
  }

  /**
   * Apply one update. `grads` maps variable names to gradients (not disposed here); returns the
   * global gradient norm before clipping.
   */
  apply(grads: Map<string, tf.Tensor>, epoch: number): number {
    const o = this.options;
    const lr = this.lrAt(epoch);
    this.#step++;
    const t = this.#step;
    const c1 = 1 - Math.pow(o.beta1, t);
    const c2 = 1 - Math.pow(o.beta2, t);
    const names = [...this.#variables.keys()].filter((n) => grads.has(n));
    // One pass per variable instead of a dozen tensor ops each: on the wasm heap with SIMD where
    // the backend is wasm, else over plain arrays.
    const heap = activeWasmHeap();
    // The global norm, from views of the wasm heap (no copy) or from arrays.
    const gradValues = names.map((n) => {
      const g = grads.get(n)!;
      if (heap === null) return float32Values(g);
      const at = heap.offsetOf(g) / 4;
      return heap.floats().subarray(at, at + g.size);
    });
    let sumSq = 0;
    for (const g of gradValues) for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
    const norm = Math.sqrt(sumSq);
    const scale = o.clipNorm > 0 && norm > o.clipNorm ? o.clipNorm / norm : 1;
    const l2 = o.kind === "adam" ? o.weightDecay : 0;
    const shrink = o.kind === "adamw" && o.weightDecay > 0 ? 1 - lr * o.weightDecay : 1;
    const { beta1: b1, beta2: b2, epsilon } = o;
    const constants = heap?.alloc([ADAM_CONSTANTS.length]);
    heap?.floats().set(
      [scale, l2, b1, 1 - b1, b2, 1 - b2, lr / c1, 1 / c2, epsilon, shrink],
      constants!.offset / 4,
    );
    for (const name of names) {
      const variable = this.#variables.get(name)!;
      const oldM = this.#m.get(name)!;
      const oldV = this.#v.get(name)!;
      const g = grads.get(name)!;
      let next: [tf.Tensor, tf.Tensor, tf.Tensor];
      if (heap !== null && constants !== undefined && variable.size % 4 === 0) {
        // On the wasm heap, four lanes at a time.
        const [w2, m2, v2] = [0, 1, 2].map(() => heap.alloc(variable.shape));
        heap.kernels.adam(
          heap.offsetOf(variable),
          heap.offsetOf(g),
          heap.offsetOf(oldM),
          heap.offsetOf(oldV),
          w2.offset,
          m2.offset,
          v2.offset,
          variable.size,
          constants.offset,
        );
        next = [w2.tensor, m2.tensor, v2.tensor];
      } else {
        // In JavaScript: the moments and the update in double precision, rounded once to float32.
        const gv = float32Values(g);
        const w = float32Values(variable), m = float32Values(oldM), v = float32Values(oldV);
        const nextW = new Float32Array(w.length);
        const nextM = new Float32Array(w.length);
        const nextV = new Float32Array(w.length);
        for (let i = 0; i < w.length; i++) {
          const gi = gv[i] * scale + l2 * w[i];
          nextM[i] = b1 * m[i] + (1 - b1) * gi;
          nextV[i] = b2 * v[i] + (1 - b2) * gi * gi;
          nextW[i] = shrink * w[i] - lr * (nextM[i] / c1) / (Math.sqrt(nextV[i] / c2) + epsilon);
        }
        next = [nextW, nextM, nextV].map((x) => tf.tensor(x, variable.shape, "float32")) as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
        ];
      }
      variable.assign(next[0]);
      next[0].dispose();
      oldM.dispose();
      oldV.dispose();
      this.#m.set(name, tf.keep(next[1]));
      this.#v.set(name, tf.keep(next[2]));
    }
    constants?.tensor.dispose();
    return norm;
  }

  /** A copy of the state (the caller disposes its tensors). */
  getState(): OptimizerState {
    const tensors = new Map<string, tf.Tensor>();
    for (const [n, m] of this.#m) tensors.set(`m/${n}`, m.clone());
    for (const [n, v] of this.#v) tensors.set(`v/${n}`, v.clone());
    return { step: this.#step, tensors };
  }

  /** Restore a state saved by {@link getState}; every moment must be present with its shape. */
  setState(state: OptimizerState): void {
    for (const [prefix, store] of [["m", this.#m], ["v", this.#v]] as const) {
      for (const [name, old] of store) {
        const saved = state.tensors.get(`${prefix}/${name}`);
        if (!saved) throw new Error(`Adam.setState: the state has no "${prefix}/${name}"`);
        if (saved.shape.join(",") !== old.shape.join(",")) {
          throw new Error(
            `Adam.setState: "${prefix}/${name}" is [${saved.shape}], the variable is [${old.shape}]`,
          );
        }
        store.set(name, tf.keep(saved.clone()));
        old.dispose();
      }
    }
    this.#step = state.step;
  }

  /** Free the moment tensors. */
  dispose(): void {
    for (const t of [...this.#m.values(), ...this.#v.values()]) t.dispose();
    this.#m.clear();
    this.#v.clear();
  }
}
