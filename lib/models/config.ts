/**
 * The zod-validated configuration of every neural model: which model, its widths (H, Z, MLP
 * layers), its depth, dropout, the LSTM implementation and TAM-RL's task-embedding options.
 *
 * @module
 */
import { z } from "zod";

/** The model names tamflux knows. */
export const MODEL_NAMES = ["lstm", "ctlstm", "tamlstm", "tamrl", "mlp"] as const;

/** One of {@linkcode MODEL_NAMES}. */
export type ModelName = typeof MODEL_NAMES[number];

/** The LSTM implementations: the op-by-op reference, or the fused kernel of `kernels/fused_lstm.ts`. */
export type LstmImpl = "reference" | "fused";

const positiveInt = z.number().int().positive();

/** How TAM-RL forms z at prediction time (`model.inferenceSupport`). */
export const INFERENCE_SUPPORT = ["sampled", "all"] as const;

/** One of {@linkcode INFERENCE_SUPPORT}. */
export type InferenceSupport = typeof INFERENCE_SUPPORT[number];

/** How GPP and RECO are kept non-negative in training and inference (`model.nonNegative`). */
export const NON_NEGATIVE = ["softplus"] as const;

/** One of {@linkcode NON_NEGATIVE}. */
export type NonNegative = typeof NON_NEGATIVE[number];

/**
 * The model configuration schema. Defaults are the paper's widths (H 128, Z 32, one LSTM layer).
 *
 * - `hidden`: H, the decoder width (input Linear, LSTM, FiLM) of lstm / ctlstm / tamlstm / tamrl;
 * - `latent`: Z, the task embedding width of tamrl;
 * - `encoderHidden`: the task encoder's width (per-step Linear and both LSTM directions); null = H;
 * - `layers`: stacked decoder LSTM layers;
 * - `dropout`: rate applied, only when training, between stacked LSTM layers, after the last LSTM
 *   layer (before the head) and after each hidden MLP layer;
 * - `mlpWidths`: hidden widths of the memory-less `mlp` model;
 * - `leakySlope`: negative slope of the encoder's LeakyReLU;
 * - `lstmImpl`: "fused" (the default: kernels/fused_lstm.ts, 4-5x faster) or "reference" (plain
 *   TF.js ops in lstm_seq.ts: the test oracle and the "before" of the speed-up);
 * - TAM-RL's task embedding z (tamrl only; see {@linkcode tamrlOptions} for their defaults):
 *   - `zNoise`: std of Gaussian noise added to z, only when training (default 0: none);
 *   - `zDropout`: inverted-dropout rate on z, only when training (default 0: none);
 *   - `encoderStatic`: whether the encoder sees the static vector of each support window (default
 *     true); false: only its first F (dynamic) columns, and tamrl then reads no static descriptor;
 *   - `inferenceSupport`: "sampled" (default: K support windows drawn per query window, as in
 *     training) or "all" (at prediction time, z of a site = the encoder over every window of its
 *     support pool, computed once per site; training is unchanged).
 * - `nonNegative` (every model): absent (default: the linear head; GPP and RECO are clipped at 0
 *   only at inference) or "softplus" (GPP and RECO pass through softplus in physical units, in
 *   the loss, the validation loss and every inference path; see `heads.ts` `applyHeads`).
 *
 * The four TAM-RL fields and `nonNegative` have no zod default on purpose: a config that leaves
 * them out parses to the same object as before they existed, so its config.json and its run hash
 * (`runConfigHash`: run caches, resuming) are unchanged; code reads the TAM-RL ones through
 * {@linkcode tamrlOptions}.
 */
export const ModelConfigSchema = z.object({
  name: z.enum(MODEL_NAMES),
  hidden: positiveInt.default(128),
  latent: positiveInt.default(32),
  encoderHidden: positiveInt.nullable().default(null),
  layers: positiveInt.default(1),
  dropout: z.number().min(0).lt(1).default(0),
  mlpWidths: z.array(positiveInt).min(1).default([128, 128]),
  leakySlope: z.number().min(0).default(0.2),
  lstmImpl: z.enum(["reference", "fused"]).default("fused"),
  zNoise: z.number().min(0).optional(),
  zDropout: z.number().min(0).lt(1).optional(),
  encoderStatic: z.boolean().optional(),
  inferenceSupport: z.enum(INFERENCE_SUPPORT).optional(),
  nonNegative: z.enum(NON_NEGATIVE).optional(),
}).strict();

/** A validated model configuration (all defaults filled in). */
export type ModelConfig = z.output<typeof ModelConfigSchema>;

/** What a caller may write: every field but `name` is optional. */
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;

/**
 * Validate a raw model configuration (e.g. the "model" part of a config JSON) and fill in defaults.
 * Throws an error naming `source` and every offending field.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * const config = parseModelConfig({ name: "tamrl", hidden: 16, latent: 4 });
 * console.log(config.layers); // 1
 * ```
 */
export function parseModelConfig(
  raw: unknown,
  options: { source?: string } = {},
): ModelConfig {
  const result = ModelConfigSchema.safeParse(raw);
  if (!result.success) {
    const where = options.source ?? "model config";
    const issues = result.error.issues.map((issue) =>
      `${issue.path.join(".") || "(root)"}: ${issue.message}`
    );
    throw new Error(`${where}: invalid model config: ${issues.join("; ")}`);
  }
  return result.data;
}

/** The task encoder's width: `encoderHidden`, or H when it is null. */
export function encoderWidth(config: ModelConfig): number {
  return config.encoderHidden ?? config.hidden;
}

/** TAM-RL's task-embedding options with their defaults filled in. */
export interface TamRlOptions {
  zNoise: number;
  zDropout: number;
  encoderStatic: boolean;
  inferenceSupport: InferenceSupport;
}

/**
 * TAM-RL's task-embedding options of a model config, defaults filled in (zNoise 0, zDropout 0,
 * encoderStatic true, inferenceSupport "sampled": the model as it was before these options).
 *
 * @example
 * ```ts
 * import { parseModelConfig, tamrlOptions } from "./config.ts";
 * const options = tamrlOptions(parseModelConfig({ name: "tamrl", zNoise: 0.1 }));
 * console.log(options.zNoise, options.inferenceSupport); // 0.1 "sampled"
 * ```
 */
export function tamrlOptions(config: ModelConfig): TamRlOptions {
  return {
    zNoise: config.zNoise ?? 0,
    zDropout: config.zDropout ?? 0,
    encoderStatic: config.encoderStatic ?? true,
    inferenceSupport: config.inferenceSupport ?? "sampled",
  };
}
