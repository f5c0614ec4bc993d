/**
 * The experiment configuration (`configs/<name>.json`): the dataset, the model, the training
 * schedule and loss, the seeds and the backend, validated with zod.
 *
 * @module
 */
import { z } from "zod";
import { DatasetConfigSchema } from "../data/dataset.ts";
import { FeatureSetSchema } from "../data/features.ts";
import { MODEL_NAMES, ModelConfigSchema } from "../models/config.ts";

/** The model names `--model` accepts. */
export const MODEL_NAMES_FOR_CLI: readonly string[] = MODEL_NAMES;

const positiveInt = z.number().int().positive();

/** The loss terms and their switches. */
export const LossConfigSchema = z.object({
  alpha: z.number().min(0).default(0.1),
  useQc: z.boolean().default(true),
  useClassWeights: z.boolean().default(true),
  useBalance: z.boolean().default(true),
}).strict();

/** The training schedule. */
export const TrainConfigSchema = z.object({
  epochs: positiveInt.default(100),
  batchSize: positiveInt.default(64),
  /** Batch size for validation and prediction (no gradients, so it can be larger). */
  evalBatchSize: positiveInt.default(256),
  optimizer: z.enum(["adam", "adamw"]).default("adam"),
  lr: z.number().positive().default(1e-3),
  weightDecay: z.number().min(0).default(0),
  /** Step decay: lr * gamma^floor(epoch / step); step 0 = constant lr. */
  decay: z.object({
    step: z.number().int().min(0).default(0),
    gamma: z.number().positive().max(1).default(1),
  }).strict().default({ step: 0, gamma: 1 }),
  /** Clip gradients to this global L2 norm; 0 = no clipping. */
  clipNorm: z.number().min(0).default(0),
  /** Stop after this many epochs without a better validation loss. */
  patience: positiveInt.default(10),
  /** A validation loss counts as better when it is below best - minDelta. */
  minDelta: z.number().min(0).default(0),
  /** Stage 1 for tamrl/tamlstm: train an `lstm` first and copy its weights into the decoder. */
  pretrain: z.object({
    enabled: z.boolean().default(true),
    epochs: positiveInt.default(20),
  }).strict().default({ enabled: true, epochs: 20 }),
  loss: LossConfigSchema.default({
    alpha: 0.1,
    useQc: true,
    useClassWeights: true,
    useBalance: true,
  }),
}).strict();

/** The whole experiment. */
export const ExperimentConfigSchema = z.object({
  /** Name of the experiment; runs go to runs/<name>/<model>/seed<seed>/ by default. */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only"),
  description: z.string().optional(),
  data: DatasetConfigSchema.prefault({}),
  model: ModelConfigSchema,
  train: TrainConfigSchema,
  /** One run per seed; an ensemble averages them. */
  seeds: z.array(z.number().int().min(0)).min(1).default([0]),
  /**
   * Also train every seed on this feature set, as further members of the same ensemble folder
   * (`<featureSet>_seed<N>` beside `seed<N>`; see {@link ensembleGroups}): e.g. "meteo", so that
   * predict can serve sites without MODIS LAI/EVI. Must differ from `data.featureSet`.
   */
  fallbackFeatureSet: FeatureSetSchema.optional(),
  backend: z.enum(["wasm", "cpu"]).default("wasm"),
}).strict().superRefine((c, ctx) => {
  if (c.fallbackFeatureSet !== undefined && c.fallbackFeatureSet === c.data.featureSet) {
    ctx.addIssue({
      code: "custom",
      path: ["fallbackFeatureSet"],
      message: `must differ from data.featureSet (${c.data.featureSet})`,
    });
  }
});

/** A validated experiment configuration (defaults filled in). */
export type ExperimentConfig = z.output<typeof ExperimentConfigSchema>;
/** What a config file may contain. */
export type ExperimentConfigInput = z.input<typeof ExperimentConfigSchema>;
/** The validated training schedule. */
export type TrainConfig = z.output<typeof TrainConfigSchema>;
/** The validated loss switches. */
export type LossConfig = z.output<typeof LossConfigSchema>;

/**
 * Validate a raw experiment configuration; the error names `source` and every offending field.
 *
 * @example
 * ```ts
 * import { parseExperimentConfig } from "./config.ts";
 * const config = parseExperimentConfig({
 *   name: "demo", data: {}, model: { name: "lstm", hidden: 8 }, train: { epochs: 2 },
 * });
 * console.log(config.train.loss.alpha); // 0.1
 * ```
 */
export function parseExperimentConfig(
  raw: unknown,
  options: { source?: string } = {},
): ExperimentConfig {
  const result = ExperimentConfigSchema.safeParse(raw);
  if (!result.success) {
    const where = options.source ?? "experiment config";
    const issues = result.error.issues.map((issue) =>
      `${issue.path.join(".") || "(root)"}: ${issue.message}`
    );
    throw new Error(`${where}: invalid config: ${issues.join("; ")}`);
  }
  return result.data;
}

/**
 * Read and validate a config file.
 *
 * @example
 * ```ts
 * import { loadExperimentConfig } from "./config.ts";
 * const config = await loadExperimentConfig("configs/quick.json");
 * ```
 */
export async function loadExperimentConfig(path: string): Promise<ExperimentConfig> {
  const text = await Deno.readTextFile(path);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return parseExperimentConfig(raw, { source: path });
}

/**
 * The config with overrides from the command line (model name, seeds), re-validated.
 *
 * @example
 * ```ts
 * import { parseExperimentConfig, withOverrides } from "./config.ts";
 * const base = parseExperimentConfig({ name: "d", data: {}, model: { name: "lstm" }, train: {} });
 * const tamrl = withOverrides(base, { model: "tamrl", seed: 3 });
 * ```
 */
export function withOverrides(
  config: ExperimentConfig,
  overrides: { model?: string; seed?: number },
): ExperimentConfig {
  const raw = structuredClone(config) as Record<string, unknown>;
  if (overrides.model) raw.model = { ...(raw.model as object), name: overrides.model };
  if (overrides.seed !== undefined) raw.seeds = [overrides.seed];
  return parseExperimentConfig(raw, { source: "config with command-line overrides" });
}

/** One group of an ensemble's members: the runs of one feature set. */
export interface EnsembleGroup {
  /** The feature set of the group's runs. */
  featureSet: string;
  /** Member folder name prefix: "" for the config's feature set, "<featureSet>_" for the fallback. */
  prefix: string;
  /** The config every member of the group trains with (no `fallbackFeatureSet`). */
  config: ExperimentConfig;
}

/**
 * The member groups of a config: its own feature set (folders `seed<N>`), then, with
 * `fallbackFeatureSet`, the same config on that feature set (folders `<featureSet>_seed<N>`).
 * Each group's config is a plain single-feature-set config, so each member is a normal run folder.
 *
 * @example
 * ```ts
 * import { ensembleGroups, parseExperimentConfig } from "./config.ts";
 * const config = parseExperimentConfig({
 *   name: "p", data: { featureSet: "minimal" }, model: { name: "tamrl" }, train: {},
 *   fallbackFeatureSet: "meteo",
 * });
 * ensembleGroups(config).map((g) => g.prefix); // ["", "meteo_"]
 * ```
 */
export function ensembleGroups(config: ExperimentConfig): EnsembleGroup[] {
  const { fallbackFeatureSet, ...plain } = config;
  const main = parseExperimentConfig(plain, { source: "config" });
  const groups: EnsembleGroup[] = [
    { featureSet: main.data.featureSet, prefix: "", config: main },
  ];
  if (fallbackFeatureSet !== undefined) {
    groups.push({
      featureSet: fallbackFeatureSet,
      prefix: `${fallbackFeatureSet}_`,
      config: parseExperimentConfig(
        { ...plain, data: { ...plain.data, featureSet: fallbackFeatureSet } },
        { source: `config with featureSet ${fallbackFeatureSet}` },
      ),
    });
  }
  return groups;
}
