/**
 * Building blocks shared by the models: a seeded, backend-independent random number generator,
 * the initialisers (Glorot-uniform, orthogonal, LSTM bias with forget gate 1), a store of named
 * variables, dense layers on any rank, seeded dropout and the FiLM operations.
 *
 * Initial values are computed in plain JavaScript from a per-variable seed derived from the model
 * seed and the variable's name, so the same seed gives the same weights on every backend and in any
 * creation order.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fnv1a, mulberry32 } from "../data/random.ts";
import type { LstmWeights } from "./types.ts";
import { filmHidden, filmInput } from "./kernels/fused_ops.ts";
import { matMul } from "./kernels/matmul.ts";

/**
 * A 32-bit seed for `name` under the model seed `seed` (FNV-1a over "seed/name").
 *
 * @example
 * ```ts
 * import { seedFor } from "./layers.ts";
 * console.log(seedFor(1, "head/kernel") === seedFor(1, "head/kernel")); // true
 * ```
 */
export function seedFor(seed: number, name: string): number {
  return fnv1a(`${seed}/${name}`);
}

/** A seeded uniform generator on [0, 1) (mulberry32 from a raw state; see lib/data/random.ts). */
export { mulberry32 };

/**
 * Glorot-uniform values for a `[fanIn, fanOut]` kernel: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * import { glorotUniform } from "./layers.ts";
 * console.log(glorotUniform([3, 4], 1).length); // 12
 * ```
 */
export function glorotUniform(shape: [number, number], seed: number): Float32Array {
  const [fanIn, fanOut] = shape;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const next = mulberry32(seed);
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (2 * next() - 1) * limit;
  return out;
}

/**
 * A `[rows, cols]` matrix with orthonormal rows (when rows <= cols) or columns (otherwise), from
 * Gram-Schmidt on seeded normal draws, like Keras' orthogonal initialiser.
 *
 * @example
 * ```ts
 * import { orthogonal } from "./layers.ts";
 * const q = orthogonal([2, 8], 3); // two orthonormal rows of length 8
 * console.log(q.length); // 16
 * ```
 */
export function orthogonal(shape: [number, number], seed: number): Float32Array {
  const [rows, cols] = shape;
  // Orthonormalise the shorter side: `n` vectors of length `len`.
  const n = Math.min(rows, cols);
  const len = Math.max(rows, cols);
  const next = mulberry32(seed);
  const normal = () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const vectors: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float64Array(len);
    for (let j = 0; j < len; j++) v[j] = normal();
    for (const q of vectors) {
      let dot = 0;
      for (let j = 0; j < len; j++) dot += v[j] * q[j];
      for (let j = 0; j < len; j++) v[j] -= dot * q[j];
    }
    let norm = 0;
    for (let j = 0; j < len; j++) norm += v[j] * v[j];
    norm = Math.sqrt(norm);
    for (let j = 0; j < len; j++) v[j] /= norm;
    vectors.push(v);
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = rows <= cols ? vectors[r][c] : vectors[c][r];
    }
  }
  return out;
}

/**
 * The LSTM bias `[4H]`: zeros, except 1 on the forget gate (the second block of H).
 *
 * @example
 * ```ts
 * import { lstmBias } from "./layers.ts";
 * console.log(Array.from(lstmBias(1))); // [0, 1, 0, 0]
 * ```
 */
export function lstmBias(hidden: number): Float32Array {
  const out = new Float32Array(4 * hidden);
  out.fill(1, hidden, 2 * hidden);
  return out;
}

/** How a variable is initialised. */
export type Init = "glorot" | "orthogonal" | "zeros" | "lstm_bias" | Float32Array;

/** A dense layer's variables; `bias` is absent for bias-free projections. */
export interface DenseWeights {
  kernel: tf.Variable;
  bias?: tf.Variable;
}

let storeCounter = 0;

/**
 * Named, seeded variables of one model. Names are the stable keys (e.g. "decoder/lstm/kernel");
 * the underlying `tf.Variable` gets a unique engine name so several models can coexist.
 *
 * @example
 * ```ts
 * import { VariableStore } from "./layers.ts";
 * const store = new VariableStore(7);
 * const head = store.dense("head", 4, 3);
 * console.log(head.kernel.shape, store.variables.size); // [4, 3] 2
 * store.dispose();
 * ```
 */
export class VariableStore {
  /** The variables, in creation order. */
  readonly variables: Map<string, tf.Variable> = new Map();
  readonly #seed: number;
  readonly #prefix: string;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) {
      throw new Error(`VariableStore: seed must be an integer, got ${seed}`);
    }
    this.#seed = seed;
    this.#prefix = `tamflux_${++storeCounter}`;
  }

  /** Create a variable `name` of `shape`, initialised by `init`. */
  add(name: string, shape: number[], init: Init): tf.Variable {
    if (this.variables.has(name)) throw new Error(`VariableStore: duplicate variable "${name}"`);
    const size = shape.reduce((a, b) => a * b, 1);
    let values: Float32Array;
    if (init instanceof Float32Array) {
      values = init;
    } else if (init === "zeros") {
      values = new Float32Array(size);
    } else if (init === "lstm_bias") {
      values = lstmBias(shape[0] / 4);
    } else {
      if (shape.length !== 2) {
        throw new Error(`VariableStore: "${init}" needs a 2-D shape (${name})`);
      }
      const seed = seedFor(this.#seed, name);
      const pair: [number, number] = [shape[0], shape[1]];
      values = init === "glorot" ? glorotUniform(pair, seed) : orthogonal(pair, seed);
    }
    if (values.length !== size) {
      throw new Error(`VariableStore: ${name} has ${values.length} values for shape [${shape}]`);
    }
    const variable = tf.tidy(() =>
      tf.variable(tf.tensor(values, shape, "float32"), true, `${this.#prefix}/${name}`)
    );
    this.variables.set(name, variable);
    return variable;
  }

  /** A dense layer `name/kernel` `[nIn, nOut]` (Glorot) and, unless `bias: false`, `name/bias` (zeros). */
  dense(name: string, nIn: number, nOut: number, options: { bias?: boolean } = {}): DenseWeights {
    const kernel = this.add(`${name}/kernel`, [nIn, nOut], "glorot");
    if (options.bias === false) return { kernel };
    return { kernel, bias: this.add(`${name}/bias`, [nOut], "zeros") };
  }

  /** LSTM weights `name/kernel` (Glorot), `name/recurrent` (orthogonal), `name/bias` (forget 1). */
  lstm(name: string, nIn: number, hidden: number): LstmWeights {
    return {
      kernel: this.add(`${name}/kernel`, [nIn, 4 * hidden], "glorot") as tf.Tensor2D,
      recurrent: this.add(`${name}/recurrent`, [hidden, 4 * hidden], "orthogonal") as tf.Tensor2D,
      bias: this.add(`${name}/bias`, [4 * hidden], "lstm_bias") as tf.Tensor1D,
    };
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    this.variables.clear();
  }
}

/** Options of {@linkcode dense}. */
export interface DenseOptions {
  /**
   * `x` is data, not computed from trainable variables: the backward pass skips its gradient
   * (asking for it anyway makes `tf.grads` throw).
   */
  dataInput?: boolean;
}

/**
 * A dense layer on the last axis of a tensor of any rank >= 2: `x W (+ b)`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dense } from "./layers.ts";
 * const y = dense(tf.ones([2, 5, 3]), { kernel: tf.variable(tf.ones([3, 4])) });
 * console.log(y.shape); // [2, 5, 4]
 * ```
 */
export function dense<T extends tf.Tensor>(
  x: T,
  weights: DenseWeights,
  options: DenseOptions = {},
): T {
  return tf.tidy(() => {
    const nIn = x.shape[x.rank - 1];
    const lead = x.shape.slice(0, -1);
    const flat = x.rank === 2
      ? x as unknown as tf.Tensor2D
      : tf.reshape(x, [-1, nIn]) as tf.Tensor2D;
    let y: tf.Tensor = matMul(flat, weights.kernel as tf.Tensor2D, options);
    if (weights.bias !== undefined) y = tf.add(y, weights.bias);
    return (x.rank === 2 ? y : tf.reshape(y, [...lead, weights.kernel.shape[1] as number])) as T;
  });
}

/**
 * Inverted dropout (scaled by 1 / (1 - rate)) when `training` and `rate > 0`, identity otherwise.
 * With a `seed` the mask is reproducible.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dropout } from "./layers.ts";
 * const y = dropout(tf.ones([4, 4]), 0.5, { training: true, seed: 1 });
 * ```
 */
export function dropout<T extends tf.Tensor>(
  x: T,
  rate: number,
  options: { training: boolean; seed?: number },
): T {
  if (!options.training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, options.seed) as T;
}

/**
 * FiLM input modulation factor `s = ReLU(W_s c + b_s) + 1`, `[B, H]` from `c` `[B, C]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { inputModulation } from "./layers.ts";
 * const s = inputModulation(tf.ones([2, 3]), { kernel: tf.variable(tf.zeros([3, 4])) });
 * console.log(s.shape); // [2, 4], all ones
 * ```
 */
export function inputModulation(c: tf.Tensor2D, weights: DenseWeights): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.relu(dense(c, weights)), 1));
}

/**
 * Apply input modulation: `x' = s * x + s` with `x` `[B, T, H]` and `s` `[B, H]` (same s every step).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { modulateInput } from "./layers.ts";
 * const y = modulateInput(tf.zeros([2, 5, 4]), tf.ones([2, 4])); // all ones
 * ```
 */
export function modulateInput(x: tf.Tensor3D, s: tf.Tensor2D): tf.Tensor3D {
  return filmInput(x, s);
}

/**
 * Apply hidden modulation `h' = (γ + 1) * h + β` with `h` `[B, T, H]` and `gammaBeta` `[B, 2H]`
 * (γ the first H columns, β the last H).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { modulateHidden } from "./layers.ts";
 * const h = modulateHidden(tf.ones([2, 5, 4]), tf.zeros([2, 8])); // unchanged
 * ```
 */
export function modulateHidden(h: tf.Tensor3D, gammaBeta: tf.Tensor2D): tf.Tensor3D {
  return filmHidden(h, gammaBeta);
}
