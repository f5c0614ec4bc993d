/**
 * Fetching the project's data from public sources: FLUXNET2015 daily files built from the
 * public Zarr store (or a local copy), MetaFlux monthly CSVs and a sites table.
 *
 * @example
 * ```ts
 * import { fetchFluxnet } from "./mod.ts";
 * const report = await fetchFluxnet({ out: "data", sites: ["FR-Pue"] });
 * console.log(report.ok);
 * ```
 *
 * @module
 */
export { FetchConfigSchema, fetchFluxnet } from "./fetch_fluxnet.ts";
export type { FetchOptions, FetchReport, SiteResult } from "./fetch_fluxnet.ts";
export { aggregateDaily, dailyCsv, dayStamp, formatValue } from "./aggregate.ts";
export type { AggregateOptions, DailySeries, DailyTable } from "./aggregate.ts";
export {
  DAILY_COLUMNS,
  dailyFileName,
  listDailyFiles,
  parseDailyFileName,
  siteDaily,
  UMOL_TO_GC_PER_DAY,
} from "./fluxnet_daily.ts";
export type { DailyColumnSpec, SiteDaily } from "./fluxnet_daily.ts";
export {
  OFFSET_REFERENCE_DATE,
  siteOffset,
  siteTimeZone,
  TIME_ZONE_OVERRIDES,
  utcOffsetMinutes,
} from "./local_time.ts";
export { fetchMetaflux, METAFLUX_FOLDERS, METAFLUX_REPO } from "./metaflux.ts";
export type { MetafluxOptions, MetafluxReport } from "./metaflux.ts";
export {
  attributionNote,
  classesFromMetaflux,
  CLIMATE_TO_KOPPEN,
  countryOf,
  SITE_COLUMNS,
  sitesCsv,
} from "./sites_table.ts";
export type { SiteRow } from "./sites_table.ts";
export {
  CountingStore,
  DenoFileStore,
  isUrl,
  openByteStore,
  StoreUnreachableError,
} from "./store.ts";
export type { ByteStore, OpenStoreOptions, StoreKey, StoreStats } from "./store.ts";
export { removeStaleTemps, writeFileAtomic } from "../atomic.ts";
export {
  decodeCfTime,
  DEFAULT_STORE_URL,
  openFluxnetStore,
  STORE_VARIABLES,
} from "./zarr_fluxnet.ts";
export type { FluxnetStore, SiteSeries, StoreAttributes, StoreVariable } from "./zarr_fluxnet.ts";
