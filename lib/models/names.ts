/**
 * The model names, defined once: the neural models of `MODEL_NAMES` (lib/models/config.ts, the
 * `model.name` of a config) and the trees baseline (lib/models/trees), in the order of the
 * tables, with their display names. Plans (lib/experiments `UNIT_MODELS`) and tables (lib/eval
 * `MAIN_MODELS`, `displayName`) use these.
 *
 * @module
 */
import { MODEL_NAMES } from "./config.ts";

/** Every model the toolkit trains, in table order: the trees baseline, then the neural models. */
export const ALL_MODELS = ["trees", ...MODEL_NAMES] as const;
/** One of {@link ALL_MODELS}. */
export type AnyModelName = typeof ALL_MODELS[number];

/** Display names of the models (ablation labels "tamrl:<variant>" are built from these). */
export const MODEL_DISPLAY: Record<AnyModelName, string> = {
  trees: "Trees (GBT)",
  lstm: "LSTM",
  ctlstm: "CT-LSTM",
  tamlstm: "TAMLSTM",
  tamrl: "TAM-RL",
  mlp: "MLP",
};
