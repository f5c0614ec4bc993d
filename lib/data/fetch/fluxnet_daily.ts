/**
 * One site of the Zarr store to one FLUXNET2015-layout daily (DD) file: the daily columns, the
 * file name, and finding a site's finished file.
 *
 * @module
 */
import { join } from "node:path";
import { aggregateDaily, type DailySeries, type DailyTable } from "./aggregate.ts";
import { siteOffset } from "./local_time.ts";
import type { FluxnetStore, StoreVariable } from "./zarr_fluxnet.ts";

/** µmol CO2 m-2 s-1 to gC m-2 d-1: 12.011e-6 g per µmol C times 86400 s per day. */
export const UMOL_TO_GC_PER_DAY: number = 12.011e-6 * 86400;

/** A daily column of the DD files and the store variable it comes from. */
export interface DailyColumnSpec {
  column: string;
  variable: StoreVariable;
  kind: "mean" | "qc";
  factor: number;
  decimals: number;
}

/** The columns of the bundled daily files, in their order. */
export const DAILY_COLUMNS: readonly DailyColumnSpec[] = [
  { column: "TA_F", variable: "ta", kind: "mean", factor: 1, decimals: 3 },
  { column: "TA_F_QC", variable: "ta_qc", kind: "qc", factor: 1, decimals: 4 },
  { column: "SW_IN_F", variable: "sw_in", kind: "mean", factor: 1, decimals: 3 },
  { column: "SW_IN_F_QC", variable: "sw_in_qc", kind: "qc", factor: 1, decimals: 4 },
  { column: "VPD_F", variable: "vpd", kind: "mean", factor: 1, decimals: 3 },
  { column: "VPD_F_QC", variable: "vpd_qc", kind: "qc", factor: 1, decimals: 4 },
  { column: "NEE_VUT_REF", variable: "nee", kind: "mean", factor: UMOL_TO_GC_PER_DAY, decimals: 5 },
  { column: "NEE_VUT_REF_QC", variable: "nee_qc", kind: "qc", factor: 1, decimals: 4 },
  {
    column: "GPP_NT_VUT_REF",
    variable: "gpp_nt",
    kind: "mean",
    factor: UMOL_TO_GC_PER_DAY,
    decimals: 5,
  },
  {
    column: "GPP_DT_VUT_REF",
    variable: "gpp_dt",
    kind: "mean",
    factor: UMOL_TO_GC_PER_DAY,
    decimals: 5,
  },
];

/**
 * The daily file name of a site, as the bundled files are named.
 *
 * @example
 * ```ts
 * import { dailyFileName } from "./fluxnet_daily.ts";
 * dailyFileName("FR-Pue", 2000, 2014); // "FLX_FR-Pue_FLUXNET2015_HH2DD_DD_2000-2014.csv"
 * ```
 */
export function dailyFileName(site: string, firstYear: number, lastYear: number): string {
  return `FLX_${site}_FLUXNET2015_HH2DD_DD_${firstYear}-${lastYear}.csv`;
}

const DAILY_NAME = /^FLX_([A-Za-z]{2}-[A-Za-z0-9]{3})_FLUXNET2015_HH2DD_DD_(\d{4})-(\d{4})\.csv$/;

/** Site and years of a daily file name, or null when the name does not match. */
export function parseDailyFileName(
  name: string,
): { site: string; firstYear: number; lastYear: number } | null {
  const m = DAILY_NAME.exec(name);
  return m ? { site: m[1], firstYear: Number(m[2]), lastYear: Number(m[3]) } : null;
}

/**
 * The finished daily files in a folder, by site (files are written atomically, so a file with
 * the final name is complete).
 *
 * @example
 * ```ts
 * import { listDailyFiles } from "./fluxnet_daily.ts";
 * const done = await listDailyFiles("data/fluxnet2015/daily");
 * console.log(done.get("FR-Pue")?.name);
 * ```
 */
export async function listDailyFiles(
  dir: string,
): Promise<Map<string, { name: string; path: string; firstYear: number; lastYear: number }>> {
  const found = new Map<
    string,
    { name: string; path: string; firstYear: number; lastYear: number }
  >();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const parsed = entry.isFile ? parseDailyFileName(entry.name) : null;
      if (parsed) {
        found.set(parsed.site, { name: entry.name, path: join(dir, entry.name), ...parsed });
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

/** The daily result of one site. */
export interface SiteDaily {
  site: string;
  /** null when the site has no day with enough half-hours (or no chunks at all). */
  table: DailyTable | null;
  /** Variables whose chunk is absent from the store. */
  absent: StoreVariable[];
  /** Time zone and offset used (undefined when all chunks are absent). */
  timeZone?: string;
  offsetMinutes?: number;
  lat: number;
  lon: number;
  /** Bytes read from the store. */
  bytes: number;
}

/**
 * Read one site from the store and aggregate it to local-standard-time days.
 *
 * @example
 * ```ts
 * import { openFluxnetStore } from "./zarr_fluxnet.ts";
 * import { siteDaily } from "./fluxnet_daily.ts";
 * const store = await openFluxnetStore("../shared/data/zarr_sample/fluxnet.zarr");
 * const daily = await siteDaily(store, "AU-Lox");
 * console.log(daily.table?.firstYear, daily.timeZone);
 * ```
 */
export async function siteDaily(
  store: FluxnetStore,
  site: string,
  options: { signal?: AbortSignal; minHalfHours?: number } = {},
): Promise<SiteDaily> {
  const index = store.sites.indexOf(site);
  if (index < 0) throw new Error(`site ${site} is not in the store ${store.location}`);
  const series = await store.readSite(index, options);
  const { lat, lon } = await store.readCoordinates(index, options);
  if (series.absent.length === DAILY_COLUMNS.length) {
    return { site, table: null, absent: series.absent, lat, lon, bytes: series.bytes };
  }
  const { timeZone, offsetMinutes } = siteOffset(site, lat, lon);
  const input: DailySeries[] = DAILY_COLUMNS.map((c) => ({
    column: c.column,
    kind: c.kind,
    values: series.values[c.variable],
    factor: c.factor,
    decimals: c.decimals,
  }));
  const table = aggregateDaily(store.timeMinutes, input, {
    offsetMinutes,
    minHalfHours: options.minHalfHours,
  });
  return {
    site,
    table,
    absent: series.absent,
    timeZone,
    offsetMinutes,
    lat,
    lon,
    bytes: series.bytes,
  };
}
