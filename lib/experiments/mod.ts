/**
 * Experiments: the reproduction plan (profiles, units, shards, the work queue of local workers and
 * its claims), the real unit runners (neural models through lib/train, the trees baseline), the
 * report that merges a run's finished units into tables and figures, and the read-back of a
 * finished run for notebooks (latest run, tables, one site's predictions).
 *
 * Data flows one way: lib/data -> lib/models -> lib/train -> lib/eval -> lib/experiments ->
 * tasks/ and notebooks/. Nothing below this folder imports it.
 *
 * @example
 * ```ts
 * import { buildPlan, ProfileSchema } from "./mod.ts";
 * const units = buildPlan(ProfileSchema.parse({
 *   name: "demo", trainConfig: "configs/quick.json", models: ["lstm", "tamrl"],
 *   splits: ["koppen"], seeds: [0],
 * }));
 * console.log(units.map((u) => u.id)); // ["lstm_koppen_s0", "tamrl_koppen_s0"]
 * ```
 *
 * @module
 */
export * from "./plan.ts";
export * from "./units.ts";
export * from "./trees_unit.ts";
export * from "./report.ts";
export * from "./drilldown.ts";
export * from "./cost.ts";
export * from "./measure.ts";
export * from "./slurm.ts";
export * from "./k8s.ts";
export * from "./compare.ts";
export * from "./claims.ts";
export * from "./workers.ts";
export * from "./cv_epochs.ts";
export * from "./cv_bias.ts";
export * from "./cv_notebook.ts";
export * from "./adapt_curve.ts";
