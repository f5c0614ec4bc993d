/**
 * The zod-validated configuration of every neural model: which model, its widths (H, Z, MLP
 * layers), its depth, dropout and the LSTM implementation.
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
 *   TF.js ops in lstm_seq.ts: the test oracle and the "before" of the speed-up).
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
