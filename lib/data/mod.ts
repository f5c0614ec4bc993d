/**
 * tamflux data: finding the data folder, loading FLUXNET2015 daily files and the site table,
 * the Parquet cache, and load reports/summaries.
 *
 * @example
 * ```ts
 * import { loadFluxnet, summarize } from "./mod.ts";
 * const { frame, report } = await loadFluxnet();
 * console.log(report.filesRead, summarize(frame).total.toString());
 * ```
 *
 * @module
 */
export * from "./paths.ts";
export * from "./sites.ts";
export * from "./fluxnet.ts";
export * from "./cache.ts";
export * from "./atomic.ts";
export * from "./checksum.ts";
export * from "./ranges.ts";
export * from "./report.ts";
export * from "./random.ts";
export * from "./solar.ts";
export * from "./modis.ts";
export * from "./static.ts";
export * from "./scaler.ts";
export * from "./splits.ts";
export * from "./targets.ts";
export * from "./windows.ts";
export * from "./preprocess.ts";
export * from "./trailing.ts";
export * from "./features.ts";
export * from "./batches.ts";
export * from "./dataset.ts";
export * from "./summary.ts";
export * from "./claims.ts";
