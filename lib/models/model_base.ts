/**
 * Wraps a forward function and its variables into a {@linkcode FluxModel}: input shape checks,
 * `tf.tidy`, and per-call dropout seeds.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig, ModelName } from "./config.ts";
import { dropout, seedFor, type VariableStore } from "./layers.ts";
import type { ApplyOptions, FluxModel, ModelDims, ModelInput } from "./types.ts";

/** What a forward function gets besides the input. */
export interface ForwardContext {
  /** Whether dropout is active. */
  training: boolean;
  /** Dropout at the configured rate; the k-th call in one forward pass gets seed (seed, k). */
  dropout<T extends tf.Tensor>(x: T): T;
  /**
   * The seed of a named random draw of this forward pass (e.g. "z/noise"), derived from the
   * `apply` seed; undefined when `apply` got no seed (then the draw is not reproducible).
   */
  seed(name: string): number | undefined;
}

/** What {@linkcode createFluxModel} needs. */
export interface ModelSpec {
  name: ModelName;
  config: ModelConfig;
  dims: ModelDims;
  store: VariableStore;
  /** Whether `apply` needs `support` (tamrl). */
  needsSupport: boolean;
  forward(input: ModelInput, context: ForwardContext): tf.Tensor3D;
  embed?(support: tf.Tensor4D): tf.Tensor2D;
}

/**
 * Check the dims passed to a model builder.
 *
 * @example
 * ```ts
 * import { checkDims } from "./model_base.ts";
 * checkDims({ nDyn: 5, nStatic: 3 }, "lstm");
 * ```
 */
export function checkDims(dims: ModelDims, name: string): void {
  for (const key of ["nDyn", "nStatic"] as const) {
    const value = dims[key];
    if (!Number.isInteger(value) || value < 0 || (key === "nDyn" && value === 0)) {
      throw new Error(
        `${name}: dims.${key} must be a ${
          key === "nDyn" ? "positive" : "non-negative"
        } integer, got ${value}`,
      );
    }
  }
}

/**
 * Check a support tensor `[B, K, T', F + S]` against the model dims (and the batch size, if given).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkSupport } from "./model_base.ts";
 * checkSupport(tf.zeros([2, 3, 10, 8]) as tf.Tensor4D, { nDyn: 5, nStatic: 3 }, { name: "tamrl" });
 * ```
 */
export function checkSupport(
  support: tf.Tensor4D,
  dims: ModelDims,
  options: { name: string; batch?: number },
): void {
  const width = dims.nDyn + dims.nStatic;
  if (
    support.rank !== 4 || support.shape[3] !== width ||
    (options.batch !== undefined && support.shape[0] !== options.batch) || support.shape[1] < 1
  ) {
    const b = options.batch ?? "B";
    throw new Error(
      `${options.name}: support must be [B=${b}, K>=1, T, F+S=${width}], got [${support.shape}]`,
    );
  }
}

function checkInput(
  input: ModelInput,
  dims: ModelDims,
  spec: { name: string; needsSupport: boolean; latent: number },
): void {
  const { name, needsSupport, latent } = spec;
  const { xDyn, xStatic, support } = input;
  if (xDyn === undefined || xDyn.rank !== 3 || xDyn.shape[2] !== dims.nDyn) {
    throw new Error(`${name}: xDyn must be [B, T, F=${dims.nDyn}], got [${xDyn?.shape}]`);
  }
  const batch = xDyn.shape[0];
  if (
    xStatic === undefined || xStatic.rank !== 2 || xStatic.shape[0] !== batch ||
    xStatic.shape[1] !== dims.nStatic
  ) {
    throw new Error(
      `${name}: xStatic must be [B=${batch}, S=${dims.nStatic}], got [${xStatic?.shape}]`,
    );
  }
  if (needsSupport && input.z !== undefined) {
    if (input.z.rank !== 2 || input.z.shape[0] !== batch || input.z.shape[1] !== latent) {
      throw new Error(`${name}: z must be [B=${batch}, Z=${latent}], got [${input.z.shape}]`);
    }
  } else if (needsSupport) {
    if (support === undefined) throw new Error(`${name}: input.support is required (or input.z)`);
    checkSupport(support, dims, { name, batch });
  }
}

/**
 * Build a {@linkcode FluxModel} from a forward function and its variable store.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parseModelConfig } from "./config.ts";
 * import { dense, VariableStore } from "./layers.ts";
 * import { createFluxModel } from "./model_base.ts";
 * const store = new VariableStore(1);
 * const head = store.dense("head", 2, 3);
 * const model = createFluxModel({
 *   name: "mlp", config: parseModelConfig({ name: "mlp" }), dims: { nDyn: 2, nStatic: 0 },
 *   store, needsSupport: false, forward: (input) => dense(input.xDyn, head),
 * });
 * model.dispose();
 * ```
 */
export function createFluxModel(spec: ModelSpec): FluxModel {
  const { name, config, dims, store, needsSupport } = spec;
  const model: FluxModel = {
    name,
    config,
    dims,
    variables: store.variables,
    apply(input: ModelInput, options: ApplyOptions = {}): tf.Tensor3D {
      checkInput(input, dims, { name, needsSupport, latent: config.latent });
      const training = options.training ?? false;
      const seedOf = (what: string) =>
        options.seed === undefined ? undefined : seedFor(options.seed, what);
      let calls = 0;
      const context: ForwardContext = {
        training,
        dropout: <T extends tf.Tensor>(x: T): T =>
          dropout(x, config.dropout, { training, seed: seedOf(`dropout/${calls++}`) }),
        seed: seedOf,
      };
      return tf.tidy(() => spec.forward(input, context));
    },
    dispose(): void {
      store.dispose();
    },
  };
  if (spec.embed !== undefined) {
    const embed = spec.embed;
    model.embed = (support: tf.Tensor4D): tf.Tensor2D => {
      checkSupport(support, dims, { name });
      return tf.tidy(() => embed(support));
    };
  }
  return model;
}
