/**
 * tamflux prediction: zero-shot daily GPP, RECO and NEE at new sites from drivers only, with the
 * spread of a seed ensemble as uncertainty. Inputs are FLUXNET2015-style daily files (TIMESTAMP and
 * the run's drivers; flux columns optional and ignored), a site table and, when the run uses
 * LAI/EVI, monthly MODIS files in the MetaFlux layout.
 *
 * @example
 * ```ts ignore
 * import { useBackend } from "../backend.ts";
 * import { predictSites, writePredictionTable } from "./mod.ts";
 * await useBackend("wasm");
 * const { frame, report } = await predictSites("runs/quick/tamrl", {
 *   data: "new_sites/daily", sites: "new_sites/sites.csv", monthly: "new_sites/monthly",
 * });
 * await writePredictionTable(frame, "results/predict/new_sites.parquet");
 * console.log(report.total);
 * ```
 *
 * @module
 */
export * from "./inputs.ts";
export * from "./encoding.ts";
export * from "./ensemble.ts";
export * from "./groups.ts";
export * from "./tiling.ts";
export * from "./predict.ts";
export * from "./output.ts";
export * from "./ood.ts";
export * from "./adaptation.ts";
export * from "./adapt.ts";
