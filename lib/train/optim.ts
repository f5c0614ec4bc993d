/**
 * Adam and AdamW with a step-decay learning-rate schedule and optional gradient clipping, with a
 * state that can be saved and restored exactly (for `--resume`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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
    const norm = tf.tidy(() => {
      const sq = names.map((n) => tf.sum(tf.square(grads.get(n)!)));
      return sq.length ? Math.sqrt(tf.addN(sq).dataSync()[0]) : 0;
    });
    const scale = o.clipNorm > 0 && norm > o.clipNorm ? o.clipNorm / norm : 1;
    for (const name of names) {
      const variable = this.#variables.get(name)!;
      const oldM = this.#m.get(name)!;
      const oldV = this.#v.get(name)!;
      const [m, v] = tf.tidy(() => {
        let g = grads.get(name)!;
        if (scale !== 1) g = tf.mul(g, scale);
        if (o.kind === "adam" && o.weightDecay > 0) g = tf.add(g, tf.mul(variable, o.weightDecay));
        const m = tf.add(tf.mul(oldM, o.beta1), tf.mul(g, 1 - o.beta1));
        const v = tf.add(tf.mul(oldV, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), o.epsilon));
        let next: tf.Tensor = variable;
        if (o.kind === "adamw" && o.weightDecay > 0) next = tf.mul(next, 1 - lr * o.weightDecay);
        variable.assign(tf.sub(next, tf.mul(update, lr)));
        return [m, v];
      });
      oldM.dispose();
      oldV.dispose();
      this.#m.set(name, m);
      this.#v.set(name, v);
    }
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
