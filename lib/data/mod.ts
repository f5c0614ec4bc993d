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
export * from "./report.ts";
